"""The assessment's policy data (``params.yaml``): dimensions and their weights, indicators with their
scoring lines, the satisfaction rule, the release schedule of the withheld deposit and the appeal clocks.
Every block cites ``sources:``; a bad file raises :class:`AssessParamsError` naming the path inside it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from yibao.errors import FieldError, validation_reason
from yibao.money import MoneyError, parse_ratio

HERE = Path(__file__).parent


class AssessParamsError(FieldError):
    """An assessment file that cannot be used; ``field`` is the path inside the file."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason, "assess_params")


def _ratio(v: object) -> int:
    try:
        return parse_ratio(v, allow_negative=True)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc


Ratio = Annotated[int, BeforeValidator(_ratio)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Source(Strict):
    title: str = Field(min_length=1)
    url: str | None = None
    tag: Literal["V", "T", "M", "X"]
    note: str | None = None


class Dimension(Strict):
    name: str
    name_en: str
    weight: int = Field(ge=0, le=100)
    source: str


class Indicator(Strict):
    dimension: str
    name: str
    name_en: str
    direction: Literal["lower", "higher"]
    full: Ratio
    zero: Ratio
    weight: int = Field(ge=0)
    source: str

    @model_validator(mode="after")
    def _lines(self) -> Indicator:
        if self.direction == "lower" and not self.full < self.zero:
            raise ValueError("“越低越好”指标的满分值须小于零 for 'lower', full must be below zero")
        if self.direction == "higher" and not self.full > self.zero:
            raise ValueError("“越高越好”指标的满分值须大于零 for 'higher', full must be above zero")
        return self


class Origins(Strict):
    source: str
    settlements: list[str]
    previous_year: list[str]
    drg: list[str]
    audit_cases: list[str]
    survey_and_ratings: list[str]
    uploads: list[str] = []
    reconciliations: list[str] = []
    input: list[str]


class Reconciliation(Strict):
    source: str
    counted: list[Literal["3201", "3202"]] = Field(min_length=1)
    period_outcome: Literal["first", "last"]


class DataQuality(Strict):
    source: str
    upload_window_hours: int = Field(ge=1)


class Care(Strict):
    source: str
    outpatient: list[str] = Field(min_length=1)
    inpatient: list[str] = Field(min_length=1)


class Satisfaction(Strict):
    source: str
    satisfied_stars: int = Field(ge=1, le=5)
    min_ratings: int = Field(ge=1)
    survey_weight: Ratio = Field(ge=0, le=10_000)
    coefficient_below: Ratio = Field(ge=0, le=10_000)
    coefficient: Ratio = Field(ge=0, le=10_000)


class Release(Strict):
    source: str
    points: list[tuple[int, Ratio]] = Field(min_length=2)

    @model_validator(mode="after")
    def _rising(self) -> Release:
        xs = [x for x, _ in self.points]
        if xs != sorted(set(xs)):
            raise ValueError("返还节点的得分须逐个升高 release points must have rising scores")
        if any(not 0 <= y <= 10_000 for _, y in self.points):
            raise ValueError("返还比例须在 0 到 1 之间 release shares must be between 0 and 1")
        return self


class Appeal(Strict):
    source: str
    file_within_working_days: int = Field(ge=1)
    decide_within_working_days: int = Field(ge=1)
    readmission_days: int = Field(ge=1)


class AssessParams(Strict):
    format: Literal["yibao.assess/1"]
    sources: dict[str, Source]
    kinds: list[str] = Field(min_length=1)
    kinds_source: str
    dimensions: dict[str, Dimension]
    indicators: dict[str, Indicator]
    origins: Origins
    care: Care
    data_quality: DataQuality
    reconciliation: Reconciliation
    satisfaction: Satisfaction
    release: Release
    appeal: Appeal

    @model_validator(mode="after")
    def _consistent(self) -> AssessParams:
        if sum(d.weight for d in self.dimensions.values()) != 100:
            raise ValueError("各维度权重之和须为 100 dimension weights must add up to 100")
        for k, ind in self.indicators.items():
            if ind.dimension not in self.dimensions:
                raise ValueError(f"指标所属维度不存在 indicator {k!r}: unknown dimension {ind.dimension!r}")
        for d in self.dimensions:
            if not any(i.dimension == d for i in self.indicators.values()):
                raise ValueError(f"维度下没有指标 dimension {d!r} has no indicator")
        listed = [
            *self.origins.settlements,
            *self.origins.previous_year,
            *self.origins.drg,
            *self.origins.audit_cases,
            *self.origins.survey_and_ratings,
            *self.origins.uploads,
            *self.origins.reconciliations,
            *self.origins.input,
        ]
        for k in listed:
            if k not in self.indicators:
                raise ValueError(f"数据来源中的指标不存在 origins: unknown indicator {k!r}")
        missing = [k for k in self.indicators if k not in listed]
        if missing:
            raise ValueError(f"缺少指标的数据来源 origins: no origin for {missing[0]!r}")
        return self

    def source_title(self, key: str) -> str:
        s = self.sources.get(key)
        return s.title if s else key


def _check_sources(data: dict[str, Any]) -> None:
    keys = set((data.get("sources") or {}).keys())

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                p = f"{path}.{k}" if path else str(k)
                if k in ("source", "kinds_source") and isinstance(v, str) and v not in keys:
                    raise AssessParamsError(
                        p, f"来源 {v!r} 未在 sources 中列出 source {v!r} is not a key of 'sources'"
                    )
                if k != "sources":
                    walk(v, p)
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")

    walk(data, "")


def parse_params(data: Any, name: str = "params.yaml") -> AssessParams:
    """Validate an assessment file's content."""
    if not isinstance(data, dict):
        raise AssessParamsError(name, "不是 YAML 映射 is not a YAML mapping")
    _check_sources(data)
    try:
        return AssessParams.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise AssessParamsError(f"{name}:{loc}" if loc else name, validation_reason(err)) from exc


@lru_cache(maxsize=4)
def load_params(path: Path = HERE / "params.yaml") -> AssessParams:
    """The shipped (or a bureau's) assessment rules."""
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f)
    except FileNotFoundError as exc:
        raise AssessParamsError(str(path), "文件不存在 file not found") from exc
    return parse_params(data, path.name)
