"""What a hospital does in its day, decided in advance from a seed (pure and deterministic).

The plan fixes which person comes, which items are charged in which batches, and which visits get a
correction, a cancellation, a reversal after a timeout; the driver then plays it against a server.
Same seed, same hospital index, same inputs → the same plan.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from hissim.scenario.books import line_amount
from hissim.scenario.data import Item


@dataclass(frozen=True)
class Rates:
    """How often each exception happens (fractions of visits or stays)."""

    outpatient_correction: float = 0.10  # a wrong batch uploaded, then cancelled with 2205
    outpatient_cancel: float = 0.05  # a settlement cancelled with 2208
    register_cancel: float = 0.03  # registered, then 2202 before any charge
    pharmacy: float = 0.20  # drugs only (med_type of the pharmacy counter)
    use_account: float = 0.5  # acct_used_flag 1
    inpatient_share: float = 0.05  # stays per visit
    inpatient_correction: float = 0.5  # a 2302 line cancellation during the stay
    admit_cancel: float = 0.1  # 2404 right after 2401
    discharge_cancel: float = 0.2  # 2405, a late charge, discharge again
    settle_cancel: float = 0.1  # 2305
    reversals: int = 1  # outpatient 2207 answers treated as lost, followed by 2601


@dataclass(frozen=True)
class PlannedLine:
    """A fee line to upload: which item, how many, at what price; day offset for inpatient lines."""

    n: int  # 1-based number within the visit (feedetl_sn suffix)
    item: int  # index into the catalogue
    cnt: Decimal
    pric: Decimal
    day: int = 0  # inpatient: day of the stay (0 = admission day)

    @property
    def amount(self) -> Decimal:
        """det_item_fee_sumamt of the line."""
        return line_amount(self.cnt, self.pric)


@dataclass(frozen=True)
class OutpatientVisit:
    """One outpatient or pharmacy visit."""

    seq: int
    person: int  # index into the hospital's persons
    credential: int  # which of the person's credentials to present
    pharmacy: bool
    batches: tuple[tuple[PlannedLine, ...], ...]  # 2204 calls sharing the settled chrg_bchno
    wrong_batch: tuple[PlannedLine, ...] = ()  # uploaded under its own chrg_bchno, then 2205
    register_cancel: bool = False
    cancel_settlement: bool = False
    reverse_after_timeout: bool = False
    use_account: bool = False
    diagnosis: int = 0

    def settled_lines(self) -> tuple[PlannedLine, ...]:
        """The lines of the settled batch."""
        return tuple(ln for b in self.batches for ln in b)


@dataclass(frozen=True)
class InpatientStay:
    """One inpatient stay, admitted ``days`` before the business day and discharged on it."""

    seq: int
    person: int
    credential: int
    days: int
    uploads: tuple[tuple[PlannedLine, ...], ...]  # one 2301 call per day
    correction: int = 0  # line number cancelled with 2302 (0 = none)
    late_line: PlannedLine | None = None  # charged after a 2405 discharge cancellation
    admit_cancel: bool = False
    discharge_cancel: bool = False
    settle_cancel: bool = False
    use_account: bool = False
    diagnosis: int = 0

    def live_lines(self) -> tuple[PlannedLine, ...]:
        """The lines that remain for settlement (correction removed, late line added)."""
        lines = [ln for day in self.uploads for ln in day if ln.n != self.correction]
        if self.late_line is not None:
            lines.append(self.late_line)
        return tuple(lines)


@dataclass(frozen=True)
class HospitalPlan:
    """The whole day of one hospital."""

    index: int
    outpatients: tuple[OutpatientVisit, ...]
    inpatients: tuple[InpatientStay, ...]


def _quantity(rng: random.Random, item: Item) -> Decimal:
    whole = rng.randint(1, max(1, item.max_cnt))
    if item.unit_scale and rng.random() < 0.3:
        return Decimal(whole) - Decimal("0.5")
    return Decimal(whole)


def _pick(rng: random.Random, items: Sequence[Item], kinds: set[str]) -> int:
    pool = [i for i, it in enumerate(items) if it.kind in kinds] or list(range(len(items)))
    return rng.choice(pool)


def _lines(
    rng: random.Random, items: Sequence[Item], kinds: set[str], count: int, start: int, day: int = 0
) -> tuple[PlannedLine, ...]:
    out = []
    for k in range(count):
        i = _pick(rng, items, kinds)
        out.append(PlannedLine(start + k, i, _quantity(rng, items[i]), items[i].pric, day))
    return tuple(out)


def make_plan(
    seed: int,
    hospital: int,
    visits: int,
    persons: int,
    items: Sequence[Item],
    credentials: Sequence[int],
    rates: Rates = Rates(),
    diagnoses: int = 1,
) -> HospitalPlan:
    """The deterministic plan of hospital ``hospital`` for ``visits`` outpatient visits.

    ``credentials[p]`` is how many credentials person ``p`` carries (the visit picks one of them).
    Stays: ``round(visits × inpatient_share)``, at least one when visits ≥ 1.
    """
    if persons < 1 or not items:
        raise ValueError("需要人员与目录 persons and catalogue items are required")
    rng = random.Random(f"hissim:{seed}:{hospital}")
    reverse_at = set(rng.sample(range(visits), min(rates.reversals, visits))) if visits else set()
    out: list[OutpatientVisit] = []
    for seq in range(visits):
        person = rng.randrange(persons)
        pharmacy = rng.random() < rates.pharmacy
        kinds = {"drug"} if pharmacy else {"drug", "service", "exam", "material"}
        n = 1
        wrong: tuple[PlannedLine, ...] = ()
        if seq not in reverse_at and rng.random() < rates.outpatient_correction:
            wrong = _lines(rng, items, kinds, rng.randint(1, 2), n)
            n += len(wrong)
        batches = []
        for _ in range(rng.randint(1, 3)):
            b = _lines(rng, items, kinds, rng.randint(1, 4), n)
            n += len(b)
            batches.append(b)
        register_cancel = seq not in reverse_at and not wrong and rng.random() < rates.register_cancel
        out.append(
            OutpatientVisit(
                seq=seq,
                person=person,
                credential=rng.randrange(max(1, credentials[person])),
                pharmacy=pharmacy,
                batches=tuple(batches),
                wrong_batch=wrong,
                register_cancel=register_cancel,
                cancel_settlement=not register_cancel and rng.random() < rates.outpatient_cancel,
                reverse_after_timeout=seq in reverse_at,
                use_account=rng.random() < rates.use_account,
                diagnosis=rng.randrange(diagnoses),
            )
        )
    stays: list[InpatientStay] = []
    n_stays = max(1, round(visits * rates.inpatient_share)) if visits else 0
    for seq in range(n_stays):
        person = rng.randrange(persons)
        days = rng.randint(2, 6)
        uploads = []
        n = 1
        for day in range(days):
            kinds = {"bed", "service", "drug", "material", "exam"}
            batch = _lines(rng, items, kinds, rng.randint(2, 5), n, day)
            n += len(batch)
            uploads.append(batch)
        correction = rng.randint(1, len(uploads[0])) if rng.random() < rates.inpatient_correction else 0
        discharge_cancel = rng.random() < rates.discharge_cancel
        late = _lines(rng, items, {"drug"}, 1, n, days - 1)[0] if discharge_cancel else None
        stays.append(
            InpatientStay(
                seq=seq,
                person=person,
                credential=rng.randrange(max(1, credentials[person])),
                days=days,
                uploads=tuple(uploads),
                correction=correction,
                late_line=late,
                admit_cancel=rng.random() < rates.admit_cancel,
                discharge_cancel=discharge_cancel,
                settle_cancel=rng.random() < rates.settle_cancel,
                use_account=rng.random() < rates.use_account,
                diagnosis=rng.randrange(diagnoses),
            )
        )
    return HospitalPlan(hospital, tuple(out), tuple(stays))
