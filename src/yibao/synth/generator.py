"""The year-scale synthetic region generator (``yibao synth generate``).

Persons are generated in chunks of households; each chunk's visits and lines are built with numpy
and written as Parquet row groups, so memory is bounded by the chunk size whatever the region size.
Every chunk draws from its own child of ``SeedSequence(seed)``, so the output is a pure function of
(region file, persons, year, seed, chunk size, injectors).  The model and its calibration are
documented in docs/SYNTH.md.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from yibao.money import QTY_ONE, apply_ratio_down, price_times_qty
from yibao.policy.catalogue import CatalogueItem
from yibao.policy.loader import LoadedRegion, load_region
from yibao.synth import codes as C
from yibao.synth.arrowutil import digits, fixed_strings, prefixed_digits
from yibao.synth.enrolment import DEFAULT_SCENARIOS, EnrolmentScenarios, write_enrolment
from yibao.synth.inject import get_injector

GENERATOR_VERSION = "yibao.synth/3"  # 2: physicians registry and billing doctor; 3: service date of each line
DEFAULT_CHUNK = 100_000

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

# groups, schemes, visit types (internal indices)
IN_SERVICE, RETIRED, RESIDENT = 0, 1, 2
GROUPS = ("in_service", "retired", "resident")
OP, MT, IP, RX = 0, 1, 2, 3
VTYPE_CODES = ("11", "14", "21", "41")
KIND_HOSPITAL, KIND_PRIMARY, KIND_PHARMACY, KIND_INTERNET = 0, 1, 2, 3
KINDS = ("hospital", "primary", "pharmacy", "internet")

PERSONS_SCHEMA = pa.schema(
    [
        ("psn_id", pa.int64()),
        ("psn_no", pa.string()),
        ("certno", pa.string()),
        ("gender", pa.string()),
        ("birth_date", pa.date32()),
        ("age", pa.int16()),
        ("insutype", pa.string()),
        ("psn_type", pa.string()),
        ("identities", pa.string()),
        ("household_id", pa.int64()),
        ("household_size", pa.int16()),
        ("household_income", pa.int64()),
        ("district", pa.string()),
        ("account_balance", pa.int64()),
        ("family_payer_id", pa.int64()),
    ]
)
REGISTERED_SCHEMA = pa.schema(  # 门慢门特 registration: a person attribute, not a diagnosis on the visit
    [
        ("psn_no", pa.string()),
        ("icd_prefix", pa.string()),
        ("condition", pa.string()),
    ]
)
INSTITUTIONS_SCHEMA = pa.schema(
    [
        ("fixmedins_code", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("level", pa.string()),
        ("district", pa.string()),
        # 机构地址 and its coordinates (WGS-84 degrees; null where the region's districts have no place table)
        ("address", pa.string()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
    ]
)
VISITS_SCHEMA = pa.schema(
    [
        ("visit_id", pa.int64()),
        ("seq", pa.int64()),
        ("mdtrt_id", pa.string()),
        ("psn_id", pa.int64()),
        ("med_type", pa.string()),
        ("fixmedins_code", pa.string()),
        ("hosp_lv", pa.string()),
        ("bilg_dr_codg", pa.string()),
        ("begin_date", pa.date32()),
        ("end_date", pa.date32()),
        ("locality", pa.string()),
        ("emergency", pa.bool_()),
        ("use_account", pa.bool_()),
        ("account_payer_id", pa.int64()),
        ("diagnoses", pa.string()),
        ("procedures", pa.string()),
        ("los_days", pa.int16()),
        ("discharge_status", pa.string()),
        ("scenario", pa.string()),
        ("n_lines", pa.int16()),
    ]
)
PHYSICIANS_SCHEMA = pa.schema(
    [
        ("dr_code", pa.string()),
        ("fixmedins_code", pa.string()),
        ("title", pa.string()),
        ("title_name", pa.string()),
    ]
)
LINES_SCHEMA = pa.schema(
    [
        ("visit_id", pa.int64()),
        ("feedetl_sn", pa.int32()),
        ("code", pa.string()),
        ("qty", pa.int64()),
        ("price", pa.int64()),
        ("amount", pa.int64()),
        ("scenario", pa.string()),
        ("prd_days", pa.int16()),
        ("fee_ocur_time", pa.date32()),  # 2204 fee_ocur_time: the day the item was given (service date)
    ]
)

# ----------------------------------------------------------------------------- model parameters
# visits per person-year by group and age band (C.AGE_BANDS); see docs/SYNTH.md for the derivation
OP_RATE = {
    IN_SERVICE: np.array([0, 0, 4.4, 4.7, 5.5, 6.5, 6.5]),
    RETIRED: np.array([0, 0, 0, 0, 9.0, 10.4, 11.7]),
    RESIDENT: np.array([3.3, 2.1, 1.2, 1.5, 2.1, 3.3, 3.9]),
}
RX_RATE = {
    IN_SERVICE: np.array([0, 0, 3.4, 3.8, 4.7, 5.1, 5.1]),
    RETIRED: np.array([0, 0, 0, 0, 5.5, 6.4, 6.8]),
    RESIDENT: np.array([0.1, 0.1, 0.2, 0.25, 0.3, 0.35, 0.35]),
}
IP_RATE = {
    IN_SERVICE: np.array([0, 0, 0.118, 0.14, 0.18, 0.25, 0.25]),
    RETIRED: np.array([0, 0, 0, 0, 0.24, 0.35, 0.53]),
    RESIDENT: np.array([0.2, 0.08, 0.115, 0.16, 0.21, 0.38, 0.55]),
}
MT_RATE = {IN_SERVICE: 5.0, RETIRED: 7.0, RESIDENT: 4.0}  # per registered chronic patient
MT_REGISTERED = {IN_SERVICE: 0.35, RETIRED: 0.6, RESIDENT: 0.35}
# level mix (ranks 1..4, and "primary" as rank 1 kind primary) by scheme
OP_LEVELS = {310: (0.28, 0.10, 0.25, 0.32, 0.05), 390: (0.50, 0.12, 0.22, 0.14, 0.02)}  # primary, L1..L4
IP_LEVELS = {310: (0.05, 0.25, 0.58, 0.12), 390: (0.30, 0.42, 0.25, 0.03)}
LEVEL_LOS = np.array([0.0, 0.85, 1.0, 1.1, 1.15])  # by rank
LEVEL_INTENSITY = np.array([0.0, 0.4, 0.75, 1.45, 1.75])
HOUSEHOLD_SIZES = np.array([0.25, 0.30, 0.22, 0.13, 0.07, 0.03])
PC_INCOME_MEDIAN_YUAN = 30_000.0  # per-capita household income, 元 a year
PC_INCOME_SIGMA = 0.75
EMPLOYEE_INCOME_UPLIFT = 1.35
DB_LINE = 0.32  # 低保 line as a share of the median per-capita income
DBBY_LINE = 0.40
P_WORK = 0.39  # share of working-age people who are insured employees in service
P_RETIRED = 0.31  # share of people past retirement age who are employee retirees
P_REMOTE = 0.065
# outpatient treatment courses (Conventions.op_course_share): the course, the clinical profile of its
# visits and the treatment item of a session (a TCM course is acupuncture or tuina by person)
OP_COURSES = (
    ("rehabilitation", "fracture", (C.REHAB,)),
    ("tcm", "back_pain", (C.ACU, C.TUINA)),
    ("infusion", "bronchitis", (C.INFUSION,)),
)
# 医保医师库 (physician registry): titles are GB/T 8561 专业技术职务 codes.  Roster sizes and title
# mixes are modelling assumptions (docs/SYNTH.md "Physicians"): level-3 rosters are chosen so that a
# visit's chance of meeting a 主任 / 副主任 physician is about 15 % / 25 %, the consultation-grade mix the
# generator used before it had doctors.
TITLES = ("231", "232", "233", "234")
TITLE_NAMES = ("主任医师", "副主任医师", "主治医师", "医师")
TITLE_MIX = {  # by (kind, rank); rank 1..4
    "primary": (0.01, 0.05, 0.34, 0.60),
    1: (0.02, 0.08, 0.40, 0.50),
    2: (0.05, 0.15, 0.40, 0.40),
    3: (0.15, 0.25, 0.35, 0.25),
    4: (0.15, 0.25, 0.35, 0.25),
    "internet": (0.15, 0.25, 0.35, 0.25),
}
ROSTER_SIZE = {"primary": (4, 12), 1: (8, 20), 2: (30, 80), 3: (80, 200), 4: (150, 300), "internet": (20, 50)}
IP_DOSE_SCALE = 4.7  # calibrates cost per admission (docs/SYNTH.md)


@dataclass(frozen=True)
class Manifest:
    seed: int
    persons: int
    year: int
    region_file: str
    region_admdvs: str
    chunk_size: int
    inject: tuple[str, ...]
    generator_version: str
    rows: dict[str, int]
    calibration: list[dict[str, Any]]
    elapsed_s: float
    files: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        d = asdict(self)
        d["inject"] = list(self.inject)
        return json.dumps(d, ensure_ascii=False, indent=2)


# ----------------------------------------------------------------------------- prescribing limits
@dataclass(frozen=True)
class PrescribingLimits:
    """The bureau's 事前 knowledge base as compliant providers apply it when they prescribe (docs/SYNTH.md).

    Quantities are × 10000 (as ``lines.qty``).  ``supply_per_day`` × ``supply_days[med_type]`` caps a
    drug line of those visit types (超量开药); ``course_visit`` caps a line in any one visit and
    ``course_year`` a person's calendar-year total (药品限支付疗程); ``period`` caps a person's total of
    an item within any ``period_days`` window (周期超频次): ``code -> (period_days, max)``.
    """

    supply_per_day: dict[str, int] = field(default_factory=dict)
    supply_days: dict[str, int] = field(default_factory=dict)
    course_visit: dict[str, int] = field(default_factory=dict)
    course_year: dict[str, int] = field(default_factory=dict)
    period: dict[str, tuple[int, int]] = field(default_factory=dict)
    # 长期处方: visit types whose supply limit is longer when the principal diagnosis starts with one of
    # ``long_term_prefixes`` (``supply_days_long[med_type]`` days instead of ``supply_days``)
    supply_days_long: dict[str, int] = field(default_factory=dict)
    long_term_prefixes: tuple[str, ...] = ()
    # the item's own days limit (code -> days; overrides the visit type's), and the days a person on the
    # 门慢门特 register may be supplied (长期处方, 0 = no such extension)
    item_days: dict[str, int] = field(default_factory=dict)
    registered_days: int = 0
    # items whose own days limit is of a class other than chronic (acute, herbal): 长期处方 does not extend it
    short_items: frozenset[str] = frozenset()
    # dispensing pack of a drug (code -> units × 10000): whole packs are dispensed (see Conventions)
    pack_units: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Conventions:
    """How hospitals and pharmacies really bill clean care (docs/SYNTH.md, "Billing conventions").  Every
    number is a modelling parameter, varied between tuning and hold-out regions."""

    whole_pack_share: float = 0.8  # outpatient / pharmacy drug lines dispensed as whole packs
    long_rx_share: float = 0.3  # chronic prescriptions of registered persons written for 8-12 weeks
    per_day_lines: bool = True  # bed, nursing and the daily consultation: one line per day of a stay
    dialysis_share: float = (
        0.5  # registered CKD patients on maintenance haemodialysis (three sessions a week)
    )
    dialysis_missed: float = 0.05  # share of scheduled sessions not held (illness, travel)
    chemo_share: float = 0.4  # cancer patients in a chemotherapy course of short admissions
    chemo_cycles: tuple[int, int] = (4, 8)  # cycles in the year, inclusive range
    chemo_cycle_days: tuple[int, ...] = (14, 21)  # the cycle lengths (every 2 or 3 weeks)
    december_rx_boost: float = (
        0.6  # extra pharmacy purchases in December (personal accounts spent before the year ends)
    )
    preholiday_rx_boost: float = (
        0.8  # extra pharmacy purchases in the 10 days before the Spring Festival / National Day
    )
    # outpatient treatment courses: many short visits at one institution (rehabilitation, TCM acupuncture or
    # tuina, outpatient infusion), one session a day, Sundays off; 0 = none (draws nothing)
    op_course_share: float = 0.0  # persons in one outpatient course during the year
    op_course_sessions: tuple[int, int] = (6, 20)  # sessions of a course, inclusive range
    # same-day referrals: an outpatient visit followed the same day by a visit at a higher-level hospital in
    # another district (转诊), so the person is in two districts in one day; 0 = none (draws nothing)
    referral_share: float = 0.0  # outpatient visits (after a person's first) that are such a referral
    # several pharmacies: a pharmacy purchase completed the same day at a second pharmacy (the first was out
    # of stock, or one near home and one near work); 0 = none (draws nothing)
    pharmacy_split_share: float = (
        0.0  # pharmacy purchases (after a person's first) that are such a second stop
    )
    # specialist institutions: maternity and child hospitals (妇幼保健院, level 2) taking a share of the
    # deliveries and the gynaecological care; 0 = none (the institution table and every draw unchanged)
    maternity_hospitals: int = 0
    maternity_share: float = 0.5  # deliveries and gynaecological visits held at a maternity hospital


def _apply_limits(
    tables: Tables, vt: I64, who: I64, day: I64, lv: I64, li: I64, lq: I64, dx: I64, reg: B | None = None
) -> I64:
    """Quantities of lines (visit row ``lv``, item ``li``) after a compliant provider's limits; 0 = not
    prescribed (the caller drops the line).  Per-visit caps first (the long-term caps where the visit's
    principal diagnosis ``dx`` is a long-term condition, the registered caps where the person is on the
    门慢门特 register, ``reg`` per visit), then the person's history in date order."""
    long_visit = tables.dx_long[dx[lv]]
    cap = np.where(long_visit, tables.cap_visit_long[vt[lv], li], tables.cap_visit[vt[lv], li])
    if reg is not None:
        cap = np.where(reg[lv], np.maximum(cap, tables.cap_visit_reg[vt[lv], li]), cap)
    q = np.minimum(lq, cap)
    hist = np.flatnonzero(tables.lim_window[li] > 0)
    if hist.size == 0:
        return q
    # greedy in (person, item, day) order: a line keeps what the window still allows (whole half units)
    order = hist[np.lexsort((lv[hist], day[lv[hist]], li[hist], who[lv[hist]]))]
    p_who, p_item, p_day, p_q = who[lv[order]], li[order], day[lv[order]], q[order]
    win, lim = tables.lim_window[p_item], tables.lim_total[p_item]
    half = QTY_ONE // 2
    out = p_q.copy()
    kept_day: list[int] = []
    kept_q: list[int] = []
    for j in range(order.size):
        if j == 0 or p_who[j] != p_who[j - 1] or p_item[j] != p_item[j - 1]:
            kept_day, kept_q = [], []
        d, w = int(p_day[j]), int(win[j])
        used = sum(x for dd, x in zip(kept_day, kept_q, strict=True) if dd > d - w)
        room = max(int(lim[j]) - used, 0)
        take = min(int(p_q[j]), room)
        if take < int(p_q[j]):
            take -= take % half
        out[j] = take
        if take:
            kept_day.append(d)
            kept_q.append(take)
    q[order] = out
    return q


