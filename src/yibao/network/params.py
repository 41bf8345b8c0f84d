"""Policy data of the service-network analysis (``params.yaml``): tiers with their travel-time lines,
travel speeds and the detour factor, how many sites to suggest.  Every block cites ``sources:``."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from yibao.errors import FieldError, validation_reason

HERE = Path(__file__).parent


class NetworkParamsError(FieldError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason, "network_params")


def _dec(v: object) -> Decimal:
    if isinstance(v, float | bool):
        raise ValueError(f"须写成带引号的小数 write {v!r} as a quoted decimal")
    return Decimal(str(v))


Dec = Annotated[Decimal, BeforeValidator(_dec)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    title: str
    url: str | None = None
    tag: Literal["V", "T", "M", "X"]
    note: str | None = None


class Tier(Strict):
    name: str
    name_en: str
    kinds: list[str] = Field(min_length=1)
    levels: list[str] = Field(min_length=1)
    minutes: int = Field(ge=1, le=600)
    source: str


class Travel(Strict):
    source: str
    speed_kmh_urban: Dec
    speed_kmh_rural: Dec
    detour: Dec


class Suggest(Strict):
    source: str
    sites: int = Field(ge=0, le=100)
    candidates: int = Field(ge=10, le=100_000)


class NetworkParams(Strict):
    format: Literal["yibao.network/1"]
    sources: dict[str, Source]
    tiers: dict[str, Tier] = Field(min_length=1)
    travel: Travel
    suggest: Suggest

    def title(self, key: str) -> str:
        s = self.sources.get(key)
        return s.title if s else key


def parse_params(data: Any, name: str = "params.yaml") -> NetworkParams:
    if not isinstance(data, dict):
        raise NetworkParamsError(name, "不是 YAML 映射 is not a YAML mapping")
    keys = set((data.get("sources") or {}).keys())
    for where, block in [("travel", data.get("travel")), ("suggest", data.get("suggest"))] + [
        (f"tiers.{k}", v) for k, v in (data.get("tiers") or {}).items()
    ]:
        if isinstance(block, dict) and block.get("source") not in keys:
            raise NetworkParamsError(
                f"{where}.source", f"来源 {block.get('source')!r} 未在 sources 中列出 not a key of 'sources'"
            )
    try:
        return NetworkParams.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise NetworkParamsError(f"{name}:{loc}", validation_reason(err)) from exc


@lru_cache(maxsize=4)
def load_params(path: Path = HERE / "params.yaml") -> NetworkParams:
    with open(path, encoding="utf-8") as f:
        return parse_params(yaml.safe_load(f), path.name)
