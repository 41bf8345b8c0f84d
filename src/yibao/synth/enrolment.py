"""Enrolment histories and contributions for the synthetic region (``yibao.synth.enrolment``).

From the persons the generator made (``persons.parquet``) this writes, next to them:

* ``enrol_persons.parquet`` — the registry (name, ID, gender, birth date, district, household, identities);
* ``employers.parquet`` — the region's employers (参保单位);
* ``enrol_events.parquet`` — relation histories (参保登记, 关系转入/转出, 暂停, 死亡 …);
* ``resident_premiums.parquet`` — residents' annual premiums (and 缴费修复 repairs) since ``year − 5``;
* ``employee_contributions.parquet`` — employees' monthly contributions since ``year − 1`` (with arrears and
  back payments) and retirees' lump sums (一次性补缴);
* ``enrolment.json`` — row counts and how many persons each scenario touched;

and :func:`write_collection_file` writes a tax-authority collection file of any size (for the import benchmark).

The scenarios (shares are modelling assumptions, docs/ENROLMENT.md §7): continuous residents; first-time
late enrolment; lapses of 1–3 years with re-enrolment (some repaired); late and extension-period payment;
unpaid year; transfers in and out; newborns inside and outside the window; employers in arrears (paid back
later or not); employees leaving; retirees with contribution years short (some paying up); deaths.
Every draw comes from this module's own stream (``SeedSequence([seed, ENROL_STREAM])``), so the persons,
visits and lines of the generator are unchanged by it.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from yibao.enrolment.contributions import base_bounds
from yibao.enrolment.model import EMPLOYEE, RESIDENT
from yibao.enrolment.policy import EnrolmentPolicy, policy_for_region
from yibao.errors import FieldError
from yibao.money import apply_ratio
from yibao.policy.loader import LoadedRegion
from yibao.synth.arrowutil import digits, fixed_strings, prefixed_digits

ENROL_STREAM = 0x454E524F4C  # "ENROL": this module's own child of the seed
HISTORY_YEARS = 5  # residents' premiums from year − 5 (continuity incentives need more than 4 years)
I64 = npt.NDArray[np.int64]
EPOCH = dt.date(1970, 1, 1)
OTHER_REGIONS = ("610400", "610300", "610600", "140100", "410100", "510100")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鑫斌宇浩凯健俊帆帅旭宁龙林欣悦琳晨辰宏志国建文"
)


class EnrolmentScenarios(BaseModel):
    """How the synthetic region's population enrols: the shares of each scenario (modelling assumptions of
    the generator, not policy figures; the rules that judge them come from the region's enrolment file).
    Residents draw one scenario each, in this order, from the cumulative shares; the rest transfer out.
    Every share is a probability in [0, 1]; ``yibao synth generate --enrolment FILE`` reads them from YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    continuous: float = Field(0.84, ge=0, le=1, description="residents insured continuously since year − 5")
    late_first: float = Field(
        0.04, ge=0, le=1, description="first enrolment late in the year (waiting period)"
    )
    lapsed: float = Field(0.04, ge=0, le=1, description="a lapse of 1–3 years, then re-enrolment")
    late_payment: float = Field(0.025, ge=0, le=1, description="continuous, but the year paid late")
    extended_payment: float = Field(0.015, ge=0, le=1, description="paid in the extension period")
    unpaid_year: float = Field(0.02, ge=0, le=1, description="the year not paid")
    transfer_in: float = Field(0.01, ge=0, le=1, description="relation transferred in during the year")
    lapse_late: float = Field(0.4, ge=0, le=1, description="of the lapsed: re-enrolled late in the year")
    lapse_repaired: float = Field(0.3, ge=0, le=1, description="of the lapsed: one lapsed year repaired")
    newborn_late: float = Field(0.15, ge=0, le=1, description="newborns enrolled after the window")
    employee_transfer_in: float = Field(0.01, ge=0, le=1, description="employees transferred in last year")
    employee_leave: float = Field(0.02, ge=0, le=1, description="employees leaving during the year")
    employer_arrears: float = Field(0.04, ge=0, le=1, description="employers paying 1–3 months late")
    employer_never_pays: float = Field(0.4, ge=0, le=1, description="of those: never paying them")
    retiree_short: float = Field(0.04, ge=0, le=1, description="retirees short of contribution years")
    retiree_pays_up: float = Field(0.5, ge=0, le=1, description="of those: paying up during the year")
    death_75: float = Field(0.025, ge=0, le=1, description="yearly death rate at 75 and over")
    death_60: float = Field(0.008, ge=0, le=1, description="yearly death rate at 60–74")
    death_young: float = Field(0.001, ge=0, le=1, description="yearly death rate under 60")

    @model_validator(mode="after")
    def _shares(self) -> EnrolmentScenarios:
        total = (
            self.continuous + self.late_first + self.lapsed + self.late_payment + self.extended_payment
            + self.unpaid_year + self.transfer_in
        )  # fmt: skip
        if total > 1 + 1e-9:
            raise ValueError(f"居民参保情形占比之和超过 1 resident scenario shares add up to {total:.4f} > 1")
        return self

    def cumulative(self) -> list[float]:
        out, acc = [], 0.0
        for x in (self.continuous, self.late_first, self.lapsed, self.late_payment, self.extended_payment,
                  self.unpaid_year, self.transfer_in):  # fmt: skip
            acc = round(acc + x, 12)
            out.append(acc)
        return out