# ----------------------------------------------------------------------------- catalogue tables
class Tables:
    """The catalogue and the clinical profiles flattened into numpy arrays."""

    def __init__(self, loaded: LoadedRegion, year: int, limits: PrescribingLimits | None = None) -> None:
        region = loaded.region
        version = loaded.version_for(dt.date(year, 1, 1)) or region.versions[0]
        self.version = version
        cat: dict[str, CatalogueItem] = loaded.catalogue_for(version)
        items = [it for it in cat.values() if it.unit_price]
        self.items = items
        self.code_index = {it.code: i for i, it in enumerate(items)}
        self.codes = pa.array([it.code for it in items], pa.string())
        self.price = np.array([it.unit_price or 0 for it in items], dtype=np.int64)
        self.kind = np.array([("drug", "service", "material").index(it.kind) for it in items], dtype=np.int8)
        self.sex = np.array([{"M": 1, "F": 2}.get(it.sex or "", 0) for it in items], dtype=np.int8)
        self.min_age = np.array(
            [it.min_age if it.min_age is not None else -1 for it in items], dtype=np.int16
        )
        self.max_age = np.array(
            [it.max_age if it.max_age is not None else 999 for it in items], dtype=np.int16
        )
        self.level_codes = [x.code for x in region.hospital_levels]
        rank = {c: i + 1 for i, c in enumerate(self.level_codes)}
        self.min_rank = np.array([rank.get(it.min_level or "", 0) for it in items], dtype=np.int8)
        self.per_hour = np.array(["每小时" in it.name for it in items])
        self.herb = np.array([it.category == "10" for it in items])
        self.lab = np.array([it.category == "04" for it in items])
        self.per_day = np.array(["每日" in it.name or "床位" in it.name for it in items])
        self.restricted = (
            (self.sex > 0)
            | (self.min_age >= 0)
            | (self.max_age < 999)
            | (self.min_rank > 1)
            | np.array([bool(it.indications) for it in items])
        )
        self._diagnoses()
        self._pools()
        self._surgeries()
        self._fixed_items()
        self._profile_weights()
        self._set_limits(limits or PrescribingLimits())

    def _diagnoses(self) -> None:
        """The diagnosis codes of the profiles and which item each may be billed for (indications)."""
        items = self.items
        dx: list[str] = []
        for p in C.PROFILES:
            dx += [d for d in p.dx if d not in dx]
        dx += [d for d in C.COMORBID if d not in dx]
        self.dx_codes = dx
        self.dx_index = {d: i for i, d in enumerate(dx)}
        self.dx_arr = pa.array(dx, pa.string())
        ind = np.ones((len(dx), len(items)), dtype=bool)
        for j, it in enumerate(items):
            if it.indications:
                pref = tuple(x.replace(".", "") for x in it.indications)
                for i, d in enumerate(dx):
                    ind[i, j] = d.startswith(pref)
        self.ind_ok = ind
        self.prof_dx = _csr([[self.dx_index[d] for d in p.dx] for p in C.PROFILES])

    def _pools(self) -> None:
        """Per profile, the items a visit draws from (drugs, labs, exams, services, materials)."""
        self.pool_drug = self._pool(lambda p: self._prefixed(p.drugs))
        self.pool_drug_ip = self._pool(lambda p: self._prefixed(p.drugs + C.GENERIC_DRUGS))
        self.pool_drug_rx = self._pool(lambda p: self._prefixed(p.drugs or C.GENERIC_PHARMACY))
        self.pool_lab = self._pool(lambda p: self._exact(p.labs))
        self.pool_lab_ip = self._pool(lambda p: self._exact(p.labs + C.GENERIC_IP_LABS))
        self.pool_exam = self._pool(lambda p: self._exact(p.exams))
        self.pool_exam_ip = self._pool(lambda p: self._exact(p.exams + C.GENERIC_EXAMS))
        self.pool_svc = self._pool(lambda p: self._exact(p.services))
        self.pool_svc_ip = self._pool(lambda p: self._exact(p.services + C.GENERIC_IP_SERVICES))
        self.pool_mat = self._pool(lambda p: self._exact(p.materials))
        self.pool_mat_ip = self._pool(lambda p: self._exact(C.GENERIC_IP_MATERIALS))

    def _surgeries(self) -> None:
        """The operations of the profiles, their items, levels and the stay parameters."""
        # surgeries: one flat list, CSR by profile
        surg: list[tuple[int, C.Surgery]] = []
        for pi, p in enumerate(C.PROFILES):
            surg += [(pi, s) for s in p.surgeries]
        self.surgeries = [s for _, s in surg]
        self.prof_surg = _csr(
            [[k for k, (pi, _) in enumerate(surg) if pi == j] for j in range(len(C.PROFILES))]
        )
        self.surg_items = _csr(
            [self._exact(s.items + ((C.GA,) if s.general else (C.LA,)) + s.implants) for s in self.surgeries]
        )
        self.surg_min_rank = np.array(
            [min(s.min_level, len(self.level_codes)) for s in self.surgeries] or [0], dtype=np.int8
        )
        self.surg_proc = pa.array(["|".join(s.procedures) for s in self.surgeries] or [""], pa.string())
        self.p_surg = np.array([p.p_surg if p.surgeries else 0.0 for p in C.PROFILES])
        self.ip_proc = pa.array([p.ip_procedure or "" for p in C.PROFILES], pa.string())
        self.los_median = np.array([p.los for p in C.PROFILES])
        self.intensity = np.array([p.intensity for p in C.PROFILES])

    def _fixed_items(self) -> None:
        """Items every visit of a kind bills (registration, consultation, bed, nursing) and the fallbacks."""
        self.fixed = {
            k: self.code_index.get(v, -1)
            for k, v in {
                "reg": C.REG,
                "consult": C.CONSULT,
                "deputy": C.CONSULT_DEPUTY,
                "chief": C.CONSULT_CHIEF,
                "er": C.CONSULT_ER,
                "ip": C.CONSULT_IP,
                "primary": C.CONSULT_PRIMARY,
                "net": C.CONSULT_NET,
                "bed3": C.BED_3,
                "bed2": C.BED_2,
                "bed1": C.BED_1,
                "icu": C.BED_ICU,
                "bedneo": C.BED_NEO,
                "nurse2": C.NURSE_2,
                "nurse1": C.NURSE_1,
                "nurseneo": C.NURSE_NEO,
            }.items()
        }
        # items billed once per day of a stay (consultation, beds, nursing)
        self.daily_fixed = np.array(
            [
                i
                for k, i in self.fixed.items()
                if i >= 0
                and k in ("ip", "bed3", "bed2", "bed1", "icu", "bedneo", "nurse2", "nurse1", "nurseneo")
            ],
            dtype=np.int64,
        )
        # unrestricted fallbacks by kind (drug / service / material)
        self.fallback = [self._fallback(k) for k in range(3)]

    def _profile_weights(self) -> None:
        """Profile selection weights by visit type, age band and sex, and chronic prevalence."""
        # profile selection weights [vtype][band][sex] -> cumulative over profiles
        n_prof = len(C.PROFILES)
        self.prof_cdf = np.zeros((4, C.N_BANDS, 2, n_prof))
        mids = np.array([2, 10, 22, 37, 52, 67, 80])
        for vt, attr in ((OP, "w_op"), (IP, "w_ip"), (RX, "w_rx"), (MT, "w_op")):
            for b in range(C.N_BANDS):
                for s in range(2):
                    w = np.zeros(n_prof)
                    for j, p in enumerate(C.PROFILES):
                        ok = (
                            (p.sex is None or p.sex == "MF"[s])
                            and p.min_age <= mids[b]
                            and (p.max_age >= mids[b] or (b == 0 and p.max_age >= 0))
                        )
                        base = float(getattr(p, attr)) if vt != MT else (1.0 if p.mt else 0.0)
                        w[j] = base * p.age_w[b] * ok
                    if w.sum() == 0:
                        w[C.PROFILE_INDEX["checkup"]] = 1.0
                    self.prof_cdf[vt, b, s] = np.cumsum(w) / w.sum()
        # chronic prevalence [band][sex] over profiles (+ none)
        self.chronic_p = np.zeros((C.N_BANDS, 2, n_prof))
        for j, p in enumerate(C.PROFILES):
            if p.prevalence is None:
                continue
            for b in range(C.N_BANDS):
                for s in range(2):
                    if p.sex is None or p.sex == "MF"[s]:
                        self.chronic_p[b, s, j] = p.prevalence[b]
        self.mt_ok = np.array([p.mt for p in C.PROFILES])

    def _set_limits(self, lim: PrescribingLimits) -> None:
        """Per (visit type, item) quantity caps and per-item history windows from ``lim``."""
        n = len(self.items)
        big = np.iinfo(np.int64).max
        self.cap_visit = np.full((4, n), big, dtype=np.int64)
        self.lim_window = np.zeros(n, dtype=np.int64)  # days; 0 = no history limit
        self.lim_total = np.zeros(n, dtype=np.int64)
        for code, q in lim.course_visit.items():
            i = self.code_index.get(code)
            if i is not None:
                self.cap_visit[:, i] = np.minimum(self.cap_visit[:, i], q)
        self.cap_visit_long = self.cap_visit.copy()
        self.cap_visit_reg = self.cap_visit.copy()
        item_days = np.zeros(n, dtype=np.int64)  # the item's own days limit (0: the visit type's)
        for code, d in lim.item_days.items():
            i = self.code_index.get(code)
            if i is not None:
                item_days[i] = d
        short = np.zeros(n, dtype=np.bool_)
        for code in lim.short_items:
            i = self.code_index.get(code)
            if i is not None:
                short[i] = True
        # days of supply per (visit type, item): ordinary, long-term diagnosis, registered person
        self.days_cap = np.zeros((4, n), dtype=np.int64)
        self.days_cap_long = np.zeros((4, n), dtype=np.int64)
        self.days_cap_reg = np.zeros((4, n), dtype=np.int64)
        for t, med in enumerate(VTYPE_CODES):
            base = lim.supply_days.get(med)
            if base is None:
                continue
            long = lim.supply_days_long.get(med, base)
            self.days_cap[t] = np.where(item_days > 0, item_days, base)
            self.days_cap_long[t] = np.where(item_days > 0, item_days, long)
            self.days_cap_reg[t] = np.where(
                short, self.days_cap[t], np.maximum(self.days_cap[t], lim.registered_days)
            )
            for cap, days in (
                (self.cap_visit, self.days_cap[t]),
                (self.cap_visit_long, self.days_cap_long[t]),
                (self.cap_visit_reg, self.days_cap_reg[t]),
            ):
                for code, per_day in lim.supply_per_day.items():
                    i = self.code_index.get(code)
                    if i is not None:
                        cap[t, i] = min(int(cap[t, i]), per_day * int(days[i]))
        self.dx_long = np.array(
            [any(c.startswith(p) for p in lim.long_term_prefixes) for c in self.dx_codes], dtype=bool
        )
        self.pack = np.zeros(n, dtype=np.int64)  # units × 10000 in one dispensing pack (0: unknown)
        for code, q in lim.pack_units.items():
            i = self.code_index.get(code)
            if i is not None:
                self.pack[i] = q
        self.supply_q = np.zeros(n, dtype=np.int64)  # units a day at most (0: no supply row)
        for code, per_day in lim.supply_per_day.items():
            i = self.code_index.get(code)
            if i is not None:
                self.supply_q[i] = per_day
        for code, (days, q) in lim.period.items():
            i = self.code_index.get(code)
            if i is not None:
                self.lim_window[i], self.lim_total[i] = days, q
        for code, q in lim.course_year.items():
            i = self.code_index.get(code)
            if i is not None:
                self.lim_window[i], self.lim_total[i] = 400, q  # longer than the year: the whole year
        # items under a course or period limit are not rounded up to whole packs (the limit is exact)
        self.course_item = self.lim_window > 0
        for code in lim.course_visit:
            i = self.code_index.get(code)
            if i is not None:
                self.course_item[i] = True

    def _prefixed(self, prefixes: Sequence[str]) -> list[int]:
        out: list[int] = []
        for i, it in enumerate(self.items):
            if it.kind == "drug" and any(it.code.startswith(px) for px in prefixes):
                out.append(i)
        return out

    def _exact(self, codes: Sequence[str]) -> list[int]:
        out: list[int] = []
        for c in codes:
            i = self.code_index.get(c)
            if i is not None and i not in out:
                out.append(i)
        return out

    def _pool(self, f: Callable[[C.Profile], list[int]]) -> tuple[I64, I64, I64]:
        return _csr([f(p) for p in C.PROFILES])

    def _fallback(self, kind: int) -> I64:
        # never a consultation, bed or nursing fee: those are billed once by the fixed items above, and a
        # second grade drawn as a filler would be a mutually exclusive pair (重复收费) in clean care
        fixed = np.zeros(len(self.items), dtype=bool)
        fixed[[i for i in self.fixed.values() if i >= 0]] = True
        ok = np.flatnonzero((self.kind == kind) & ~self.restricted & ~fixed)
        if ok.size == 0:
            ok = np.flatnonzero(~self.restricted)
        return ok.astype(np.int64)


