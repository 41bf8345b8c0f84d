"""Pick and cache the compiled policy version in force on a date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from yibao.errors import FieldError
from yibao.policy.compiled import CompiledPolicy, compile_version
from yibao.policy.loader import LoadedRegion, load_region


class NoPolicyVersion(FieldError):
    """No version of the region's policy is in force on the date asked for."""


class PolicyBook:
    """A region's versions, compiled on first use.  The version is chosen by the visit's begin date
    (admission date for a stay), and so is the accumulator year — or by the discharge date where the
    region file says ``settlement_date: {basis: discharge}`` (:meth:`settlement_day`)."""

    def __init__(self, loaded: LoadedRegion) -> None:
        self.loaded = loaded
        self._cache: dict[str, CompiledPolicy] = {}

    @classmethod
    def from_file(cls, path: str | Path) -> PolicyBook:
        return cls(load_region(path))

    @property
    def admdvs(self) -> str:
        return self.loaded.region.region.admdvs

    @property
    def by_discharge(self) -> bool:
        """The region takes a stay's version and accumulator year from the discharge date."""
        return self.loaded.region.settlement_date.basis == "discharge"

    def settlement_day(self, begin: dt.date, end: dt.date) -> dt.date:
        """The date that picks the policy version and the accumulator year of a visit from ``begin`` to
        ``end``: the admission date, or the discharge date where the region says so."""
        return end if self.by_discharge else begin

    def for_date(self, day: dt.date, field: str = "visit.begin_date") -> CompiledPolicy:
        version = self.loaded.version_for(day)
        if version is None:
            spans = ", ".join(f"{v.effective_from}…{v.effective_to}" for v in self.loaded.region.versions)
            raise NoPolicyVersion(
                field,
                f"{day} 不在统筹区 {self.admdvs} 任何政策版本的有效期内（{spans}） "
                f"{day} is outside every policy version of region {self.admdvs} ({spans})",
                "no_policy",
            )
        compiled = self._cache.get(version.id)
        if compiled is None:
            compiled = self._cache[version.id] = compile_version(self.loaded, version)
        return compiled