DEFAULT_SCENARIOS = EnrolmentScenarios()


def load_scenarios(path: str | Path) -> EnrolmentScenarios:
    """Scenario shares from a YAML file (unknown keys and shares outside [0, 1] refused, naming the key)."""
    import yaml

    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    try:
        return EnrolmentScenarios.model_validate(raw)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"]) or "file"
        raise FieldError(
            f"enrolment.{where}", f"参保情景参数错误 invalid scenario share: {e['msg']}"
        ) from None


EVENT_SCHEMA: dict[str, Any] = {
    "psn_no": pl.String,
    "seq": pl.Int32,
    "day": pl.Date,
    "kind": pl.String,
    "insutype": pl.String,
    "psn_type": pl.String,
    "emp_no": pl.String,
    "household_no": pl.String,
    "other_admdvs": pl.String,
    "months_carried": pl.Int32,
    "years_carried": pl.Int32,
    "insured_until": pl.Date,
    "reason": pl.String,
}
PREMIUM_SCHEMA: dict[str, Any] = {
    "psn_no": pl.String,
    "year": pl.Int32,
    "kind": pl.String,
    "paid_on": pl.Date,
    "individual_fen": pl.Int64,
    "assistance_fen": pl.Int64,
    "subsidy_fen": pl.Int64,
    "identity": pl.String,
}
CONTRIBUTION_SCHEMA: dict[str, Any] = {
    "psn_no": pl.String,
    "month": pl.String,
    "kind": pl.String,
    "emp_no": pl.String,
    "base_fen": pl.Int64,
    "employer_fen": pl.Int64,
    "individual_fen": pl.Int64,
    "account_fen": pl.Int64,
    "months": pl.Int32,
    "paid_on": pl.Date,
}


@dataclass
class EnrolmentManifest:
    year: int
    seed: int
    policy_file: str
    rows: dict[str, int]
    scenarios: dict[str, int]
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2)


def _days(d: dt.date) -> int:
    return (d - EPOCH).days


def _year_of(days: I64) -> I64:
    y: I64 = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    return y


def _dates(days: I64) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date)