def _csr(lists: Sequence[Sequence[int]]) -> tuple[I64, I64, I64]:
    lens = np.array([len(x) for x in lists], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    flat = np.array([v for x in lists for v in x] or [0], dtype=np.int64)
    return start, lens, flat


# ----------------------------------------------------------------------------- region helpers
@dataclass
class RegionInfo:
    admdvs: str
    level_codes: list[str]
    in_service_type: str
    retired_type: str
    resident_types: tuple[str, str, str]  # child, adult, elderly
    identities: set[str]
    districts: list[str]
    district_w: F64
    in_service_rate: int  # 1/10000
    retiree_monthly: int  # fen
    family_aid: bool


def region_info(loaded: LoadedRegion, tables: Tables) -> RegionInfo:
    r = loaded.region
    by_group: dict[str, list[Any]] = {}
    for pt in r.person_types:
        by_group.setdefault(pt.group, []).append(pt)
    res = by_group.get("resident", [])
    adult = res[0].code if res else ""

    def pick(words: tuple[str, ...]) -> str:
        for pt in res:
            if any(w in (pt.name_en.lower() + pt.name) for w in words):
                return str(pt.code)
        return adult

    child = pick(("child", "student", "学生", "儿童"))
    elder = pick(("elder", "60", "老年"))
    adult_t = next((pt.code for pt in res if pt.code not in (child, elder)), adult)
    acct = next((a for a in tables.version.accounts if a.scheme == "310"), None)
    d = C.DISTRICTS.get(r.region.admdvs)
    names = [x for x, _ in d] if d else [f"第{i + 1}区" for i in range(8)]
    w = np.array([x for _, x in d], dtype=float) if d else np.ones(8)
    return RegionInfo(
        admdvs=r.region.admdvs,
        level_codes=tables.level_codes,
        in_service_type=by_group["in_service"][0].code if "in_service" in by_group else adult,
        retired_type=by_group["retired"][0].code if "retired" in by_group else adult,
        resident_types=(child, adult_t, elder),
        identities={x.code for x in r.identities},
        districts=names,
        district_w=w / w.sum(),
        in_service_rate=(acct.funding.in_service_rate or 0) if acct else 0,
        retiree_monthly=(acct.funding.retiree_monthly or 0) if acct else 0,
        family_aid=bool(acct and acct.family_mutual_aid),
    )


# ----------------------------------------------------------------------------- institutions
@dataclass
class Institutions:
    codes: list[str]
    kind: I64
    rank: I64
    district: I64
    group_start: I64  # by group key g = kind*8 + rank
    group_len: I64
    gd_start: I64  # [g, district]
    gd_len: I64
    table: pa.Table
    dr_start: I64  # by institution: first physician of its roster (pharmacies: empty roster)
    dr_len: I64
    dr_title: I64  # by physician: index into TITLES
    physicians: pa.Table


MATERNITY_GROUP = 7  # group key of the maternity hospitals: no ordinary visit draws from it
MATERNITY_PROFILES = ("delivery", "gyn", "fibroids")


def make_institutions(
    rng: np.random.Generator, info: RegionInfo, persons: int, maternity: int = 0
) -> Institutions:
    """The designated institutions by kind and level (tertiary hospitals in the central districts), and
    ``maternity`` maternity hospitals (level 2, outside the groups ordinary visits draw from)."""
    mix = C.InstitutionMix()
    n_levels = len(info.level_codes)
    rows: list[tuple[int, int, int]] = []  # kind, rank, district
    for (kind_name, rank), per_m in mix.per_million.items():
        kind = KINDS.index(kind_name)
        r = min(rank, n_levels)
        n = max(mix.floor[(kind_name, rank)], round(per_m * persons / 1_000_000))
        if kind == KIND_HOSPITAL and rank >= 3:
            dist = np.sort(rng.choice(len(info.districts), size=n, p=_concentrate(info.district_w)))
        else:
            dist = np.sort(rng.choice(len(info.districts), size=n, p=info.district_w))
        rows += [(kind, r, int(d)) for d in dist]
    rows.sort()
    n_ordinary = len(rows)
    if maternity > 0:
        m_rank = min(2, n_levels)
        dist = np.sort(rng.choice(len(info.districts), size=maternity, p=info.district_w))
        rows += [(KIND_HOSPITAL, m_rank, int(d)) for d in dist]
    kind_a = np.array([x[0] for x in rows], dtype=np.int64)
    rank_a = np.array([x[1] for x in rows], dtype=np.int64)
    dist_a = np.array([x[2] for x in rows], dtype=np.int64)
    prefix = {KIND_HOSPITAL: "H", KIND_PRIMARY: "H", KIND_PHARMACY: "P", KIND_INTERNET: "H"}
    codes: list[str] = []
    names: list[str] = []
    counters: dict[tuple[int, int], int] = {}
    brands = ("老百姓", "益丰", "大参林", "国大", "一心堂", "海王星辰", "众信", "广济堂")
    for i, (k, r, d) in enumerate(rows):
        codes.append(f"{prefix[k]}{info.admdvs}{i + 1:05d}")
        dn = info.districts[d]
        n = counters[(k, d)] = counters.get((k, d), 0) + 1
        if i >= n_ordinary:
            names.append(f"{dn}妇幼保健院" if n == 1 else f"{dn}第{n}妇幼保健院")
        elif k == KIND_HOSPITAL:
            tier = {1: "医院", 2: "人民医院", 3: "中心医院", 4: "大学附属医院"}.get(r, "医院")
            names.append(f"{dn}第{n}{tier}" if r < 4 else f"{dn}第{n}{tier}（三级特等）")
        elif k == KIND_PRIMARY:
            names.append(f"{dn}第{n}社区卫生服务中心")
        elif k == KIND_PHARMACY:
            names.append(f"{brands[i % len(brands)]}大药房（{dn}{n}店）")
        else:
            names.append(f"{dn}第{n}互联网医院")
    g = kind_a * 8 + rank_a
    g[n_ordinary:] = MATERNITY_GROUP
    nd = len(info.districts)
    group_start = np.zeros(32, dtype=np.int64)
    group_len = np.zeros(32, dtype=np.int64)
    gd_start = np.zeros((32, nd), dtype=np.int64)
    gd_len = np.zeros((32, nd), dtype=np.int64)
    for key in np.unique(g):
        idx = np.flatnonzero(g == key)
        group_start[key], group_len[key] = idx[0], idx.size
        for d in range(nd):
            di = idx[dist_a[idx] == d]
            if di.size:
                gd_start[key, d], gd_len[key, d] = di[0], di.size
    table = pa.table(
        {
            "fixmedins_code": pa.array(codes, pa.string()),
            "name": pa.array(names, pa.string()),
            "kind": pa.array([KINDS[k] for k in kind_a], pa.string()),
            "level": pa.array([info.level_codes[r - 1] for r in rank_a], pa.string()),
            "district": pa.array([info.districts[d] for d in dist_a], pa.string()),
            **institution_places(info.admdvs, codes, [info.districts[d] for d in dist_a], kind_a, rank_a),
        },
        schema=INSTITUTIONS_SCHEMA,
    )
    dr_start, dr_len, dr_title, physicians = make_physicians(rng, info, codes, kind_a, rank_a)
    return Institutions(
        codes,
        kind_a,
        rank_a,
        dist_a,
        group_start,
        group_len,
        gd_start,
        gd_len,
        table,
        dr_start,
        dr_len,
        dr_title,
        physicians,
    )


KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.320


def institution_places(
    admdvs: str, codes: Sequence[str], districts: Sequence[str], kind: I64, rank: I64
) -> dict[str, pa.Array]:
    """An address and coordinates for each institution: a point within its district's radius around the
    district seat (:data:`codes.DISTRICT_PLACES`; tertiary hospitals within half of it) and a street of the
    district with a house number.  Each point is drawn from its own generator seeded by the institution's
    code, so the rest of the synthetic region does not change; empty where the region has no place table."""
    places = C.DISTRICT_PLACES.get(admdvs, {})
    city = C.CITY_NAMES.get(admdvs, "")
    addr: list[str | None] = []
    lat: list[float | None] = []
    lon: list[float | None] = []
    for code, dn, k, r in zip(codes, districts, kind, rank, strict=True):
        place = places.get(dn)
        if place is None:
            addr.append(None)
            lat.append(None)
            lon.append(None)
            continue
        lat0, lon0, radius, streets = place
        g = np.random.default_rng(zlib.crc32(code.encode()))
        reach = radius * (0.5 if k == KIND_HOSPITAL and r >= 3 else 1.0)
        dist = reach * math.sqrt(g.random())  # uniform over the disc
        ang = 2 * math.pi * g.random()
        dy, dx = dist * math.sin(ang), dist * math.cos(ang)
        lat.append(round(lat0 + dy / KM_PER_DEG_LAT, 6))
        lon.append(round(lon0 + dx / (KM_PER_DEG_LON_EQUATOR * math.cos(math.radians(lat0))), 6))
        addr.append(f"{city}{dn}{streets[int(g.integers(len(streets)))]}{int(g.integers(1, 300))}号")
    return {
        "address": pa.array(addr, pa.string()),
        "lat": pa.array(lat, pa.float64()),
        "lon": pa.array(lon, pa.float64()),
    }


def make_physicians(
    rng: np.random.Generator, info: RegionInfo, codes: list[str], kind: I64, rank: I64
) -> tuple[I64, I64, I64, pa.Table]:
    """The registry of physicians (医保医师库): a roster per hospital, primary and internet institution."""
    sizes = np.zeros(len(codes), dtype=np.int64)
    mixes: list[tuple[float, ...]] = []
    for i, (k, r) in enumerate(zip(kind, rank, strict=True)):
        key: str | int = KINDS[k] if k in (KIND_PRIMARY, KIND_INTERNET) else int(r)
        if k == KIND_PHARMACY:
            mixes.append(())
            continue
        lo, hi = ROSTER_SIZE[key]
        sizes[i] = int(rng.integers(lo, hi + 1))
        mixes.append(TITLE_MIX[key])
    start = np.cumsum(sizes) - sizes
    titles = np.concatenate(
        [
            rng.choice(len(TITLES), size=int(n), p=np.asarray(mx)) if n else np.zeros(0, np.int64)
            for n, mx in zip(sizes, mixes, strict=True)
        ]
    ).astype(np.int64)
    owner = np.repeat(np.arange(len(codes)), sizes)
    seq = np.arange(titles.size)
    table = pa.table(
        {
            "dr_code": pa.array([f"D{info.admdvs}{j + 1:07d}" for j in seq], pa.string()),
            "fixmedins_code": pa.array(codes, pa.string()).take(pa.array(owner)),
            "title": pa.array(TITLES, pa.string()).take(pa.array(titles)),
            "title_name": pa.array(TITLE_NAMES, pa.string()).take(pa.array(titles)),
        },
        schema=PHYSICIANS_SCHEMA,
    )
    return start.astype(np.int64), sizes, titles, table


def _concentrate(w: F64) -> F64:
    """Tertiary hospitals cluster in the central districts: weight ∝ population²."""
    x = w**2
    return np.asarray(x / x.sum(), dtype=np.float64)


# ----------------------------------------------------------------------------- persons
@dataclass
class People:
    n: int
    psn_id: I64
    age: I64
    female: B
    group: I64
    district: I64
    household_id: I64
    household_size: I64
    pc_income: F64  # per-capita household income, 元
    chronic: I64  # profile index or -1
    mt_registered: B
    frailty: F64
    balance: I64
    family_payer: I64
    low_income: B
    identities: list[str]
    table: pa.Table


def make_people(
    rng: np.random.Generator, info: RegionInfo, tables: Tables, start: int, n: int, year: int
) -> People:
    # households
    m = n // 2 + 16
    sizes = rng.choice(np.arange(1, 7), size=m, p=HOUSEHOLD_SIZES)
    while sizes.sum() < n:
        sizes = np.concatenate([sizes, rng.choice(np.arange(1, 7), size=m, p=HOUSEHOLD_SIZES)])
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, n)) + 1
    sizes = sizes[:k].copy()
    sizes[-1] -= int(cum[k - 1] - n)
    hh = np.repeat(np.arange(k), sizes)
    hh_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pos = np.arange(n) - hh_start[hh]
    size = sizes[hh]
    # roles: 0 head, 1 spouse, 2 child, 3 parent
    role_tab = np.array(
        [
            [0, 0, 0, 0, 0, 0],
            [0, 1, 0, 0, 0, 0],
            [0, 1, 2, 0, 0, 0],
            [0, 1, 2, 2, 0, 0],
            [0, 1, 2, 3, 3, 0],
            [0, 1, 2, 2, 3, 3],
        ]
    )
    role = role_tab[size - 1, pos]
    # head age by household size
    u = rng.random(k)
    young = rng.integers(20, 40, k)
    old = rng.integers(55, 92, k)
    mid = rng.integers(26, 52, k)
    head_age = np.where(
        sizes == 1,
        np.where(u < 0.45, young, old),
        np.where(sizes == 2, np.where(u < 0.3, young + 2, old - 3), mid),
    )
    head_age = np.where(sizes >= 5, rng.integers(26, 46, k), head_age)
    ha = head_age[hh]
    child_gap = rng.integers(22, 36, n) + (pos - 2) * rng.integers(1, 7, n)
    age = np.select(
        [role == 0, role == 1, role == 2, role == 3],
        [
            ha,
            np.clip(ha + np.round(rng.normal(0, 3, n)).astype(np.int64), 18, 100),
            np.maximum(ha - child_gap, 0),
            np.clip(ha + rng.integers(24, 34, n), 45, 100),
        ],
    ).astype(np.int64)
    head_female = rng.random(k) < 0.5
    female = np.where(role == 0, head_female[hh], np.where(role == 1, ~head_female[hh], rng.random(n) < 0.5))
    female = np.where(role == 3, pos % 2 == 1, female).astype(bool)
    # scheme groups
    retire_age = np.where(female, 55, 60)
    ur = rng.random(n)
    group = np.full(n, RESIDENT, dtype=np.int64)
    group[(age >= 18) & (age < retire_age) & (ur < P_WORK)] = IN_SERVICE
    group[(age >= retire_age) & (ur < P_RETIRED)] = RETIRED
    # household income (per capita, 元): log-normal, uplift when anyone is an employee
    has_emp = np.zeros(k, dtype=bool)
    np.logical_or.at(has_emp, hh, group != RESIDENT)
    pc = np.exp(rng.normal(np.log(PC_INCOME_MEDIAN_YUAN), PC_INCOME_SIGMA, k)) * np.where(
        has_emp, EMPLOYEE_INCOME_UPLIFT, 1.0
    )
    pc_p = pc[hh]
    district = rng.choice(len(info.districts), size=k, p=info.district_w)[hh]
    # identities (residents of low-income households)
    line_db = DB_LINE * PC_INCOME_MEDIAN_YUAN
    line_bb = DBBY_LINE * PC_INCOME_MEDIAN_YUAN
    res = group == RESIDENT
    low = res & (pc_p < line_db)
    near = res & (pc_p >= line_db) & (pc_p < line_bb) & (rng.random(n) < 0.45)
    uid = rng.random(n)
    ident_code = np.full(n, "", dtype=object)
    ident_code[low & (uid < 0.85)] = "DB"
    ident_code[low & (uid >= 0.85)] = "FP"
    ident_code[low & (size == 1) & (age >= 60)] = "TK"
    ident_code[near] = "DBBY"
    known = np.array([c in info.identities for c in ("DB", "FP", "TK", "DBBY")])
    for c, ok in zip(("DB", "FP", "TK", "DBBY"), known, strict=True):
        if not ok:
            ident_code[ident_code == c] = ""
    identities = [str(x) for x in ident_code]
    # chronic condition (one per person at most), 门诊慢特病 registration
    band = np.searchsorted(np.array(C.AGE_BANDS), age, side="right") - 1
    probs = tables.chronic_p[band, female.astype(np.int64)]
    cdfp = np.cumsum(probs, axis=1)
    uc = rng.random(n)
    chronic = (uc[:, None] >= cdfp).sum(axis=1)
    chronic = np.where(chronic >= probs.shape[1], -1, chronic).astype(np.int64)
    reg_p = np.array([MT_REGISTERED[IN_SERVICE], MT_REGISTERED[RETIRED], MT_REGISTERED[RESIDENT]])[group]
    mt_registered = (chronic >= 0) & tables.mt_ok[np.maximum(chronic, 0)] & (rng.random(n) < reg_p)
    frailty = rng.gamma(1.3, 1 / 1.3, n) * np.where(chronic >= 0, 1.4, 1.0)
    # accounts (fen at 1 Jan): in service 2% × base × months, retirees monthly amount × months
    months = rng.integers(1, 37, n)
    base = np.clip(np.exp(rng.normal(np.log(6_500), 0.4, n)), 4_000, 25_000).astype(np.int64) * 100
    bal = np.zeros(n, dtype=np.int64)
    ins = group == IN_SERVICE
    bal[ins] = apply_ratio_down(base[ins], info.in_service_rate) * months[ins]
    bal[group == RETIRED] = info.retiree_monthly * months[group == RETIRED]
    # 家庭共济: a member without an own account may use the first employee's account in the household
    psn_id = start + np.arange(n, dtype=np.int64)
    cand = np.where((group != RESIDENT) & (bal > 0), np.arange(n), n)
    first_emp = np.minimum.reduceat(cand, hh_start)
    fp_local = first_emp[hh]
    family_payer = np.where((fp_local < n) & (bal == 0) & info.family_aid, start + fp_local, -1).astype(
        np.int64
    )
    # strings and dates
    birth_year_jan1 = (
        (np.array(year - age - 1970, dtype=np.int64)).astype("datetime64[Y]").astype("datetime64[D]")
    )
    birth = birth_year_jan1 - rng.integers(0, 365, n).astype("timedelta64[D]")
    by = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    bm = (birth.astype("datetime64[M]") - birth.astype("datetime64[Y]")).astype(np.int64) + 1
    bd = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    serial = (rng.integers(0, 500, n) * 2 + np.where(female, 0, 1)).astype(np.int64)
    body = np.concatenate(
        [
            np.tile(np.frombuffer(info.admdvs.encode(), dtype=np.uint8), (n, 1)),
            digits(by, 4),
            digits(bm, 2),
            digits(bd, 2),
            digits(serial, 3),
        ],
        axis=1,
    )
    w = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
    chk = np.frombuffer(b"10X98765432", dtype=np.uint8)[((body.astype(np.int64) - 48) @ w) % 11]
    certno = fixed_strings(np.concatenate([body, chk[:, None]], axis=1))
    rt = info.resident_types
    psn_type = np.where(
        group == IN_SERVICE,
        info.in_service_type,
        np.where(
            group == RETIRED, info.retired_type, np.where(age < 18, rt[0], np.where(age >= 60, rt[2], rt[1]))
        ),
    )
    dist_arr = pa.array(info.districts, pa.string())
    table = pa.table(
        {
            "psn_id": pa.array(psn_id),
            "psn_no": prefixed_digits("P", psn_id, 9),
            "certno": certno,
            "gender": pa.array(["M", "F"], pa.string()).take(pa.array(female.astype(np.int8))),
            "birth_date": pa.array(birth, pa.date32()),
            "age": pa.array(age.astype(np.int16)),
            "insutype": pa.array(["310", "390"], pa.string()).take(
                pa.array((group == RESIDENT).astype(np.int8))
            ),
            "psn_type": pa.array(psn_type, pa.string()),
            "identities": pa.array(identities, pa.string()),
            "household_id": pa.array(start + hh_start[hh]),
            "household_size": pa.array(size.astype(np.int16)),
            "household_income": pa.array(np.round(pc_p * size * 100).astype(np.int64)),
            "district": dist_arr.take(pa.array(district)),
            "account_balance": pa.array(bal),
            "family_payer_id": pa.array(family_payer),
        },
        schema=PERSONS_SCHEMA,
    )
    return People(
        n,
        psn_id,
        age,
        female,
        group,
        district,
        start + hh_start[hh],
        size.astype(np.int64),
        pc_p,
        chronic,
        mt_registered,
        frailty,
        bal,
        family_payer,
        (ident_code != ""),
        identities,
        table,
    )


# ----------------------------------------------------------------------------- visits and lines
@dataclass
class Chunk:
    visits: pa.Table
    lines: pa.Table
    vtype: I64
    group: I64
    cost: I64
    remote: B


def registered_conditions(ppl: People) -> pa.Table:
    """The 门慢门特 register of a chunk's persons (psn_no, icd_prefix, condition): one row per registered
    person, their chronic condition's first diagnosis code."""
    idx = np.flatnonzero(ppl.mt_registered)
    icd = pa.array([C.PROFILES[int(c)].dx[0] for c in ppl.chronic[idx]], pa.string())
    name = pa.array([C.PROFILES[int(c)].key for c in ppl.chronic[idx]], pa.string())
    psn_no = ppl.table.column("psn_no").combine_chunks().take(pa.array(idx))
    return pa.table({"psn_no": psn_no, "icd_prefix": icd, "condition": name}, schema=REGISTERED_SCHEMA)


def _pick_cdf(rng: np.random.Generator, cdf: F64) -> I64:
    """One draw per row of ``cdf`` (rows are cumulative distributions)."""
    u: F64 = rng.random(int(cdf.shape[0]))
    picked: I64 = np.minimum((u[:, None] >= cdf).sum(axis=1), cdf.shape[1] - 1).astype(np.int64)
    return picked


def _pick_grouped(rng: np.random.Generator, cdfs: F64, group: I64) -> I64:
    """One draw per row from the cumulative distribution ``cdfs[group]``: a single searchsorted over the
    group-offset concatenation of all rows (no (rows × categories) temporary)."""
    k = cdfs.shape[1]
    flat = (cdfs + np.arange(cdfs.shape[0])[:, None]).ravel()
    u: F64 = rng.random(int(group.size))
    idx = np.searchsorted(flat, group + u, side="right") - group * k
    picked: I64 = np.minimum(idx, k - 1).astype(np.int64)
    return picked


@dataclass
class _Courses:
    """The course patients of a chunk, one entry per person."""

    dialysis: B  # maintenance dialysis (registered CKD patients, three sessions a week)
    chemo: B  # chemotherapy cycles (cancer patients)
    cycle: I64  # days between chemotherapy cycles
    op_sessions: I64  # sessions of an outpatient treatment course (0: none)
    op_kind: I64  # the course (index into OP_COURSES; -1: none)


def _visit_counts(
    rng: np.random.Generator, ppl: People, band: I64, cv: Conventions
) -> tuple[npt.NDArray[np.int64], _Courses]:
    """Visits per person and type (4 × n), with the course patients: maintenance dialysis (registered CKD
    patients, three sessions a week), chemotherapy cycles (cancer patients) and each one's cycle days, and
    outpatient treatment courses (the first outpatient visits of the person; none unless the conventions
    ask for them)."""
    n = ppl.n
    fr = ppl.frailty
    rates = np.zeros((4, n))
    for g in (IN_SERVICE, RETIRED, RESIDENT):
        m = ppl.group == g
        rates[OP, m] = OP_RATE[g][band[m]] * fr[m]
        rates[RX, m] = RX_RATE[g][band[m]] * fr[m]
        rates[IP, m] = IP_RATE[g][band[m]] * np.sqrt(fr[m])
        rates[MT, m] = MT_RATE[g] * ppl.mt_registered[m]
    counts = rng.poisson(rates)  # (4, n)
    counts[IP] = np.minimum(counts[IP], 12)
    # courses: maintenance dialysis (registered CKD patients) and chemotherapy cycles (cancer patients)
    ckd_p = C.PROFILE_INDEX["ckd"]
    cancer = np.isin(ppl.chronic, [C.PROFILE_INDEX[k] for k in ("cancer_lung", "cancer_gi", "cancer_breast")])
    dialysis = ppl.mt_registered & (ppl.chronic == ckd_p) & (rng.random(n) < cv.dialysis_share)
    sessions = rng.binomial(3 * 52, 1 - cv.dialysis_missed, n)
    counts[MT] = np.where(dialysis, sessions, counts[MT])
    chemo = cancer & (rng.random(n) < cv.chemo_share)
    lo_c, hi_c = cv.chemo_cycles
    counts[IP] = np.where(chemo, rng.integers(lo_c, hi_c + 1, n), counts[IP])
    cycle = np.asarray(cv.chemo_cycle_days, dtype=np.int64)[rng.integers(0, len(cv.chemo_cycle_days), n)]
    op_sessions = np.zeros(n, dtype=np.int64)
    op_kind = np.full(n, -1, dtype=np.int64)
    if cv.op_course_share > 0:
        lo_s, hi_s = cv.op_course_sessions
        in_course = rng.random(n) < cv.op_course_share
        op_sessions = np.where(in_course, rng.integers(lo_s, hi_s + 1, n), 0).astype(np.int64)
        op_kind = np.where(in_course, rng.integers(0, len(OP_COURSES), n), -1).astype(np.int64)
        counts[OP] += op_sessions
    return counts, _Courses(dialysis, chemo, cycle, op_sessions, op_kind)


@dataclass
class _Schedule:
    """When each visit happens, and which visits are course sessions."""

    day: I64  # day of the year (0 = 1 January)
    ndays: int  # days in the year
    run_start: I64  # the first visit of each visit's (person, visit type) run
    dial_v: B  # a maintenance dialysis session
    chemo_v: B  # a chemotherapy cycle
    op_course: B  # a session of an outpatient treatment course
    referral: B  # a same-day referral: the visit after the person's previous outpatient visit, same day
    second_shop: B  # a pharmacy purchase completed at a second pharmacy the day of the previous one