class _Events:
    """Columns of event rows collected scenario by scenario (positions index into the persons)."""

    def __init__(self) -> None:
        self.parts: list[dict[str, Any]] = []

    def add(
        self,
        who: I64,
        day: I64,
        kind: str,
        insutype: str | npt.NDArray[Any],
        psn_type: npt.NDArray[Any],
        order: int,
        *,
        emp_no: npt.NDArray[Any] | None = None,
        other: npt.NDArray[Any] | None = None,
        months: I64 | None = None,
        years: I64 | None = None,
        until: I64 | None = None,
        reason: str = "",
    ) -> None:
        n = len(who)
        if n == 0:
            return
        self.parts.append(
            {
                "who": who,
                "day": day,
                "order": np.full(n, order),
                "kind": np.full(n, kind, dtype=object),
                "insutype": np.full(n, insutype, dtype=object) if isinstance(insutype, str) else insutype,
                "psn_type": psn_type,
                "emp_no": emp_no if emp_no is not None else np.full(n, "", dtype=object),
                "other_admdvs": other if other is not None else np.full(n, "", dtype=object),
                "months_carried": months if months is not None else np.zeros(n, dtype=np.int64),
                "years_carried": years if years is not None else np.zeros(n, dtype=np.int64),
                "until": until if until is not None else np.full(n, -(10**9), dtype=np.int64),
                "reason": np.full(n, reason, dtype=object),
            }
        )

    def frame(self, psn_no: npt.NDArray[Any], household: npt.NDArray[Any]) -> pl.DataFrame:
        if not self.parts:
            return pl.DataFrame(schema=EVENT_SCHEMA)
        cat = {k: np.concatenate([p[k] for p in self.parts]) for k in self.parts[0]}
        until = cat["until"]
        df = pl.DataFrame(
            {
                "who": cat["who"],
                "order": cat["order"],
                "psn_no": psn_no[cat["who"]],
                "day": _dates(cat["day"]),
                "kind": cat["kind"].astype(str),
                "insutype": cat["insutype"].astype(str),
                "psn_type": cat["psn_type"].astype(str),
                "emp_no": cat["emp_no"].astype(str),
                "household_no": np.where(cat["insutype"] == RESIDENT, household[cat["who"]], "").astype(str),
                "other_admdvs": cat["other_admdvs"].astype(str),
                "months_carried": cat["months_carried"].astype(np.int32),
                "years_carried": cat["years_carried"].astype(np.int32),
                "insured_until": _dates(np.where(until < -(10**8), 0, until)),
                "reason": cat["reason"].astype(str),
            }
        ).with_columns(
            pl.when(pl.Series(until < -(10**8)))
            .then(None)
            .otherwise(pl.col("insured_until"))
            .alias("insured_until")
        )
        df = df.sort(["who", "day", "order"])
        return df.with_columns((pl.int_range(pl.len()).over("who") + 1).cast(pl.Int32).alias("seq")).select(
            list(EVENT_SCHEMA)
        )


def generate_enrolment(
    persons: pl.DataFrame,
    policy: EnrolmentPolicy,
    year: int,
    rng: np.random.Generator,
    scenarios: EnrolmentScenarios = DEFAULT_SCENARIOS,
) -> tuple[dict[str, pl.DataFrame], dict[str, int]]:
    """The enrolment tables for ``persons`` (the generator's persons frame) and the scenario counts."""
    sc = scenarios
    y = year
    n = persons.height
    psn_no = persons["psn_no"].to_numpy().astype(object)
    ins = persons["insutype"].to_numpy().astype(str)
    ptype = persons["psn_type"].to_numpy().astype(object)
    age = persons["age"].to_numpy().astype(np.int64)
    female = persons["gender"].to_numpy().astype(str) == "F"
    birth = persons["birth_date"].cast(pl.Int32).to_numpy().astype(np.int64)
    birth_year = persons["birth_date"].dt.year().to_numpy().astype(np.int64)
    idents = persons["identities"].fill_null("").to_numpy().astype(str)
    household = np.char.add("H", persons["household_id"].cast(pl.String).to_numpy().astype(str)).astype(
        object
    )
    retired_types = policy.retired_types
    is_res = ins == RESIDENT
    is_emp = (ins == EMPLOYEE) & ~np.isin(ptype.astype(str), list(retired_types))
    is_ret = (ins == EMPLOYEE) & np.isin(ptype.astype(str), list(retired_types))
    ev = _Events()
    counts: dict[str, int] = {}
    prem: list[pl.DataFrame] = []
    contrib: list[pl.DataFrame] = []

    def rand_days(lo: I64 | int, hi: I64 | int, k: int) -> I64:
        lo_a = np.broadcast_to(np.asarray(lo, dtype=np.int64), (k,))
        hi_a = np.broadcast_to(np.asarray(hi, dtype=np.int64), (k,))
        return lo_a + (rng.random(k) * (hi_a - lo_a + 1)).astype(np.int64)

    def period(year_: int) -> tuple[int, int, int]:
        ry = policy.resident_year(year_)
        if ry is None:
            return (
                _days(dt.date(year_ - 1, 9, 1)),
                _days(dt.date(year_ - 1, 12, 31)),
                _days(dt.date(year_, 2, 28)),
            )
        c = ry.collection
        return _days(c.opens), _days(c.closes), _days(c.extended_to or c.closes)

    def premiums(who: I64, year_: int, paid: I64, kind: str = "annual") -> None:
        if len(who) == 0:
            return
        ry = policy.resident_year(year_)
        if ry is None:
            return
        code = idents[who]
        uniq, inv = np.unique(code, return_inverse=True)
        share = np.array([policy.assistance_share({c})[0] if c else 0 for c in uniq], dtype=np.int64)[inv]
        assist = apply_ratio(np.full(len(who), ry.individual_fen, dtype=np.int64), share)
        prem.append(
            pl.DataFrame(
                {
                    "psn_no": psn_no[who].astype(str),
                    "year": np.full(len(who), year_, dtype=np.int32),
                    "kind": np.full(len(who), kind),
                    "paid_on": _dates(paid),
                    "individual_fen": ry.individual_fen - assist,
                    "assistance_fen": assist,
                    "subsidy_fen": np.full(
                        len(who), ry.fiscal_subsidy_fen if kind == "annual" else 0, dtype=np.int64
                    ),
                    "identity": np.where(assist > 0, code, ""),
                },
                schema=PREMIUM_SCHEMA,
            )
        )

    # ------------------------------------------------------------------ residents
    res = np.flatnonzero(is_res)
    u = rng.random(len(res))
    young = birth_year[res] > y - HISTORY_YEARS  # born inside the history: enrolled as a newborn
    scen = np.select(
        [u < c for c in sc.cumulative()],
        [
            "continuous",
            "late_first",
            "lapsed",
            "late_payment",
            "extended_payment",
            "unpaid_year",
            "transfer_in",
        ],
        "transfer_out",
    ).astype(object)
    scen[young & np.isin(scen, ["late_first", "lapsed", "transfer_in", "transfer_out"])] = "continuous"
    scen[(age[res] < 18) & (scen == "late_first")] = "continuous"
    first = np.where(young, birth_year[res], y - HISTORY_YEARS)
    # newborns: enrolled within the window (85 %) or late
    nb_late = young & (rng.random(len(res)) < sc.newborn_late)
    window = policy.newborn_window_days
    enrol_day = np.zeros(len(res), dtype=np.int64)
    for fy in np.unique(first):
        m = first == fy
        o, c, _ = period(int(fy))
        enrol_day[m] = rand_days(o, c, int(m.sum()))
    nb = np.flatnonzero(young)
    enrol_day[nb] = birth[res][nb] + np.where(
        nb_late[nb],
        rng.integers(window + 10, window + 160, len(nb)),
        rng.integers(3, max(window - 5, 4), len(nb)),
    )
    # a newborn enrolled late pays its birth year if still in it, else starts with the next year
    nb_year = np.where(young, _year_of(enrol_day), first)
    first = np.where(young & (nb_year > first), nb_year, first)
    counts["resident_newborn_in_window"] = int((young & ~nb_late).sum())
    counts["resident_newborn_late"] = int((young & nb_late).sum())
    late_first = scen == "late_first"
    enrol_day[late_first] = rand_days(
        _days(dt.date(y, 3, 1)), _days(dt.date(y, 10, 31)), int(late_first.sum())
    )
    first[late_first] = y
    tin = scen == "transfer_in"
    t_day = rand_days(_days(dt.date(y, 2, 1)), _days(dt.date(y, 9, 30)), len(res))
    for s in ("continuous", "lapsed", "late_payment", "extended_payment", "unpaid_year", "transfer_out"):
        counts[f"resident_{s}"] = int((scen == s).sum())
    counts["resident_late_first"] = int(late_first.sum())
    counts["resident_transfer_in"] = int(tin.sum())
    res_type = np.where(
        age[res] < policy.child_below_age,
        policy.resident_type_child,
        np.where(
            age[res] >= policy.elderly_from_age, policy.resident_type_elderly, policy.resident_type_adult
        ),
    ).astype(object)
    # the registered type is the one at enrolment: children enrolled years ago were children then too
    normal = ~tin
    ev.add(res[normal], enrol_day[normal], "enrol", RESIDENT, res_type[normal], 0, reason="参保登记")
    other = np.array(OTHER_REGIONS, dtype=object)[rng.integers(0, len(OTHER_REGIONS), len(res))]
    ev.add(
        res[tin],
        t_day[tin],
        "transfer_in",
        RESIDENT,
        res_type[tin],
        0,
        other=other[tin],
        years=rng.integers(1, 9, int(tin.sum())),
        until=np.full(int(tin.sum()), _days(dt.date(y, 12, 31))),
        reason="关系转移接续",
    )
    lapse = np.where(scen == "lapsed", rng.integers(1, 4, len(res)), 0)
    lapse_late = (scen == "lapsed") & (rng.random(len(res)) < sc.lapse_late)
    repaired = (scen == "lapsed") & (rng.random(len(res)) < sc.lapse_repaired)
    counts["resident_lapsed_repaired"] = int(repaired.sum())
    y_paid = np.zeros(len(res), dtype=np.int64)
    for yr in range(y - HISTORY_YEARS, y + 1):
        o, c, ext = period(yr)
        active = (first <= yr) & ~tin
        if yr == y:
            active &= scen != "unpaid_year"
        active &= ~((scen == "lapsed") & (yr >= y - lapse) & (yr < y))
        who = np.flatnonzero(active)
        at_enrol = first[who] == yr
        paid = np.where(at_enrol, enrol_day[who], rand_days(o, c, len(who)))
        if yr == y:
            scy = np.where(at_enrol, "", scen[who])
            k = len(who)
            paid = np.where(
                scy == "late_payment", rand_days(_days(dt.date(y, 3, 1)), _days(dt.date(y, 6, 30)), k), paid
            )
            paid = np.where(scy == "extended_payment", rand_days(c + 2, ext - 1, k), paid)
            lap = lapse_late[who] & ~at_enrol
            paid = np.where(lap, rand_days(_days(dt.date(y, 3, 1)), _days(dt.date(y, 9, 30)), k), paid)
            y_paid[who] = paid
        premiums(res[who], yr, paid)
    rep = np.flatnonzero(repaired)
    premiums(res[rep], y - 1, y_paid[rep], kind="repair")
    tout = np.flatnonzero(scen == "transfer_out")
    out_day = rand_days(_days(dt.date(y, 3, 1)), _days(dt.date(y, 11, 30)), len(tout))
    ev.add(
        res[tout], out_day, "transfer_out", RESIDENT, res_type[tout], 5, other=other[tout], reason="关系转出"
    )

    # ------------------------------------------------------------------ employers and employees in service
    emp = np.flatnonzero(is_emp)
    n_employers = max(1, len(emp) // 30)
    districts = persons["district"].to_numpy().astype(object)
    emp_of = rng.integers(0, n_employers, len(emp))
    emp_codes = np.array([f"E{6101_0000_0000 + i:012d}" for i in range(n_employers)], dtype=object)
    emp_district = np.full(n_employers, "", dtype=object)
    firsts, at = np.unique(emp_of, return_index=True)
    emp_district[firsts] = districts[emp[at]]
    employers = pl.DataFrame(
        {
            "emp_no": emp_codes.astype(str),
            "name": [f"合成单位{i + 1:05d}有限公司" for i in range(n_employers)],
            "district": emp_district.astype(str),
        }
    )
    start_day = np.full(len(emp), _days(dt.date(y - 1, 1, 1)))
    e_in = rng.random(len(emp)) < sc.employee_transfer_in
    start_day[e_in] = rand_days(_days(dt.date(y - 1, 2, 1)), _days(dt.date(y - 1, 11, 30)), int(e_in.sum()))
    e_codes = emp_codes[emp_of]
    ev.add(
        emp[~e_in],
        start_day[~e_in],
        "enrol",
        EMPLOYEE,
        ptype[emp[~e_in]],
        0,
        emp_no=e_codes[~e_in],
        months=rng.integers(0, 300, int((~e_in).sum())),
        reason="参保登记",
    )
    ev.add(
        emp[e_in],
        start_day[e_in],
        "transfer_in",
        EMPLOYEE,
        ptype[emp[e_in]],
        0,
        emp_no=e_codes[e_in],
        other=np.array(OTHER_REGIONS, dtype=object)[rng.integers(0, len(OTHER_REGIONS), int(e_in.sum()))],
        months=rng.integers(12, 200, int(e_in.sum())),
        until=start_day[e_in] - rng.integers(1, 60, int(e_in.sum())),
        reason="关系转移接续",
    )
    counts["employee_transfer_in"] = int(e_in.sum())
    leave = rng.random(len(emp)) < sc.employee_leave
    leave_month = rng.integers(3, 12, len(emp))
    lv = np.flatnonzero(leave)
    ev.add(
        emp[lv],
        np.array([_days(dt.date(y, int(m), 1)) for m in leave_month[lv]], dtype=np.int64),
        "suspend",
        EMPLOYEE,
        ptype[emp[lv]],
        5,
        emp_no=e_codes[lv],
        reason="减员",
    )
    counts["employee_left"] = int(leave.sum())
    # arrears: some employers pay months late (back payment) or not at all
    bad_emp = rng.random(n_employers) < sc.employer_arrears
    late_from = rng.integers(2, 11, n_employers)
    late_len = rng.integers(1, 4, n_employers)
    never = rng.random(n_employers) < sc.employer_never_pays
    counts["employers_in_arrears"] = int(bad_emp.sum())
    wage = np.exp(rng.normal(np.log(7_000), 0.45, len(emp))) * 100
    wage_fen = np.round(wage).astype(np.int64)
    months_all = [(y - 1, m) for m in range(1, 13)] + [(y, m) for m in range(1, 13)]
    for yy, mm in months_all:
        first_day = _days(dt.date(yy, mm, 1))
        active = start_day <= first_day + 27
        if yy == y:
            active &= ~(leave & (mm >= leave_month))
        who = np.flatnonzero(active)
        if len(who) == 0:
            continue
        floor, ceiling = base_bounds(yy, policy)
        base = np.clip(wage_fen[who], floor, ceiling)
        employer = apply_ratio(base, policy.employer_rate)
        individual = apply_ratio(base, policy.individual_rate)
        account = apply_ratio(individual, policy.account_share_of_individual)
        nxt = dt.date(yy + (mm == 12), mm % 12 + 1, 1)
        paid = np.full(len(who), _days(dt.date(yy, mm, 15))) + rng.integers(0, 20, len(who))
        eo = emp_of[who]
        late = bad_emp[eo] & (yy == y) & (mm >= late_from[eo]) & (mm < late_from[eo] + late_len[eo])
        paid = np.where(late, _days(nxt) + rng.integers(45, 150, len(who)), paid)
        unpaid = late & never[eo]
        contrib.append(
            pl.DataFrame(
                {
                    "psn_no": psn_no[emp[who]].astype(str),
                    "month": np.full(len(who), f"{yy:04d}-{mm:02d}"),
                    "kind": np.full(len(who), "normal"),
                    "emp_no": e_codes[who].astype(str),
                    "base_fen": base,
                    "employer_fen": employer,
                    "individual_fen": individual,
                    "account_fen": account,
                    "months": np.ones(len(who), dtype=np.int32),
                    "paid_on": _dates(paid),
                },
                schema=CONTRIBUTION_SCHEMA,
            ).with_columns(
                pl.when(pl.Series(unpaid)).then(None).otherwise(pl.col("paid_on")).alias("paid_on")
            )
        )

    # ------------------------------------------------------------------ retirees
    ret = np.flatnonzero(is_ret)
    need = np.where(
        female[ret],
        policy.retirement_required_months.get("F", 240),
        policy.retirement_required_months.get("M", 300),
    )
    short = rng.random(len(ret)) < sc.retiree_short
    gap = rng.integers(12, 61, len(ret))
    carried = np.where(short, need - gap, need + rng.integers(0, 121, len(ret)))
    ev.add(
        ret,
        np.full(len(ret), _days(dt.date(y - 1, 1, 1))),
        "enrol",
        EMPLOYEE,
        ptype[ret],
        0,
        months=carried,
        reason="参保登记（退休）",
    )
    topup = short & (rng.random(len(ret)) < sc.retiree_pays_up)
    counts["retiree_years_short"] = int(short.sum())
    counts["retiree_paid_up"] = int(topup.sum())
    tp = np.flatnonzero(topup)
    if len(tp):
        tp_day = rand_days(_days(dt.date(y, 2, 1)), _days(dt.date(y, 11, 30)), len(tp))
        floor, _ = base_bounds(y, policy)
        per_month = apply_ratio(floor, policy.employer_rate + policy.individual_rate)
        months_str = [str(np.datetime64(int(d), "D"))[:7] for d in tp_day]
        contrib.append(
            pl.DataFrame(
                {
                    "psn_no": psn_no[ret[tp]].astype(str),
                    "month": months_str,
                    "kind": np.full(len(tp), "top_up"),
                    "emp_no": np.full(len(tp), ""),
                    "base_fen": np.full(len(tp), floor, dtype=np.int64),
                    "employer_fen": per_month * gap[tp],
                    "individual_fen": np.zeros(len(tp), dtype=np.int64),
                    "account_fen": np.zeros(len(tp), dtype=np.int64),
                    "months": gap[tp].astype(np.int32),
                    "paid_on": _dates(tp_day),
                },
                schema=CONTRIBUTION_SCHEMA,
            )
        )

    # ------------------------------------------------------------------ deaths (after any other event of the year)
    p_death = np.where(age >= 75, sc.death_75, np.where(age >= 60, sc.death_60, sc.death_young))
    dies = rng.random(n) < p_death
    dies[res[tout]] = False
    dies[emp[lv]] = False
    dies[res[late_first | tin | (young & nb_late)]] = False
    d = np.flatnonzero(dies)
    death_day = rand_days(_days(dt.date(y, 4, 1)), _days(dt.date(y, 12, 20)), len(d))
    ev.add(d, death_day, "death", ins[d].astype(object), ptype[d], 9, reason="死亡")
    counts["deaths"] = len(d)

    events = ev.frame(psn_no, household)
    identities = np.array(
        [json.dumps([[c, f"{y - HISTORY_YEARS}-01-01", None]]) if c else "[]" for c in idents], dtype=object
    )
    names = _names(rng, n)
    certno, reissued = _unique_certnos(persons["certno"], rng)
    counts["certno_reissued"] = reissued
    registry = pl.DataFrame(
        {
            "psn_no": psn_no.astype(str),
            "certno": certno,
            "name": names,
            "gender": persons["gender"],
            "birth_date": persons["birth_date"],
            "district": persons["district"],
            "household_no": np.where(is_res, household, "").astype(str),
            "identities": identities.astype(str),
        }
    )
    tables = {
        "enrol_persons": registry,
        "employers": employers,
        "enrol_events": events,
        "resident_premiums": pl.concat(prem) if prem else pl.DataFrame(schema=PREMIUM_SCHEMA),
        "employee_contributions": pl.concat(contrib) if contrib else pl.DataFrame(schema=CONTRIBUTION_SCHEMA),
    }
    return tables, counts


def _check_digit(body17: str) -> str:
    w = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(c) * k for c, k in zip(body17, w, strict=True)) % 11]


def _unique_certnos(certno: pl.Series, rng: np.random.Generator) -> tuple[pl.Series, int]:
    """The generator draws ID serials at random, so a few persons share an ID; the registry needs one ID per
    person: a repeated ID gets a new serial (same region, birth date and gender digit, valid check digit)."""
    dup = certno.is_duplicated() & ~certno.is_first_distinct()
    if not dup.any():
        return certno, 0
    values = certno.to_list()
    taken = set(values)
    idx = np.flatnonzero(dup.to_numpy())
    for i in idx:
        old = values[i]
        parity = int(old[16]) % 2
        while True:
            body = old[:14] + f"{int(rng.integers(0, 500)) * 2 + parity:03d}"
            new = body + _check_digit(body)
            if new not in taken:
                break
        taken.add(new)
        values[i] = new
    return pl.Series(certno.name, values, dtype=pl.String), len(idx)


def _names(rng: np.random.Generator, n: int) -> list[str]:
    s = rng.integers(0, len(SURNAMES), n)
    g1 = rng.integers(0, len(GIVEN), n)
    g2 = rng.integers(0, len(GIVEN), n)
    two = rng.random(n) < 0.7
    return [
        SURNAMES[a] + GIVEN[b] + (GIVEN[c] if t else "") for a, b, c, t in zip(s, g1, g2, two, strict=True)
    ]


def write_enrolment(
    out_dir: str | Path,
    loaded: LoadedRegion,
    *,
    year: int,
    seed: int,
    compression: str = "zstd",
    scenarios: EnrolmentScenarios = DEFAULT_SCENARIOS,
) -> EnrolmentManifest | None:
    """Read ``persons.parquet`` in ``out_dir`` and write the enrolment files beside it (None when the region
    has no enrolment policy file: nothing is written)."""
    policy = policy_for_region(loaded)
    if policy is None:
        return None
    out = Path(out_dir)
    persons = pl.read_parquet(
        out / "persons.parquet",
        columns=["psn_no", "certno", "gender", "birth_date", "age", "insutype", "psn_type", "identities",
                 "household_id", "district"],
    )  # fmt: skip
    rng = np.random.default_rng(np.random.SeedSequence([seed, ENROL_STREAM]))
    tables, counts = generate_enrolment(persons, policy, year, rng, scenarios)
    files = {}
    for name, df in tables.items():
        df.write_parquet(out / f"{name}.parquet", compression=compression)  # type: ignore[arg-type]
        files[name] = f"{name}.parquet"
    m = EnrolmentManifest(
        year=year,
        seed=seed,
        policy_file=Path(policy.file).name,
        rows={k: v.height for k, v in tables.items()},
        scenarios=counts,
        files=files,
    )
    (out / "enrolment.json").write_text(m.to_json(), encoding="utf-8")
    return m


def write_collection_file(
    path: str | Path,
    policy: EnrolmentPolicy,
    *,
    persons: int,
    year: int,
    seed: int = 0,
    start: int = 0,
    prefix: str = "R",
    households: bool = False,
) -> int:
    """A tax-authority collection file (CSV, docs/ENROLMENT.md §4.1) of ``persons`` residents paying for
    benefit ``year``: valid IDs, the year's premium with 低保/特困 assistance shares, payment days mostly in
    the collection period.  Person numbers are ``prefix`` + 9 digits from ``start``; a tax file carries no
    household numbers unless ``households`` (three persons a household).  Returns the rows."""
    ry = policy.resident_year(year)
    if ry is None:
        raise ValueError(f"政策中没有该待遇年度 the policy has no benefit year {year}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, ENROL_STREAM, 2]))
    n = persons
    ids = np.arange(start, start + n, dtype=np.int64)
    # unique IDs: every (birth day, serial) pair is used once — day = id mod span, serial = id div span
    span = 95 * 365
    if start + n > span * 1000:
        raise ValueError("人数最多 34,675,000 人 at most 34,675,000 distinct persons")
    day = ids % span
    serial = ids // span
    birth = np.array(_days(dt.date(year - 1, 12, 31)), dtype=np.int64) - day
    bd = birth.astype("datetime64[D]")
    by = bd.astype("datetime64[Y]").astype(np.int64) + 1970
    bm = (bd.astype("datetime64[M]") - bd.astype("datetime64[Y]")).astype(np.int64) + 1
    bday = (bd - bd.astype("datetime64[M]")).astype(np.int64) + 1
    body = np.concatenate(
        [
            np.tile(np.frombuffer(policy.admdvs.encode(), dtype=np.uint8), (n, 1)),
            digits(by, 4),
            digits(bm, 2),
            digits(bday, 2),
            digits(serial, 3),
        ],
        axis=1,
    )
    w = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
    chk = np.frombuffer(b"10X98765432", dtype=np.uint8)[((body.astype(np.int64) - 48) @ w) % 11]
    cert = np.concatenate([body, chk[:, None]], axis=1)
    certno = pl.Series("certno", pl.from_arrow(fixed_strings(cert)))
    u = rng.random(n)
    codes = sorted(policy.identity_codes)
    ident = np.where(u < 0.03, "DB", np.where(u < 0.035, "TK", np.where(u < 0.04, "FP", "")))
    ident = np.where(np.isin(ident, codes) | (ident == ""), ident, "")
    shares = {c: apply_ratio(ry.individual_fen, policy.assistance_share({c})[0]) for c in codes}
    assist = np.array([shares.get(c, 0) if c else 0 for c in ("DB", "TK", "FP", "")], dtype=np.int64)
    idx = np.select([ident == "DB", ident == "TK", ident == "FP"], [0, 1, 2], 3)
    a_fen = assist[idx]
    ind_fen = ry.individual_fen - a_fen
    c = ry.collection
    o, cl = _days(c.opens), _days(c.closes)
    late = rng.random(n) < 0.03
    paid = np.where(
        late,
        _days(dt.date(year, 3, 1)) + rng.integers(0, 200, n),
        o + rng.integers(0, cl - o + 1, n),
    )
    hh = ids // 3
    df = pl.DataFrame(
        {
            "psn_no": pl.Series("psn_no", pl.from_arrow(prefixed_digits(prefix, ids, 9))),
            "certno": certno,
            "psn_name": _names(rng, n),
            "year": np.full(n, year),
            "paid_on": _dates(paid).dt.strftime("%Y-%m-%d"),
            "individual": _yuan(ind_fen),
            "assistance": _yuan(a_fen),
            "identity": np.where(a_fen > 0, ident, ""),
            "kind": np.full(n, "annual"),
            "household_no": pl.Series("household_no", pl.from_arrow(prefixed_digits("H" + prefix, hh, 9)))
            if households
            else np.full(n, ""),
            "district": np.full(n, ""),
        }
    )
    df = df.with_columns(
        pl.col("identity").replace("", None),
        pl.col("district").replace("", None),
        pl.col("household_no").replace("", None),
    )
    df.write_csv(path)
    return n


def _yuan(fen: I64) -> pl.Series:
    s = pl.Series(fen)
    return (s // 100).cast(pl.String) + "." + (s % 100).cast(pl.String).str.zfill(2)