def _visit_days(
    rng: np.random.Generator, year: int, cv: Conventions, cs: _Cases, n: int, co: _Courses
) -> _Schedule:
    """The day of the year of each visit (a mild winter peak; pharmacy seasonality; courses on their
    schedule; same-day referrals and second pharmacies when the conventions ask for them), the number of
    days in the year, each visit's first visit of its (person, type) run, and which visits are dialysis
    sessions, chemotherapy cycles, outpatient course sessions, referrals and second pharmacy stops."""
    vt, who = cs.vt, cs.who
    dialysis, chemo, cycle = co.dialysis, co.chemo, co.cycle
    nv = vt.size
    # dates (mild winter peak)
    ndays = (dt.date(year, 12, 31) - dt.date(year, 1, 1)).days + 1
    dw = 1 + 0.2 * np.cos(2 * np.pi * (np.arange(ndays) - 15) / ndays)
    day = np.minimum(np.searchsorted(np.cumsum(dw) / dw.sum(), rng.random(nv)), ndays - 1).astype(np.int64)
    # pharmacy purchases: December (personal accounts spent before the year ends) and stocking up before the
    # Spring Festival and National Day holidays
    rx_w = dw * _rx_season(year, ndays, cv)
    rx = vt == RX
    day[rx] = np.minimum(
        np.searchsorted(np.cumsum(rx_w) / rx_w.sum(), rng.random(int(rx.sum()))), ndays - 1
    ).astype(np.int64)
    # course visits on their schedule: dialysis Monday / Wednesday / Friday style (every 2-3 days), chemo
    # cycles every 14 or 21 days from a start day
    run_key = vt * n + who  # a person's visits of one type are consecutive
    idx = np.arange(nv)
    run_start = np.maximum.accumulate(np.where(np.r_[True, run_key[1:] != run_key[:-1]], idx, 0))
    k_in = idx - run_start  # the visit's number among the person's visits of its type
    dial_v = (vt == MT) & dialysis[who]
    day = np.where(dial_v, np.minimum((k_in // 3) * 7 + (k_in % 3) * 2 + who % 2, ndays - 1), day)
    chemo_v = (vt == IP) & chemo[who]
    first_c = rng.integers(0, 60, n)
    day = np.where(chemo_v, np.minimum(first_c[who] + k_in * cycle[who], ndays - 1), day)
    # an outpatient course: one session a day from a start day, Sundays (every seventh day) off
    op_course = cs.course_k >= 0
    if op_course.any():
        k = cs.course_k
        span = co.op_sessions + co.op_sessions // 6 + 1
        start = (rng.random(n) * np.maximum(ndays - span, 1)).astype(np.int64)
        day = np.where(op_course, np.minimum(start[who] + k + k // 6, ndays - 1), day)
    prev = np.maximum(idx - 1, 0)
    referral = _same_day_second(
        rng, (vt == OP) & (k_in >= 1) & ~op_course & ~op_course[prev], cv.referral_share
    )
    second_shop = _same_day_second(rng, (vt == RX) & (k_in >= 1), cv.pharmacy_split_share)
    second = referral | second_shop
    day = np.where(second, day[prev], day)
    return _Schedule(day, ndays, run_start, dial_v, chemo_v, op_course, referral, second_shop)


def _same_day_second(rng: np.random.Generator, candidate: B, share: float) -> B:
    """A ``share`` of the candidate visits (each the person's next visit of its type) chosen to follow the
    previous visit on the same day, never two in a row; draws nothing when ``share`` is 0."""
    if share <= 0 or not candidate.any():
        return np.zeros(candidate.size, dtype=bool)
    chosen: B = candidate & (rng.random(candidate.size) < share)
    chosen[1:] &= ~chosen[:-1]
    return chosen


@dataclass
class _Cases:
    """A chunk's visits in generation order (each visit type in turn, person by person) and whom they are
    for; every array has one entry per visit."""

    vt: I64  # visit type (OP, MT, RX, IP)
    who: I64  # the person: index into the chunk's persons
    age: I64  # age on 1 January
    female: B
    grp: I64  # insured group (IN_SERVICE, RETIRED, RESIDENT)
    scheme310: B  # employees' scheme (310), else residents' (390)
    prof: I64  # clinical profile (index into C.PROFILES)
    chron: I64  # the person's chronic condition (-1: none)
    reg_v: B  # the person is registered for 门慢门特 care
    long_rx: B  # a long prescription of registered chronic care
    course_k: I64  # the session number in an outpatient treatment course (-1: not a session)
    course_kind: I64  # that course (index into OP_COURSES; -1: not a session)

    @property
    def nv(self) -> int:
        return int(self.vt.size)


@dataclass
class _Places:
    """Where each visit happens: institution kind, level rank and institution, and the operation of a
    surgical stay."""

    kind: I64
    rank: I64  # 1-based level rank (index into RegionInfo.level_codes + 1)
    internet: B  # an internet-hospital consultation
    surgical: B
    surg: I64  # the operation (index into the surgery tables; 0 when not surgical)
    inst_idx: I64  # index into Institutions.table


@dataclass
class _Stays:
    """Each visit's end, length of stay and circumstances."""

    end_day: I64  # day of the year the visit ends (the visit's day outside a stay)
    los: I64  # length of stay in days (0 outside a stay)
    bed_days: I64  # billed bed days (at least 1)
    emergency: B
    remote: B  # treated outside the region (异地就医)
    locality: I64  # 0 local, 1 remote and filed, 2 remote and not filed


@dataclass
class _Priced:
    """The chunk's fee lines after quantities, limits and per-day splitting, with their prices; every
    line array has one entry per line, in visit order."""

    lv: I64  # the line's visit (index into the chunk's visits)
    li: I64  # the line's item (index into Tables)
    lq: I64  # quantity (QTY_ONE = one unit)
    prd_days: I64  # days the prescription states (0: none)
    day_off: I64  # day within the stay of a per-day line (-1: not one)
    price: I64
    amount: I64


@dataclass
class _Order:
    """Each visit's line count and cost, which visits are kept, and their visit_id order."""

    n_lines: I64
    cost: I64
    vkeep: B  # visits with at least one line
    vorder: I64  # kept visits, in visit_id order
    new_id: I64  # visit_id of each visit (-1: dropped)


def make_chunk(
    rng: np.random.Generator,
    info: RegionInfo,
    tables: Tables,
    inst: Institutions,
    ppl: People,
    year: int,
    visit_base: int,
    rng_dr: np.random.Generator | None = None,
    conv: Conventions | None = None,
) -> Chunk:
    """One chunk of visits and lines.  ``rng_dr`` draws each visit's physician (its own stream, so the
    rest of the chunk does not depend on the registry; default: a stream derived from ``rng``).

    The steps, in the order they draw from ``rng``: visit counts, each visit's case (profile, long
    prescription), visit days, places (institution, surgery), physicians, stays, case intensity and
    principal diagnosis, the line blocks (consultation, inpatient daily items, drugs, other services,
    surgery), compliant quantities, prices, visit order, secondary diagnoses, account use, discharge
    status, and last each line's service day."""
    cv = conv if conv is not None else Conventions()
    band = np.searchsorted(np.array(C.AGE_BANDS), ppl.age, side="right") - 1
    counts, co = _visit_counts(rng, ppl, band, cv)
    cs = _visit_cases(rng, tables, ppl, band, counts, co, cv)
    sch = _visit_days(rng, year, cv, cs, ppl.n, co)
    if sch.second_shop.any():  # a second pharmacy stop buys for the same need as the first
        cs.prof = np.where(sch.second_shop, cs.prof[np.maximum(np.arange(cs.nv) - 1, 0)], cs.prof)
    place = _visit_places(rng, info, tables, inst, ppl, cs, sch, cv.maternity_share)
    dr, title = _physicians(rng, rng_dr, inst, place.inst_idx)
    stay = _stays(rng, tables, cs, place, sch)
    intensity, dx_prin = _case_mix(rng, tables, cs.prof, place.rank)
    blocks = _LineBlocks(rng, tables, cs, place.rank, dx_prin)
    _consultation_lines(rng, blocks, cs, place, stay.emergency, title)
    _course_lines(tables, blocks, cs)
    icu = _inpatient_daily_lines(rng, blocks, ppl, cs, year, sch.day, stay.bed_days, intensity)
    _drug_lines(rng, tables, blocks, cs, sch.dial_v, stay.bed_days, intensity)
    _other_lines(rng, tables, blocks, cs, place.internet, stay.bed_days)
    _surgery_lines(tables, blocks, place)
    lv, li, lq, ld = blocks.assemble(cs.vt)
    lv, li, lq, ld, prd_days = _prescribed_quantities(rng, tables, cv, cs, sch.day, dx_prin, lv, li, lq, ld)
    priced = _priced_lines(rng, tables, cv, cs.vt, icu, lv, li, lq, ld, prd_days)
    order = _visit_order(rng, cs.nv, sch.day, priced, visit_base)
    sec1, sec2 = _secondary_diagnoses(rng, tables, cs, dx_prin)
    acct = _account_use(rng, ppl, cs)
    discharge = _discharge_status(rng, ppl.n, cs, sch.day, order.vkeep)
    dx = (dx_prin, sec1, sec2)
    visits = _visits_table(
        info, tables, inst, ppl, year, cs, sch, place, stay, order, dr, dx, acct, discharge
    )
    fee_day = _fee_days(rng, tables, cs.vt, sch.day, stay.end_day, priced.lv, priced.li, priced.day_off)
    lines = _lines_table(tables, year, priced, fee_day, order)
    vo = order.vorder
    return Chunk(visits, lines, cs.vt[vo], cs.grp[vo], order.cost[vo], stay.remote[vo])


def _visit_cases(
    rng: np.random.Generator,
    tables: Tables,
    ppl: People,
    band: I64,
    counts: npt.NDArray[np.int64],
    co: _Courses,
    cv: Conventions,
) -> _Cases:
    """The chunk's visits from the counts per person and type, and each visit's clinical profile: the
    person's chronic condition for 门慢门特 visits and courses, often for other visits of a chronic
    patient, else one drawn by (visit type, age band, sex), the course's for outpatient course sessions;
    and which visits of registered chronic care are written a long prescription."""
    n = ppl.n
    vt = np.concatenate([np.full(int(counts[t].sum()), t, dtype=np.int64) for t in range(4)])
    who = np.concatenate([np.repeat(np.arange(n), counts[t]) for t in range(4)])
    nv = vt.size
    age, female, grp = ppl.age[who], ppl.female[who], ppl.group[who]
    vband = band[who]
    sex_i = female.astype(np.int64)
    # profile: chronic for mt, often for rx/op of chronic patients; else by (type, band, sex)
    prof = _pick_grouped(
        rng, tables.prof_cdf.reshape(-1, tables.prof_cdf.shape[-1]), (vt * C.N_BANDS + vband) * 2 + sex_i
    )
    chron = ppl.chronic[who]
    use_chron = (chron >= 0) & (
        (vt == MT)
        | ((vt == RX) & (rng.random(nv) < 0.65))
        | ((vt == OP) & (rng.random(nv) < 0.35))
        | ((vt == IP) & (rng.random(nv) < 0.25))
    )
    use_chron &= (vt != IP) | (np.asarray([p.w_ip for p in C.PROFILES])[np.maximum(chron, 0)] > 0)
    course_v = ((vt == MT) & co.dialysis[who]) | ((vt == IP) & co.chemo[who])
    use_chron |= course_v
    prof = np.where(use_chron, chron, prof)
    # 门慢门特 registration (a person attribute) and long prescriptions of registered chronic care
    reg_v = ppl.mt_registered[who]
    long_rx = reg_v & use_chron & (vt != IP) & (rng.random(nv) < cv.long_rx_share)
    # outpatient course sessions: the person's first outpatient visits (draws nothing)
    idx = np.arange(nv)
    run_key = vt * n + who
    run_start = np.maximum.accumulate(np.where(np.r_[True, run_key[1:] != run_key[:-1]], idx, 0))
    course_k = np.where((vt == OP) & (idx - run_start < co.op_sessions[who]), idx - run_start, -1)
    course_kind = np.where(course_k >= 0, co.op_kind[who], -1)
    if (course_k >= 0).any():
        c_prof = np.array([C.PROFILE_INDEX[pk] for _, pk, _ in OP_COURSES], dtype=np.int64)
        prof = np.where(course_k >= 0, c_prof[np.maximum(course_kind, 0)], prof)
        long_rx &= course_k < 0
    return _Cases(
        vt, who, age, female, grp, grp != RESIDENT, prof, chron, reg_v, long_rx, course_k, course_kind
    )


def _visit_places(
    rng: np.random.Generator,
    info: RegionInfo,
    tables: Tables,
    inst: Institutions,
    ppl: People,
    cs: _Cases,
    sch: _Schedule,
    share: float = 0.0,
) -> _Places:
    """Where each visit happens: the institution kind and level by the scheme's level shares (pharmacy
    purchases at a pharmacy, a few consultations at an internet hospital), a surgical stay's operation
    (which may need a higher level), an institution of that kind and level (mostly in the person's
    district), and a course held at the institution of its first session."""
    vt, prof, nv = cs.vt, cs.prof, cs.nv
    n_lv = len(info.level_codes)
    u = rng.random(nv)
    op_cdf = np.where(
        cs.scheme310[:, None], np.cumsum(OP_LEVELS[310])[None, :], np.cumsum(OP_LEVELS[390])[None, :]
    )
    ip_cdf = np.where(
        cs.scheme310[:, None], np.cumsum(IP_LEVELS[310])[None, :], np.cumsum(IP_LEVELS[390])[None, :]
    )
    op_pick = (u[:, None] >= op_cdf).sum(axis=1)  # 0 primary, 1..4 hospital rank
    ip_rank = (u[:, None] >= ip_cdf).sum(axis=1) + 1
    kind = np.where(
        vt == RX, KIND_PHARMACY, np.where((vt == IP) | (op_pick > 0), KIND_HOSPITAL, KIND_PRIMARY)
    )
    rank = np.where(vt == IP, ip_rank, np.maximum(op_pick, 1))
    rank = np.where(vt == RX, 1, rank)
    internet = (vt == OP) & (rng.random(nv) < 0.02) & ~sch.op_course & ~sch.referral
    kind = np.where(internet, KIND_INTERNET, kind)
    rank = np.where(internet, 3, rank)
    # surgery
    surg_ok = tables.prof_surg[1][prof] > 0
    surgical = (vt == IP) & surg_ok & (rng.random(nv) < tables.p_surg[prof]) & ~sch.chemo_v
    s_start, s_len, s_flat = tables.prof_surg
    s_pos = np.minimum(
        s_start[prof] + (rng.random(nv) * np.maximum(s_len[prof], 1)).astype(np.int64), s_flat.size - 1
    )
    surg = np.where(surgical, s_flat[s_pos], 0)
    rank = np.where(surgical, np.maximum(rank, tables.surg_min_rank[surg]), rank)
    rank = np.minimum(rank, n_lv)
    gkey = kind * 8 + rank
    glen = inst.group_len[gkey]
    missing = glen == 0  # no such institution (small level sets): fall back to any hospital of rank 1..
    if missing.any():
        for alt in range(n_lv, 0, -1):
            fix = missing & (inst.group_len[KIND_HOSPITAL * 8 + alt] > 0)
            gkey = np.where(fix, KIND_HOSPITAL * 8 + alt, gkey)
            rank = np.where(fix, alt, rank)
            missing &= ~fix
        glen = inst.group_len[gkey]
    d = ppl.district[cs.who]
    dl = inst.gd_len[gkey, d]
    local = (dl > 0) & (rng.random(nv) < 0.8)
    ui = rng.random(nv)
    inst_idx = np.where(
        local,
        inst.gd_start[gkey, d] + (ui * np.maximum(dl, 1)).astype(np.int64),
        inst.group_start[gkey] + (ui * glen).astype(np.int64),
    )
    # a course is held at one institution: the one of the person's first session of the year
    course = sch.dial_v | sch.chemo_v | sch.op_course
    run_start = sch.run_start
    inst_idx = np.where(course, inst_idx[run_start], inst_idx)
    rank = np.where(course, rank[run_start], rank)  # the level and kind of that institution
    kind = np.where(course, kind[run_start], kind)
    if sch.referral.any() or sch.second_shop.any():
        kind, rank, inst_idx = _second_places(rng, inst, sch, kind, rank, inst_idx)
    if inst.group_len[MATERNITY_GROUP] > 0:
        kind, rank, inst_idx = _maternity_places(
            rng, inst, cs, sch, ppl, share, (kind, rank, inst_idx), surgical
        )
    return _Places(kind, rank, internet, surgical, surg, inst_idx)


def _maternity_places(
    rng: np.random.Generator,
    inst: Institutions,
    cs: _Cases,
    sch: _Schedule,
    ppl: People,
    share: float,
    where: tuple[I64, I64, I64],
    surgical: B,
) -> tuple[I64, I64, I64]:
    """A share of deliveries and gynaecological visits (outpatient and inpatient) go to a maternity
    hospital, the one of the person's district when there is one; not an operation above its level."""
    kind, rank, inst_idx = where
    m_prof = np.array([C.PROFILE_INDEX[k] for k in MATERNITY_PROFILES], dtype=np.int64)
    start, ln = inst.group_start[MATERNITY_GROUP], inst.group_len[MATERNITY_GROUP]
    m_rank = int(inst.rank[start])
    ok = np.isin(cs.prof, m_prof) & ((cs.vt == OP) | (cs.vt == IP)) & ~sch.op_course & ~sch.referral
    ok &= ~surgical | (rank <= m_rank)
    go = ok & (rng.random(cs.nv) < share)
    home = ppl.district[cs.who]
    mine = inst.district[start : start + ln]
    first = np.full(len(inst.gd_len[0]), -1, dtype=np.int64)
    for j in range(ln - 1, -1, -1):
        first[mine[j]] = start + j
    pick = np.where(first[home] >= 0, first[home], start + (cs.who % ln))
    return (
        np.where(go, KIND_HOSPITAL, kind),
        np.where(go, m_rank, rank),
        np.where(go, pick, inst_idx),
    )


def _second_places(
    rng: np.random.Generator, inst: Institutions, sch: _Schedule, kind: I64, rank: I64, inst_idx: I64
) -> tuple[I64, I64, I64]:
    """Where same-day second visits go: a referral to a hospital one level up (at least level 3) outside
    the district of the visit that referred it; a second pharmacy stop to another pharmacy."""
    nv = kind.size
    prev = np.maximum(np.arange(nv) - 1, 0)
    kind, rank, inst_idx = kind.copy(), rank.copy(), inst_idx.copy()
    ref = np.flatnonzero(sch.referral)
    if ref.size:
        want = np.maximum(np.where(kind[prev[ref]] == KIND_HOSPITAL, rank[prev[ref]] + 1, 3), 3)
        r = np.zeros(ref.size, dtype=np.int64)
        for alt in range(
            1, MATERNITY_GROUP
        ):  # the highest hospital level up to the wanted one the region has
            r = np.where((alt <= want) & (inst.group_len[KIND_HOSPITAL * 8 + alt] > 0), alt, r)
        g = KIND_HOSPITAL * 8 + r
        home = inst.district[inst_idx[prev[ref]]]
        pick = inst.group_start[g] + (rng.random(ref.size) * inst.group_len[g]).astype(np.int64)
        again = inst.group_start[g] + (rng.random(ref.size) * inst.group_len[g]).astype(np.int64)
        pick = np.where(inst.district[pick] == home, again, pick)  # another district when the level has one
        ok = r > 0
        kind[ref[ok]], rank[ref[ok]], inst_idx[ref[ok]] = KIND_HOSPITAL, r[ok], pick[ok]
    shop = np.flatnonzero(sch.second_shop)
    if shop.size:
        first = inst_idx[prev[shop]]
        g = kind[prev[shop]] * 8 + rank[prev[shop]]
        start, ln = inst.group_start[g], np.maximum(inst.group_len[g], 1)
        step = 1 + (rng.random(shop.size) * np.maximum(ln - 1, 1)).astype(np.int64)
        inst_idx[shop] = start + (first - start + step) % ln
        kind[shop], rank[shop] = kind[prev[shop]], rank[prev[shop]]
    return kind, rank, inst_idx


def _physicians(
    rng: np.random.Generator, rng_dr: np.random.Generator | None, inst: Institutions, inst_idx: I64
) -> tuple[I64, I64]:
    """The physician who sees the patient and bills each visit (index into the registry; -1 at a
    pharmacy) and their title, drawn from ``rng_dr`` (default: a stream derived from ``rng``)."""
    nv = inst_idx.size
    rdr = rng_dr if rng_dr is not None else np.random.default_rng(int(rng.integers(1 << 62)))
    dlen = inst.dr_len[inst_idx]
    dr = np.where(
        dlen > 0, inst.dr_start[inst_idx] + (rdr.random(nv) * np.maximum(dlen, 1)).astype(np.int64), -1
    )
    title = np.where(dr >= 0, inst.dr_title[np.maximum(dr, 0)], -1)
    return dr, title


def _stays(rng: np.random.Generator, tables: Tables, cs: _Cases, place: _Places, sch: _Schedule) -> _Stays:
    """Each visit's length of stay (log-normal around the profile's median at the level; a chemotherapy
    cycle a short stay), end day, emergency admission or visit, and treatment outside the region."""
    vt, nv, day = cs.vt, cs.nv, sch.day
    ip = vt == IP
    los_raw = np.exp(np.log(tables.los_median[cs.prof] * LEVEL_LOS[place.rank]) + rng.normal(0, 0.5, nv))
    los_raw = np.clip(np.round(los_raw), 1, 90).astype(np.int64)
    los_raw = np.where(sch.chemo_v, rng.integers(2, 5, nv), los_raw)  # a chemotherapy cycle: a short stay
    end_day = np.where(ip, np.minimum(day + los_raw, sch.ndays - 1), day)
    los = end_day - day
    bed_days = np.maximum(los, 1)
    emergency = np.where(ip, rng.random(nv) < 0.12, (vt == OP) & ~place.internet & (rng.random(nv) < 0.03))
    ur = rng.random(nv)
    remote = (vt != RX) & ~place.internet & (ur < P_REMOTE * np.where(ip, 1.6, 0.85))
    locality = np.where(remote, np.where(rng.random(nv) < 0.6, 1, 2), 0)
    return _Stays(end_day, los, bed_days, emergency, remote, locality)


def _case_mix(rng: np.random.Generator, tables: Tables, prof: I64, rank: I64) -> tuple[F64, I64]:
    """Each visit's care intensity (the profile's, at the level, log-normal spread) and its principal
    diagnosis (one of the profile's)."""
    nv = prof.size
    intensity: F64 = tables.intensity[prof] * LEVEL_INTENSITY[rank] * np.exp(rng.normal(0, 0.35, nv))
    dx_prin: I64 = tables.prof_dx[2][
        tables.prof_dx[0][prof] + (rng.random(nv) * tables.prof_dx[1][prof]).astype(np.int64)
    ]
    return intensity, dx_prin


class _LineBlocks:
    """The fee lines of a chunk as they are drawn, block by block: each block is a set of (visit, item,
    quantity, written days) lines."""

    def __init__(self, rng: np.random.Generator, tables: Tables, cs: _Cases, rank: I64, dx_prin: I64) -> None:
        self.rng, self.tables, self.cs, self.rank, self.dx_prin = rng, tables, cs, rank, dx_prin
        self.v: list[I64] = []
        self.i: list[I64] = []
        self.q: list[I64] = []
        self.d: list[I64] = []  # days of a prescription as written (drug lines outside a stay; else 0)

    def add(self, rows: I64, items: I64, qty_units: F64, days: I64 | None = None) -> None:
        """A block of lines: ``qty_units`` in units (at least half a unit)."""
        self.v.append(rows)
        self.i.append(items)
        self.q.append(np.maximum(np.round(qty_units * QTY_ONE), QTY_ONE // 2).astype(np.int64))
        self.d.append(days if days is not None else np.zeros(rows.size, dtype=np.int64))

    def valid(self, items: I64, rows: I64) -> B:
        """Whether each item may be billed on its visit (sex, age, level, indication)."""
        cs = self.cs
        return _valid(self.tables, items, rows, cs.age, cs.female, self.rank, self.dx_prin)

    def sample(self, pool: tuple[I64, I64, I64], cnt: I64, kind_fb: int) -> tuple[I64, I64]:
        """``cnt`` items per visit from the visit's profile pool, redrawn (three times, then from the
        fallback items of kind ``kind_fb``) while not valid for the visit; (visit rows, items)."""
        rng, tables, prof = self.rng, self.tables, self.cs.prof
        start, ln, flat = pool
        cnt = np.where(ln[prof] > 0, cnt, 0)
        rows = np.repeat(np.arange(self.cs.nv), cnt)
        if rows.size == 0:
            return rows, rows
        p = prof[rows]
        items = flat[start[p] + (rng.random(rows.size) * ln[p]).astype(np.int64)]
        for _ in range(3):
            bad = ~self.valid(items, rows)
            if not bad.any():
                break
            nb = int(bad.sum())
            pb = p[bad]
            items[bad] = flat[start[pb] + (rng.random(nb) * ln[pb]).astype(np.int64)]
        bad = ~self.valid(items, rows)
        if bad.any():
            fb = tables.fallback[kind_fb]
            items[bad] = fb[(rng.random(int(bad.sum())) * fb.size).astype(np.int64)]
        return rows, items

    def fixed(self, mask: B, key: str, qty: F64) -> None:
        """A line of the fixed item ``key`` (when the catalogue has it) on each visit of ``mask``."""
        idx = self.tables.fixed.get(key, -1)
        if idx < 0:
            return
        rows = np.flatnonzero(mask)
        self.add(rows, np.full(rows.size, idx, dtype=np.int64), qty[rows])

    def assemble(self, vt: I64) -> tuple[I64, I64, I64, I64]:
        """The lines (visit, item, quantity, written days) ordered by visit then block, without repeated
        codes within a visit, at most 8 lines outpatient, 5 at a pharmacy (4 drugs + a supply) and 60
        inpatient (later blocks drop first).  Draws nothing."""
        nv = vt.size
        lv = np.concatenate(self.v) if self.v else np.zeros(0, dtype=np.int64)
        li = np.concatenate(self.i) if self.i else np.zeros(0, dtype=np.int64)
        lq = np.concatenate(self.q) if self.q else np.zeros(0, dtype=np.int64)
        ld = np.concatenate(self.d) if self.d else np.zeros(0, dtype=np.int64)
        key = lv * 4096 + li
        _, first = np.unique(key, return_index=True)
        keep = np.sort(first)
        lv, li, lq, ld = lv[keep], li[keep], lq[keep], ld[keep]
        order = np.argsort(lv, kind="stable")
        lv, li, lq, ld = lv[order], li[order], lq[order], ld[order]
        cnt0 = np.bincount(lv, minlength=nv)
        pos_in_visit = np.arange(lv.size) - (np.cumsum(cnt0) - cnt0)[lv]
        cap = np.where(vt == IP, 60, np.where(vt == RX, 5, 8))[lv]
        fit = pos_in_visit < cap
        return lv[fit], li[fit], lq[fit], ld[fit]


def _consultation_lines(
    rng: np.random.Generator, blocks: _LineBlocks, cs: _Cases, place: _Places, emergency: B, title: I64
) -> None:
    """Consultation and registration lines of outpatient and 门慢门特 visits: primary care, internet,
    emergency or the ordinary consultation graded by the physician's title, and a registration fee."""
    vt, nv, kind, rank = cs.vt, cs.nv, place.kind, place.rank
    one = np.ones(nv)
    opv = ((vt == OP) | (vt == MT)) & (cs.course_k <= 0)  # a course bills its consultation once
    hosp = kind == KIND_HOSPITAL
    u2 = rng.random(nv)
    blocks.fixed(opv & (kind == KIND_PRIMARY), "primary", one)
    blocks.fixed(opv & place.internet, "net", one)
    blocks.fixed(opv & hosp & emergency, "er", one)
    normal = opv & hosp & ~emergency & ((vt == OP) | (u2 < 0.6))
    # the consultation grade follows the physician's title at level 3 and above (主任 / 副主任医师诊察费);
    # below level 3 every consultation is billed at the ordinary grade
    blocks.fixed(normal & ((rank < 3) | (title >= 2)), "consult", one)
    blocks.fixed(normal & (rank >= 3) & (title == 1), "deputy", one)
    blocks.fixed(normal & (rank >= 3) & (title == 0), "chief", one)
    blocks.fixed(opv & hosp & (rng.random(nv) < 0.35), "reg", one)


def _course_lines(tables: Tables, blocks: _LineBlocks, cs: _Cases) -> None:
    """The treatment item of each outpatient course session, one unit (rehabilitation, acupuncture or
    tuina, infusion); a TCM course is acupuncture or tuina by person.  Draws nothing."""
    rows = np.flatnonzero(cs.course_k >= 0)
    if rows.size == 0:
        return
    choice = np.full(rows.size, -1, dtype=np.int64)
    for c, (_, _, codes) in enumerate(OP_COURSES):
        idx = np.array([tables.code_index.get(x, -1) for x in codes], dtype=np.int64)
        mine = cs.course_kind[rows] == c
        choice = np.where(mine, idx[cs.who[rows] % idx.size], choice)
    ok = choice >= 0
    blocks.add(rows[ok], choice[ok], np.ones(int(ok.sum())))


def _month_day(d: npt.NDArray[np.datetime64]) -> I64:
    """Month × 100 + day of each date."""
    m = (d.astype("datetime64[M]") - d.astype("datetime64[Y]")).astype(np.int64) + 1
    return np.asarray(m * 100 + (d - d.astype("datetime64[M]")).astype(np.int64) + 1, dtype=np.int64)


def _inpatient_daily_lines(
    rng: np.random.Generator,
    blocks: _LineBlocks,
    ppl: People,
    cs: _Cases,
    year: int,
    day: I64,
    bed_days: I64,
    intensity: F64,
) -> B:
    """The fixed daily items of a stay over its bed days: the inpatient fee, newborn bed and nursing
    (before the first birthday), else a bed grade or intensive care, and a nursing grade.  Returns which
    stays are in intensive care."""
    vt, prof, age, nv = cs.vt, cs.prof, cs.age, cs.nv
    ip = vt == IP
    # newborn items (age limit 0) only before the first birthday: age 0 on 1 January can be 1 by the visit
    birth = ppl.table.column("birth_date").to_numpy().astype("datetime64[D]")[cs.who]
    vdate = np.datetime64(f"{year}-01-01", "D") + day.astype("timedelta64[D]")
    under_one = (age == 0) & (_month_day(vdate) < _month_day(birth))
    neo = ip & under_one & (prof == C.PROFILE_INDEX["neonatal"])
    ub = rng.random(nv)
    bd = bed_days.astype(np.float64)
    blocks.fixed(ip, "ip", bd)
    blocks.fixed(ip & neo, "bedneo", bd)
    blocks.fixed(ip & neo, "nurseneo", bd)
    adult_ip = ip & ~neo
    icu: B = adult_ip & (intensity > 1.9) & (ub < 0.5)
    blocks.fixed(adult_ip & ~icu & (ub < 0.72), "bed3", bd)
    blocks.fixed(adult_ip & ~icu & (ub >= 0.72) & (ub < 0.93), "bed2", bd)
    blocks.fixed(adult_ip & ~icu & (ub >= 0.93), "bed1", bd)
    blocks.fixed(icu, "icu", np.minimum(bd, 5))
    blocks.fixed(icu & (bd > 5), "bed3", bd - 5)
    blocks.fixed(adult_ip & (ub < 0.75), "nurse2", bd)
    blocks.fixed(adult_ip & (ub >= 0.75), "nurse1", bd)
    return icu


def _drug_lines(
    rng: np.random.Generator,
    tables: Tables,
    blocks: _LineBlocks,
    cs: _Cases,
    dial_v: B,
    bed_days: I64,
    intensity: F64,
) -> None:
    """Drug lines: a number of drugs per visit by type (a stay's by its intensity; most dialysis
    sessions none), drawn from the outpatient, pharmacy and inpatient pools, with their quantities and
    written days."""
    vt, nv = cs.vt, cs.nv
    n_drug = np.select(
        [vt == OP, vt == MT, vt == RX, vt == IP],
        [
            1 + rng.binomial(3, 0.35, nv),
            1 + rng.binomial(3, 0.45, nv),
            1 + rng.binomial(3, 0.3, nv),
            5 + rng.poisson(np.clip(6.0 * intensity, 1, 16)),
        ],
    )
    n_drug = np.minimum(n_drug, 24)
    # most dialysis sessions: no take-home drugs
    n_drug = np.where(dial_v & (rng.random(nv) < 0.9), 0, n_drug)
    # a course session after the first: the infusion's drug, else none
    infusion = cs.course_kind == [c for c, _, _ in OP_COURSES].index("infusion")
    n_drug = np.where(cs.course_k > 0, np.where(infusion, 1, 0), n_drug)
    opv = (vt == OP) | (vt == MT)
    for pool, mask in (
        (tables.pool_drug, opv),
        (tables.pool_drug_rx, vt == RX),
        (tables.pool_drug_ip, vt == IP),
    ):
        rows, items = blocks.sample(pool, np.where(mask, n_drug, 0), 0)
        if rows.size:
            blocks.add(
                rows,
                items,
                *_drug_qty(
                    rng,
                    tables,
                    items,
                    vt[rows],
                    bed_days[rows],
                    intensity[rows],
                    cs.prof[rows] == cs.chron[rows],
                    cs.long_rx[rows],
                ),
            )


def _other_lines(
    rng: np.random.Generator, tables: Tables, blocks: _LineBlocks, cs: _Cases, internet: B, bed_days: I64
) -> None:
    """Labs, exams, services and materials: counts per visit by type (none at an internet hospital;
    a dialysis patient's session and supplies), drawn from the outpatient and inpatient pools."""
    vt, nv, prof = cs.vt, cs.nv, cs.prof
    n_lab = np.select(
        [vt == OP, vt == MT, vt == IP],
        [rng.binomial(2, 0.3, nv), rng.binomial(2, 0.25, nv), 4 + rng.binomial(8, 0.5, nv)],
        0,
    )
    n_exam = np.select(
        [vt == OP, vt == MT, vt == IP],
        [rng.binomial(1, 0.2, nv), rng.binomial(1, 0.1, nv), 1 + rng.binomial(2, 0.45, nv)],
        0,
    )
    ckd = prof == C.PROFILE_INDEX["ckd"]
    n_svc = np.select(
        [vt == OP, vt == MT, vt == IP],
        [rng.binomial(1, 0.3, nv), np.where(ckd, 1, rng.binomial(1, 0.1, nv)), 1 + rng.binomial(2, 0.5, nv)],
        0,
    )
    n_mat = np.select(
        [vt == MT, vt == RX, vt == IP],
        [np.where(ckd, 1, 0), rng.binomial(1, 0.3, nv), 1 + rng.binomial(3, 0.5, nv)],
        0,
    )
    opv = ((vt == OP) | (vt == MT)) & (cs.course_k <= 0)  # a course session after the first: its item only
    ip = vt == IP
    nl = ~internet
    for pool, cnt, kfb in (
        (tables.pool_lab, np.where(opv & nl, n_lab, 0), 1),
        (tables.pool_lab_ip, np.where(ip, n_lab, 0), 1),
        (tables.pool_exam, np.where(opv & nl, n_exam, 0), 1),
        (tables.pool_exam_ip, np.where(ip, n_exam, 0), 1),
        (tables.pool_svc, np.where(opv & nl, n_svc, 0), 1),
        (tables.pool_svc_ip, np.where(ip, n_svc, 0), 1),
        (tables.pool_mat, np.where((vt == MT) | (vt == RX), n_mat, 0), 2),
        (tables.pool_mat_ip, np.where(ip, n_mat, 0), 2),
    ):
        rows, items = blocks.sample(pool, cnt, kfb)
        if rows.size:
            blocks.add(rows, items, _other_qty(rng, tables, items, vt[rows], bed_days[rows]))


def _surgery_lines(tables: Tables, blocks: _LineBlocks, place: _Places) -> None:
    """The items of each surgical stay's operation (operation fee, anaesthesia, implants) that are valid
    for the visit.  Draws nothing."""
    srows = np.flatnonzero(place.surgical)
    if srows.size:
        st, sl, sf = tables.surg_items
        cnt = sl[place.surg[srows]]
        rows = np.repeat(srows, cnt)
        offs = np.arange(rows.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        items = sf[st[place.surg[rows]] + offs]
        ok = blocks.valid(items, rows)
        blocks.add(rows[ok], items[ok], np.ones(int(ok.sum())))


def _prescribed_quantities(
    rng: np.random.Generator,
    tables: Tables,
    cv: Conventions,
    cs: _Cases,
    day: I64,
    dx_prin: I64,
    lv: I64,
    li: I64,
    lq: I64,
    ld: I64,
) -> tuple[I64, I64, I64, I64, I64]:
    """Compliant prescribing: quantities within the knowledge base's supply, course and period limits
    (lines left with none dropped), the days each prescription states, and take-home drugs dispensed in
    whole packs (within one pack of the days' need); (lv, li, lq, ld, prd_days)."""
    vt, reg_v = cs.vt, cs.reg_v
    lq = _apply_limits(tables, vt, cs.who, day, lv, li, lq, dx_prin, reg_v)
    given = lq > 0
    lv, li, lq, ld = lv[given], li[given], lq[given], ld[given]
    prd_days = _stated_days(tables, vt[lv], tables.dx_long[dx_prin[lv]], li, lq, ld, reg_v[lv])
    packed = (
        (vt[lv] != IP)
        & (tables.pack[li] > 0)
        & ~tables.course_item[li]
        & (rng.random(li.size) < cv.whole_pack_share)
    )
    pk = np.maximum(tables.pack[li], 1)
    lq = np.where(packed, -(-lq // pk) * pk, lq)
    return lv, li, lq, ld, prd_days


def _priced_lines(
    rng: np.random.Generator,
    tables: Tables,
    cv: Conventions,
    vt: I64,
    icu: B,
    lv: I64,
    li: I64,
    lq: I64,
    ld: I64,
    prd_days: I64,
) -> _Priced:
    """Per-day lines (bed, nursing and the daily consultation one line a day over the stay when the
    conventions say so) and prices: the unit price, services varying ±10% by hospital in 30% of lines."""
    lv, li, lq, ld, prd_days, day_off = _per_day_lines(
        tables, vt, icu, lv, li, lq, ld, prd_days, cv.per_day_lines
    )
    price = tables.price[li].copy()
    var = (tables.kind[li] == 1) & (rng.random(li.size) < 0.3)
    factor = 1 + rng.uniform(-0.1, 0.1, int(var.sum()))
    price[var] = np.maximum(np.round(price[var] * factor), 1).astype(np.int64)
    amount = price_times_qty(price, lq)
    return _Priced(lv, li, lq, prd_days, day_off, price, amount)


def _visit_order(rng: np.random.Generator, nv: int, day: I64, pr: _Priced, visit_base: int) -> _Order:
    """Each visit's line count and cost; visits without lines dropped (should not happen; defensive);
    the others numbered from ``visit_base`` by day with a random tie-break."""
    n_lines = np.bincount(pr.lv, minlength=nv).astype(np.int64)
    cost = np.bincount(pr.lv, weights=pr.amount, minlength=nv).astype(np.int64)
    vkeep = n_lines > 0
    tie = rng.random(nv)
    vorder = np.lexsort((tie, day))
    vorder = vorder[vkeep[vorder]]
    new_id = np.full(nv, -1, dtype=np.int64)
    new_id[vorder] = visit_base + np.arange(vorder.size)
    return _Order(n_lines, cost, vkeep, vorder, new_id)


def _secondary_diagnoses(
    rng: np.random.Generator, tables: Tables, cs: _Cases, dx_prin: I64
) -> tuple[I64, I64]:
    """Secondary diagnoses (index into the diagnosis table; -1: none): the patient's chronic condition
    when it is not the visit's profile, and an age-related comorbidity (never a repeat, never a male-only
    diagnosis for a woman)."""
    nv, chron, age, vt = cs.nv, cs.chron, cs.age, cs.vt
    sec1 = np.where(
        (chron >= 0) & (chron != cs.prof) & (rng.random(nv) < 0.7),
        tables.prof_dx[2][tables.prof_dx[0][np.maximum(chron, 0)]],
        -1,
    )
    com = np.array([tables.dx_index[c] for c in C.COMORBID])
    sec2 = np.where(
        (age >= 45) & (vt != RX) & (rng.random(nv) < np.where(vt == IP, 0.45, 0.15)),
        com[(rng.random(nv) * com.size).astype(np.int64)],
        -1,
    )
    male_only = np.array([tables.dx_index["N40"]])
    sec2 = np.where((sec2 == dx_prin) | (sec2 == sec1) | (cs.female & np.isin(sec2, male_only)), -1, sec2)
    return sec1, sec2


def _account_use(rng: np.random.Generator, ppl: People, cs: _Cases) -> tuple[B, I64]:
    """Whether each visit pays from a personal account (employees mostly; a family member's account
    when the patient's own is empty) and whose account (-1: the patient's own)."""
    nv, who = cs.nv, cs.who
    bal = ppl.balance[who]
    fam = ppl.family_payer[who]
    fam_use = (fam >= 0) & (bal == 0) & (rng.random(nv) < 0.5)
    use_account = np.where(cs.scheme310, rng.random(nv) < 0.95, False) | fam_use
    account_payer = np.where(fam_use, fam, -1)
    return use_account, account_payer


def _discharge_status(rng: np.random.Generator, n: int, cs: _Cases, day: I64, vkeep: B) -> I64:
    """Discharge status of each stay: 1 home, 2 transferred, 4 died (index into ["1", "2", "4"]).  A person
    can die only in their last stay of the year (no visit begins on or after its admission day), so no
    visit follows a death."""
    nv, who, age = cs.nv, cs.who, cs.age
    ip = cs.vt == IP
    last_day = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_day, who[vkeep], day[vkeep])
    later = np.zeros(nv, dtype=bool)  # another kept visit of the same person on the same last day
    same = vkeep & (day == last_day[who])
    k_same = np.bincount(who[same], minlength=n)
    later[same] = k_same[who[same]] > 1
    can_die = ip & vkeep & (day == last_day[who]) & ~later
    died = can_die & (rng.random(nv) < np.where(age >= 80, 0.03, np.where(age >= 60, 0.012, 0.003)))
    discharge: I64 = np.where(ip, np.where(died, 2, np.where(rng.random(nv) < 0.01, 1, 0)), 0)
    return discharge


def _visits_table(
    info: RegionInfo,
    tables: Tables,
    inst: Institutions,
    ppl: People,
    year: int,
    cs: _Cases,
    sch: _Schedule,
    place: _Places,
    st: _Stays,
    order: _Order,
    dr: I64,
    dx: tuple[I64, I64, I64],
    acct: tuple[B, I64],
    discharge: I64,
) -> pa.Table:
    """The visits table of the chunk in visit_id order: ``dr`` each visit's billing physician, ``dx`` its
    principal and secondary diagnoses, ``acct`` its account use and account payer.  Draws nothing."""
    vo = order.vorder
    use_account, account_payer = acct
    vt, ip = cs.vt, cs.vt == IP
    dx_prin, sec1, sec2 = dx
    procs = np.where(place.surgical, place.surg, -1)
    jan1 = np.datetime64(f"{year}-01-01", "D")
    dx_tab = tables.dx_arr
    d1 = dx_tab.take(pa.array(dx_prin[vo]))
    d2 = dx_tab.take(pa.array(sec1[vo], mask=sec1[vo] < 0))
    d3 = dx_tab.take(pa.array(sec2[vo], mask=sec2[vo] < 0))
    diagnoses = pc.binary_join_element_wise(d1, d2, d3, "|", null_handling="skip")
    surg_proc = tables.surg_proc.take(pa.array(np.maximum(procs[vo], 0)))
    ip_proc = tables.ip_proc.take(pa.array(cs.prof[vo]))
    pr = pc.if_else(pa.array(procs[vo] >= 0), surg_proc, pc.if_else(pa.array(ip[vo]), ip_proc, pa.scalar("")))
    vid = order.new_id[vo]
    loc_names = pa.array(["local", "remote_filed", "remote_unfiled"], pa.string())
    lvl_arr = pa.array(info.level_codes, pa.string())
    inst_codes = inst.table.column("fixmedins_code").combine_chunks()
    return pa.table(
        {
            "visit_id": pa.array(vid),
            "seq": pa.array(vid),
            "mdtrt_id": prefixed_digits(f"{info.admdvs}{year}", vid, 12),
            "psn_id": pa.array(ppl.psn_id[cs.who[vo]]),
            "med_type": pa.array(list(VTYPE_CODES), pa.string()).take(pa.array(vt[vo])),
            "fixmedins_code": inst_codes.take(pa.array(place.inst_idx[vo])),
            "hosp_lv": lvl_arr.take(pa.array(place.rank[vo] - 1)),
            "bilg_dr_codg": inst.physicians.column("dr_code")
            .combine_chunks()
            .take(pa.array(np.maximum(dr[vo], 0), mask=dr[vo] < 0)),
            "begin_date": pa.array(jan1 + sch.day[vo].astype("timedelta64[D]"), pa.date32()),
            "end_date": pa.array(jan1 + st.end_day[vo].astype("timedelta64[D]"), pa.date32()),
            "locality": loc_names.take(pa.array(st.locality[vo])),
            "emergency": pa.array(st.emergency[vo]),
            "use_account": pa.array(use_account[vo]),
            "account_payer_id": pa.array(account_payer[vo]),
            "diagnoses": diagnoses,
            "procedures": pr,
            "los_days": pa.array(st.los[vo].astype(np.int16)),
            "discharge_status": pa.array(["1", "2", "4"], pa.string()).take(pa.array(discharge[vo])),
            "scenario": pa.nulls(vo.size, pa.string()),
            "n_lines": pa.array(order.n_lines[vo].astype(np.int16)),
        },
        schema=VISITS_SCHEMA,
    )


def _lines_table(tables: Tables, year: int, pr: _Priced, fee_day: I64, order: _Order) -> pa.Table:
    """The lines table of the chunk in visit_id order, each visit's lines numbered from 1 (scattered into
    place without a sort: destination = the visit's offset + the line's position in the visit).  Draws
    nothing."""
    lv, n_lines, vorder = pr.lv, order.n_lines, order.vorder
    nv = n_lines.size
    jan1 = np.datetime64(f"{year}-01-01", "D")
    pos = np.arange(lv.size) - (np.cumsum(n_lines) - n_lines)[lv]
    off = np.zeros(nv, dtype=np.int64)
    off[vorder] = np.cumsum(n_lines[vorder]) - n_lines[vorder]
    lorder = np.empty(lv.size, dtype=np.int64)
    lorder[off[lv] + pos] = np.arange(lv.size)
    lv_sorted = order.new_id[lv][lorder]
    sn = (pos[lorder] + 1).astype(np.int32)
    prd = pr.prd_days[lorder]
    return pa.table(
        {
            "visit_id": pa.array(lv_sorted),
            "feedetl_sn": pa.array(sn),
            "code": tables.codes.take(pa.array(pr.li[lorder])),
            "qty": pa.array(pr.lq[lorder]),
            "price": pa.array(pr.price[lorder]),
            "amount": pa.array(pr.amount[lorder]),
            "scenario": pa.nulls(lv_sorted.size, pa.string()),
            "prd_days": pa.array(prd.astype(np.int16), mask=prd <= 0),
            "fee_ocur_time": pa.array(jan1 + fee_day[lorder].astype("timedelta64[D]"), pa.date32()),
        },
        schema=LINES_SCHEMA,
    )


def _rx_season(year: int, ndays: int, cv: Conventions) -> F64:
    """Relative weight of each day of ``year`` for pharmacy purchases: December and the ten days before
    the Spring Festival (approximated as 28 January) and National Day (1 October) are busier."""
    w = np.ones(ndays)
    jan1 = dt.date(year, 1, 1)
    dec1 = (dt.date(year, 12, 1) - jan1).days
    w[dec1:] *= 1 + cv.december_rx_boost
    for holiday in (dt.date(year, 1, 28), dt.date(year, 10, 1)):
        h = (holiday - jan1).days
        w[max(h - 10, 0) : h] *= 1 + cv.preholiday_rx_boost
    return w


def _per_day_lines(
    tables: Tables, vt: I64, icu: B, lv: I64, li: I64, lq: I64, ld: I64, prd: I64, split: bool
) -> tuple[I64, I64, I64, I64, I64, I64]:
    """Lines with each per-day item of a stay (bed, nursing, the daily consultation) as one line per day
    of one unit when ``split``, and ``day_off``: each line's day within its stay (-1: not a per-day line).
    An ordinary bed after the first five intensive-care days starts on day five.  Draws nothing."""
    daily = (vt[lv] == IP) & (tables.per_day[li] | np.isin(li, tables.daily_fixed))
    whole = (lq % QTY_ONE) == 0
    expand = daily & whole & split
    n = np.where(expand, lq // QTY_ONE, 1).astype(np.int64)
    rep = np.repeat(np.arange(lv.size), n)
    k = np.arange(rep.size) - np.repeat(np.cumsum(n) - n, n)
    after_icu = (li == tables.fixed.get("bed3", -1)) & icu[lv]
    off = np.where(expand[rep], k + np.where(after_icu[rep], 5, 0), np.where(daily[rep], 0, -1))
    q = np.where(expand[rep], QTY_ONE, lq[rep])
    return lv[rep], li[rep], q, ld[rep], prd[rep], off.astype(np.int64)


def _fee_days(
    rng: np.random.Generator, tables: Tables, vt: I64, day: I64, end_day: I64, lv: I64, li: I64, day_off: I64
) -> I64:
    """The service day (2204 ``fee_ocur_time``, day of the year) of each line: the visit's day outside a
    stay; in a stay, per-day items (bed, nursing, the daily consultation) on the admission day (their
    quantity covers the stay) and every other item on a day of the stay.  Draws last in the chunk, so the
    rest of the chunk does not depend on it."""
    start = day[lv]
    span = end_day[lv] - start + 1
    u = rng.random(lv.size)
    daily = tables.per_day[li] | np.isin(li, tables.daily_fixed)
    spread = (vt[lv] == IP) & ~daily
    fixed = np.minimum(start + np.maximum(day_off, 0), end_day[lv])
    return np.where(spread, start + np.minimum((u * span).astype(np.int64), span - 1), fixed)


def _valid(tables: Tables, items: I64, rows: I64, age: I64, female: B, rank: I64, dx: I64) -> B:
    s = tables.sex[items]
    a = age[rows]
    fem = female[rows]
    ok = (s == 0) | ((s == 1) & ~fem) | ((s == 2) & fem)
    # ``age`` is the age on 1 January; by the visit date the person may be a year older, so an item with
    # an upper age limit must allow that older age too (clean visits never break an age restriction)
    ok &= (a >= tables.min_age[items]) & (a + 1 <= tables.max_age[items])
    ok &= tables.min_rank[items] <= rank[rows]
    ok &= tables.ind_ok[dx[rows], items]
    return np.asarray(ok, dtype=np.bool_)


def _stated_days(tables: Tables, vt: I64, long_dx: B, items: I64, qty: I64, drawn: I64, reg: B) -> I64:
    """The days a compliant prescription states (2204 ``prd_days``; 0 = none: not a drug line outside a
    stay): the days the quantity model drew, at least what the quantity lasts at the largest daily dose
    (the supply table), at most the item's (else the visit type's) supply days — a registered person's
    when ``reg``.  Draws nothing."""
    per = tables.supply_q[items]
    need = np.where(per > 0, -(-qty // np.maximum(per, 1)), 0)
    lim = np.where(long_dx, tables.days_cap_long[vt, items], tables.days_cap[vt, items])
    lim = np.where(reg, np.maximum(lim, tables.days_cap_reg[vt, items]), lim)
    days = np.maximum(drawn, need)
    days = np.where(lim > 0, np.minimum(days, lim), days)
    return np.where(drawn > 0, days, 0)


def _drug_qty(
    rng: np.random.Generator,
    tables: Tables,
    items: I64,
    vt: I64,
    bed_days: I64,
    intensity: F64,
    chronic: B,
    long_rx: B,
) -> tuple[F64, I64]:
    """Quantities (units) of drug lines, and the days each outpatient / pharmacy prescription is written
    for (0 in a stay).

    Outside a stay a drug with a supply row (``Tables.supply_q``: the 说明书 usual daily dose) is taken
    at a whole number of units a day between half that dose and the dose, for the days drawn; a cheap drug
    without one at 1-3 units a day.  In a stay the daily units stay 1-3, scaled by ``IP_DOSE_SCALE``
    (which calibrates the cost per admission)."""
    p = tables.price[items]
    n = items.size
    ipm = vt == IP
    per_day = rng.integers(1, 4, n).astype(np.float64)
    days = np.where(chronic | (vt == MT) | (vt == RX), rng.integers(14, 31, n), rng.integers(3, 8, n))
    days = np.where(long_rx & chronic, rng.integers(56, 85, n), days)  # 长期处方: 8-12 weeks
    herb = tables.herb[items]
    doses = np.where(ipm, np.minimum(bed_days, 14), 7)
    grams = np.where(p <= 200, rng.integers(6, 31, n) * doses, rng.integers(1, 6, n))
    # inpatient: daily doses over part of the stay, scaled by the case's intensity
    ip_daily = np.maximum(
        np.round(per_day * IP_DOSE_SCALE * intensity * bed_days * rng.uniform(0.4, 1.0, n)), 1
    )
    ip_dear = np.maximum(np.round(bed_days * rng.uniform(0.15, 0.5, n) * intensity), 1)
    ip_q = np.select([p < 10_000, p < 100_000], [ip_daily, ip_dear], rng.integers(1, 3, n))
    op_q = np.select(
        [p < 500, p < 5_000, p < 100_000], [per_day * days, rng.integers(1, 7, n), rng.integers(1, 3, n)], 1
    )
    half = (p < 500) & ~herb & (rng.random(n) < 0.1)
    if tables.supply_q.any():  # drawn last, so that a region without supply rows draws as before
        usual = tables.supply_q[items]
        lo = np.maximum(-(-usual // (2 * QTY_ONE)), 1)
        hi = np.maximum(usual // QTY_ONE, lo)
        dose = lo + np.floor(rng.random(n) * (hi - lo + 1))
        dosed = (usual >= QTY_ONE) & ~herb
        op_q = np.where(dosed, dose * days, op_q)
    q = np.where(herb, grams, np.where(ipm, ip_q, op_q)).astype(np.float64)
    written = np.where(ipm, 0, np.where(herb, doses, days)).astype(np.int64)
    return np.round(q) + np.where(half, 0.5, 0.0), written


def _other_qty(rng: np.random.Generator, tables: Tables, items: I64, vt: I64, bed_days: I64) -> F64:
    n = items.size
    p = tables.price[items]
    kind = tables.kind[items]
    ipm = vt == IP
    daily = np.isin(items, np.array([tables.code_index.get(c, -1) for c in C.GENERIC_IP_SERVICES]))
    q = np.ones(n)
    q = np.where(ipm & tables.per_hour[items], bed_days * rng.integers(4, 25, n), q)
    q = np.where(ipm & (tables.per_day[items] | daily), bed_days, q)
    q = np.where(ipm & (kind == 0), 1, q)
    labs = tables.lab[items]
    q = np.where(ipm & labs, np.maximum(np.round(bed_days * rng.uniform(0.2, 0.5, n)), 1), q)
    cheap_mat = (kind == 2) & (p < 5_000)
    q = np.where(cheap_mat, np.where(ipm, bed_days * rng.integers(1, 3, n), rng.integers(1, 4, n)), q)
    q = np.where(~ipm & tables.per_hour[items], rng.integers(1, 3, n), q)
    return q.astype(np.float64)


# ----------------------------------------------------------------------------- driver
@dataclass
class Stats:
    """Running sums for the calibration table."""

    persons: I64 = field(default_factory=lambda: np.zeros(3, dtype=np.int64))
    age_band: I64 = field(default_factory=lambda: np.zeros(3, dtype=np.int64))  # 0-14, 15-59, 60+
    female: int = 0
    ident_res: int = 0
    ident_low_q: int = 0
    ident_total: int = 0
    family: int = 0
    visits: I64 = field(default_factory=lambda: np.zeros((3, 4), dtype=np.int64))
    cost: I64 = field(default_factory=lambda: np.zeros((3, 4), dtype=np.int64))
    lines: I64 = field(default_factory=lambda: np.zeros(4, dtype=np.int64))
    remote: int = 0
    remote_base: int = 0

    def add_people(self, ppl: People) -> None:
        self.persons += np.bincount(ppl.group, minlength=3)
        self.age_band += np.bincount(np.digitize(ppl.age, [15, 60]), minlength=3)
        self.female += int(ppl.female.sum())
        res = ppl.group == RESIDENT
        hard = np.isin(np.array(ppl.identities, dtype=object), ["DB", "TK", "FP"])
        self.ident_res += int((hard & res).sum())
        q20 = np.quantile(ppl.pc_income, 0.2)
        self.ident_total += int(hard.sum())
        self.ident_low_q += int((hard & (ppl.pc_income <= q20)).sum())
        self.family += int((ppl.family_payer >= 0).sum())

    def add_chunk(self, ch: Chunk) -> None:
        np.add.at(self.visits, (ch.group, ch.vtype), 1)
        np.add.at(self.cost, (ch.group, ch.vtype), ch.cost)
        nl = ch.visits.column("n_lines").to_numpy().astype(np.int64)
        np.add.at(self.lines, ch.vtype, nl)
        self.remote += int(ch.remote.sum())
        self.remote_base += int((ch.vtype != RX).sum())

    def calibration(self) -> list[dict[str, Any]]:
        P = self.persons.astype(float)
        emp, ret, res = P[IN_SERVICE] + P[RETIRED], P[RETIRED], P[RESIDENT]
        tot = P.sum()
        V, K = self.visits.astype(float), self.cost.astype(float) / 100.0
        adm_emp = V[IN_SERVICE, IP] + V[RETIRED, IP]
        rows: list[dict[str, Any]] = []

        def row(name: str, target: float | None, achieved: float, source: str, note: str = "") -> None:
            rows.append(
                {
                    "metric": name,
                    "target": target,
                    "achieved": round(achieved, 4),
                    "source": source,
                    "note": note,
                }
            )

        sd = max(tot, 1)
        row(
            "employee share of insured",
            38_856.12 / 133_069.39,
            emp / sd,
            "2025年全国医疗保障事业发展统计公报",
        )
        row(
            "retired share of employees",
            10_793.80 / 38_856.12,
            ret / max(emp, 1),
            "2025年全国医疗保障事业发展统计公报",
        )
        row(
            "in-service : retired ratio",
            2.60,
            P[IN_SERVICE] / max(ret, 1),
            "2025年全国医疗保障事业发展统计公报 (derived)",
        )
        row(
            "share aged 0–14",
            0.17,
            self.age_band[0] / sd,
            "第七次全国人口普查 2020 (to check)",
            "background figure, not a bulletin figure",
        )
        row(
            "share aged 60+",
            0.21,
            self.age_band[2] / sd,
            "第七次全国人口普查 2020 (to check)",
            "background figure, not a bulletin figure",
        )
        row("female share", 0.49, self.female / sd, "第七次全国人口普查 2020 (to check)")
        row(
            "residents with 低保/特困/返贫致贫",
            0.045,
            self.ident_res / max(res, 1),
            "modelling assumption: 3–6%",
        )
        row(
            "those identities in bottom income quintile",
            1.0,
            self.ident_low_q / max(self.ident_total, 1),
            "model constraint",
        )
        row(
            "admission rate, employees",
            0.214,
            adm_emp / max(emp, 1),
            "2025年全国医疗保障事业发展统计公报 (derived)",
        )
        row(
            "admission rate, residents",
            0.208,
            V[RESIDENT, IP] / max(res, 1),
            "2025年全国医疗保障事业发展统计公报 (derived)",
        )
        row(
            "cost per admission, employees (元)",
            11_522,
            (K[IN_SERVICE, IP] + K[RETIRED, IP]) / max(adm_emp, 1),
            "2025年全国医疗保障事业发展统计公报",
        )
        row(
            "cost per admission, residents (元)",
            7_339,
            K[RESIDENT, IP] / max(V[RESIDENT, IP], 1),
            "2025年全国医疗保障事业发展统计公报",
        )
        per_head_in = K[IN_SERVICE].sum() / max(P[IN_SERVICE], 1)
        per_head_ret = K[RETIRED].sum() / max(ret, 1)
        row(
            "retiree / in-service medical cost per head",
            3.34,
            per_head_ret / max(per_head_in, 1e-9),
            "2025年全国医疗保障事业发展统计公报 (derived)",
        )
        row(
            "retiree medical cost per head (元)",
            9_614,
            per_head_ret,
            "2025年全国医疗保障事业发展统计公报 (derived)",
        )
        ev_emp = V[IN_SERVICE].sum() + V[RETIRED].sum()
        row(
            "benefit events per employee per year",
            54.86 / 3.885612,
            ev_emp / max(emp, 1),
            "2025年全国医疗保障事业发展统计公报",
        )
        row(
            "benefit events per resident per year",
            32.68 / 9.421327,
            V[RESIDENT].sum() / max(res, 1),
            "2025年全国医疗保障事业发展统计公报",
        )
        row(
            "pharmacy share of employee benefit events",
            22.51 / 54.86,
            (V[IN_SERVICE, RX] + V[RETIRED, RX]) / max(ev_emp, 1),
            "2025年全国医疗保障事业发展统计公报",
        )
        row(
            "lines per person-year", 20.0, self.lines.sum() / sd, "sizing assumption (1M persons ≈ 20M lines)"
        )
        row(
            "remote (异地) share of non-pharmacy visits",
            0.065,
            self.remote / max(self.remote_base, 1),
            "modelling assumption: 5–8%",
        )
        row(
            "fund spending per head, employees (元)",
            4_987,
            float("nan"),
            "2025年全国医疗保障事业发展统计公报 (derived)",
            "needs settlement: reported by the batch engine, not the generator",
        )
        for r in rows:
            if isinstance(r["achieved"], float) and np.isnan(r["achieved"]):
                r["achieved"] = None
        return rows


ProgressFn = Callable[[int, int], None]


def generate(
    region_path: str | Path,
    out_dir: str | Path,
    persons: int,
    year: int = 2025,
    seed: int = 0,
    inject: Sequence[str] = (),
    chunk_size: int = DEFAULT_CHUNK,
    progress: ProgressFn | None = None,
    compression: str = "zstd",
    limits: PrescribingLimits | None = None,
    conventions: Conventions | None = None,
    enrolment: EnrolmentScenarios | None = None,
) -> Manifest:
    """Generate a region's year into ``out_dir`` (persons, institutions, visits, lines, manifest).

    ``enrolment``: the shares of the enrolment scenarios (late enrolment, lapses, newborns, deaths,
    transfers …; default :data:`yibao.synth.enrolment.DEFAULT_SCENARIOS`).

    ``limits``: the prescribing limits clean care keeps to (default: none).  A bureau's knowledge base
    gives them: :func:`yibao.audit.knowledge.limits.prescribing_limits` turns the audit rule library and
    its knowledge tables into limits; the generator itself knows no detector."""
    if persons < 1:
        raise ValueError("人数至少为 1 persons must be at least 1")
    t0 = time.perf_counter()
    loaded = load_region(region_path)
    tables = Tables(loaded, year, limits if limits is not None else PrescribingLimits())
    info = region_info(loaded, tables)
    injectors = [(name, get_injector(name)) for name in inject]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ss = np.random.SeedSequence(seed)
    inst_seed, chunks_seed = ss.spawn(2)
    maternity = conventions.maternity_hospitals if conventions is not None else 0
    inst = make_institutions(np.random.default_rng(inst_seed), info, persons, maternity)
    pq.write_table(inst.table, out / "institutions.parquet", compression=compression)
    pq.write_table(inst.physicians, out / "physicians.parquet", compression=compression)
    n_chunks = (persons + chunk_size - 1) // chunk_size
    child = chunks_seed.spawn(n_chunks)
    stats = Stats()
    rows = {
        "persons": 0,
        "visits": 0,
        "lines": 0,
        "institutions": inst.table.num_rows,
        "physicians": inst.physicians.num_rows,
    }
    opts: dict[str, Any] = {"compression": compression, "write_statistics": True}
    # Parquet encoding and compression run in a writer thread (Arrow releases the GIL) while the
    # next chunk is generated: on 2 cores this overlaps the two halves of the work.
    pending: Future[None] | None = None
    with (
        pq.ParquetWriter(out / "persons.parquet", PERSONS_SCHEMA, **opts) as wp,
        pq.ParquetWriter(out / "visits.parquet", VISITS_SCHEMA, **opts) as wv,
        pq.ParquetWriter(out / "lines.parquet", LINES_SCHEMA, **opts) as wl,
        pq.ParquetWriter(out / "registered_conditions.parquet", REGISTERED_SCHEMA, **opts) as wr,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):

        def write(pt: pa.Table, vt: pa.Table, lt: pa.Table) -> None:
            wp.write_table(pt, row_group_size=max(pt.num_rows, 1))
            wv.write_table(vt, row_group_size=max(vt.num_rows, 1))
            wl.write_table(lt, row_group_size=max(lt.num_rows, 1))

        for ci in range(n_chunks):
            start = ci * chunk_size
            n = min(chunk_size, persons - start)
            # a fourth child stream for the physician picks: the first three are the same as before it existed
            rng_p, rng_v, rng_i, rng_d = (np.random.default_rng(s) for s in child[ci].spawn(4))
            ppl = make_people(rng_p, info, tables, start, n, year)
            ch = make_chunk(
                rng_v,
                info,
                tables,
                inst,
                ppl,
                year,
                visit_base=rows["visits"],
                rng_dr=rng_d,
                conv=conventions,
            )
            stats.add_people(ppl)
            stats.add_chunk(ch)  # calibration describes the clean region, before any injector runs
            vt, lt = ch.visits, ch.lines
            for _, inj in injectors:
                vt, lt = inj(rng_i, ppl.table, vt, lt)
            ch.visits = vt
            if pending is not None:
                pending.result()
                if progress is not None:
                    progress(ci, n_chunks)
            pending = pool.submit(write, ppl.table, vt, lt)
            wr.write_table(registered_conditions(ppl))
            rows["persons"] += n
            rows["visits"] += vt.num_rows
            rows["lines"] += lt.num_rows
        if pending is not None:
            pending.result()
            if progress is not None:
                progress(n_chunks, n_chunks)
    # enrolment histories and contributions (their own seeded stream; docs/ENROLMENT.md §7)
    write_enrolment(
        out, loaded, year=year, seed=seed, compression=compression, scenarios=enrolment or DEFAULT_SCENARIOS
    )
    elapsed = time.perf_counter() - t0
    manifest = Manifest(
        seed=seed,
        persons=persons,
        year=year,
        region_file=str(region_path),
        region_admdvs=info.admdvs,
        chunk_size=chunk_size,
        inject=tuple(inject),
        generator_version=GENERATOR_VERSION,
        rows=rows,
        calibration=stats.calibration(),
        elapsed_s=round(elapsed, 3),
        files={
            k: f"{k}.parquet"
            for k in ("persons", "institutions", "physicians", "visits", "lines", "registered_conditions")
        },
    )
    (out / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest
