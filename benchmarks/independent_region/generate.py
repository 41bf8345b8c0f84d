"""Independent (clean-room) test region for yibao's smart audit.

Written from the input format (docs/SYNTH.md "Output schema" table, `yibao audit run --help`) and the
Shaanxi catalogue / ICD-10 block list only, with billing habits taken from how Chinese hospitals and
pharmacies actually bill. It does not import or read yibao's generator, audit rules or knowledge tables.

Usage: python generate.py --out DIR --persons 20000 --seed 101
Writes persons / institutions / physicians / visits / lines Parquet, labels.parquet (fraud labels, kept
apart from the claims) and params.json (every parameter used).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
REGIONS = HERE.parents[1] / "src" / "yibao" / "policy" / "regions"
ADMDVS = "610100"
YEAR = 2025
D0 = dt.date(YEAR, 1, 1)
NDAYS = 365
CNY = dt.date(2025, 1, 29)  # 春节 2025
NATIONAL_DAY = dt.date(2025, 10, 1)

# ---------------------------------------------------------------- parameters (all written to params.json)
PARAMS: dict[str, object] = {
    "year": YEAR,
    "employee_share": 0.42,  # 职工 share of insured persons
    "retire_age_m": 60,
    "retire_age_f": 55,
    "identity_share": {"DB": 0.025, "TK": 0.004, "FP": 0.006, "DBBY": 0.01},
    "account_balance_yuan": [300, 6000],  # uniform range on 1 Jan, employees
    "acute_visits_mean": {"child": 3.2, "adult": 1.8, "old": 3.5},  # Poisson means / person-year
    "pharmacy_visits_mean": {"employee": 5.0, "resident": 0.8},
    "pharmacy_december_extra_mean_employee": 2.5,  # 年底个人账户突击消费
    "pharmacy_pre_cny_extra_prob": 0.35,
    "pharmacies_per_person": [1, 4],
    "chronic_prob_by_age": {"40": 0.06, "50": 0.14, "60": 0.28, "70": 0.40},
    "chronic_registered_share": 0.75,  # of chronic patients registered 门慢门特 (med_type 14)
    "chronic_rx_days": {"28": 0.35, "30": 0.25, "56": 0.15, "60": 0.08, "84": 0.17},  # 长处方 up to 12 wk
    "pre_holiday_long_rx_prob": 0.6,
    "dialysis_prob_adult": 0.0009,
    "dialysis_monthly_settlement_share": 0.4,  # centres settling a month of sessions as one visit
    "cancer_prob_40plus": 0.006,
    "chemo_cycle_days": [14, 21],
    "chemo_cycles": [4, 8],
    "radiotherapy_fractions": [25, 33],
    "radiotherapy_inpatient_share": 0.4,
    "admission_prob": {"child": 0.03, "adult": 0.05, "old": 0.16},
    "delivery_prob_f20_40": 0.022,
    "caesarean_share": 0.38,
    "rehab_course_prob_old": 0.05,
    "tcm_course_prob_adult": 0.03,
    "infusion_course_prob_per_resp_episode": 0.12,
    "frequent_attender_share": 0.008,
    "frequent_attender_visits": [25, 60],
    "same_day_referral_prob_old": 0.05,
    "price_factor_by_level": {"3S": 1.0, "3": 1.0, "2": 0.92, "1": 0.85},  # 分级定价 for services
    "fraud_target_share_of_visits": 0.015,
}

DISTRICTS = [
    "新城区",
    "碑林区",
    "莲湖区",
    "灞桥区",
    "未央区",
    "雁塔区",
    "阎良区",
    "临潼区",
    "长安区",
    "高陵区",
    "鄠邑区",
    "蓝田县",
    "周至县",
]
CENTRAL = DISTRICTS[:6]
FAR_PAIRS = [
    ("周至县", "临潼区"),
    ("周至县", "阎良区"),
    ("鄠邑区", "阎良区"),
    ("蓝田县", "周至县"),
    ("高陵区", "鄠邑区"),
]


def round_half_up(x: float) -> int:
    return int(Decimal(str(x)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


# ---------------------------------------------------------------- catalogue
@dataclass
class Item:
    code: str
    name: str
    price: int  # fen
    kind: str
    sex: str
    min_age: int | None
    max_age: int | None
    min_level: int | None
    indications: tuple[str, ...]


def load_catalogue() -> dict[str, Item]:
    items: dict[str, Item] = {}
    with open(REGIONS / "catalogue-shaanxi.csv", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            items[r["name"]] = Item(
                code=r["code"],
                name=r["name"],
                price=round_half_up(float(r["unit_price"]) * 100),
                kind=r["kind"],
                sex=r["sex"],
                min_age=int(r["min_age"]) if r["min_age"] else None,
                max_age=int(r["max_age"]) if r["max_age"] else None,
                min_level=int(r["min_level"]) if r["min_level"] else None,
                indications=tuple(x for x in r["indications"].split("|") if x),
            )
    return items


CAT = load_catalogue()


def it(prefix: str) -> Item:
    """Catalogue item by the start of its Chinese name (unique)."""
    if prefix in CAT:
        return CAT[prefix]
    hits = [v for k, v in CAT.items() if k.startswith(prefix)]
    if len(hits) > 1:  # the generic (集采) product, not the 原研 one paid at the VBP standard
        hits = [v for v in hits if "原研" not in v.name]
    if len(hits) != 1:
        raise KeyError(f"{prefix}: {len(hits)} hits")
    return hits[0]


# Pack sizes (units per box) and usual daily units: from common Chinese package inserts / VBP packs.
PACK: dict[str, tuple[int, float]] = {
    "阿莫西林胶囊": (36, 6),
    "头孢呋辛酯片": (12, 2),
    "左氧氟沙星片": (4, 1),
    "阿奇霉素片": (6, 2),
    "氟康唑胶囊": (6, 1),
    "阿昔洛韦片": (24, 5),
    "磷酸奥司他韦胶囊": (10, 2),
    "恩替卡韦分散片": (28, 1),
    "富马酸丙酚替诺福韦片": (30, 1),
    "硝苯地平控释片": (7, 1),
    "苯磺酸氨氯地平片": (28, 1),
    "缬沙坦胶囊": (28, 1),
    "厄贝沙坦片": (28, 1),
    "厄贝沙坦氢氯噻嗪片": (14, 1),
    "沙库巴曲缬沙坦钠片": (14, 2),
    "琥珀酸美托洛尔缓释片": (28, 1),
    "富马酸比索洛尔片": (30, 1),
    "氢氯噻嗪片": (100, 1),
    "螺内酯片": (100, 1),
    "阿托伐他汀钙片": (28, 1),
    "瑞舒伐他汀钙片": (28, 1),
    "依折麦布片": (10, 1),
    "阿司匹林肠溶片": (30, 1),
    "硫酸氢氯吡格雷片": (28, 1),
    "替格瑞洛片": (14, 2),
    "华法林钠片": (60, 1),
    "利伐沙班片": (10, 1),
    "单硝酸异山梨酯缓释片": (24, 1),
    "硝酸甘油片": (100, 0.2),
    "地高辛片": (100, 1),
    "盐酸胺碘酮片": (24, 1),
    "盐酸二甲双胍片": (60, 3),
    "格列美脲片": (30, 1),
    "阿卡波糖片": (30, 3),
    "磷酸西格列汀片": (28, 1),
    "达格列净片": (28, 1),
    "甘精胰岛素注射液": (1, 1 / 15),
    "门冬胰岛素注射液": (1, 1 / 12),
    "生物合成人胰岛素注射液": (1, 1 / 20),
    "司美格鲁肽注射液": (1, 1 / 28),
    "奥美拉唑肠溶胶囊": (14, 2),
    "雷贝拉唑钠肠溶片": (14, 1),
    "铝碳酸镁咀嚼片": (24, 3),
    "蒙脱石散": (10, 3),
    "双歧杆菌三联活菌胶囊": (36, 6),
    "多潘立酮片": (30, 3),
    "乳果糖口服溶液": (1, 0.2),
    "甲钴胺片": (20, 3),
    "维生素B1片": (100, 3),
    "复合维生素B片": (100, 3),
    "叶酸片": (100, 1),
    "布洛芬缓释胶囊": (20, 2),
    "布洛芬混悬液": (1, 0.15),
    "对乙酰氨基酚片": (12, 3),
    "小儿氨酚黄那敏颗粒": (10, 3),
    "塞来昔布胶囊": (10, 1),
    "双氯芬酸钠缓释片": (20, 1),
    "盐酸曲马多缓释片": (10, 2),
    "地西泮片": (20, 1),
    "艾司唑仑片": (20, 1),
    "右佐匹克隆片": (7, 1),
    "盐酸舍曲林片": (14, 1),
    "草酸艾司西酞普兰片": (14, 1),
    "奥氮平片": (28, 2),
    "丙戊酸钠缓释片": (30, 2),
    "左乙拉西坦片": (30, 2),
    "盐酸多奈哌齐片": (14, 1),
    "丁苯酞软胶囊": (24, 6),
    "硫酸沙丁胺醇吸入气雾剂": (1, 1 / 30),
    "沙美特罗替卡松吸入粉雾剂": (1, 1 / 30),
    "噻托溴铵吸入粉雾剂": (30, 1),
    "孟鲁司特钠咀嚼片": (10, 1),
    "盐酸氨溴索口服溶液": (1, 0.2),
    "氯雷他定片": (6, 1),
    "左甲状腺素钠片": (100, 1),
    "甲巯咪唑片": (50, 2),
    "醋酸泼尼松片": (100, 2),
    "非那雄胺片": (10, 1),
    "盐酸坦索罗辛缓释胶囊": (10, 1),
    "比卡鲁胺片": (28, 1),
    "黄体酮软胶囊": (10, 2),
    "戊酸雌二醇片": (21, 1),
    "甲氨蝶呤片": (16, 0.3),
    "替吉奥胶囊": (42, 4),
    "卡培他滨片": (12, 6),
    "甲磺酸伊马替尼片": (60, 4),
    "甲磺酸奥希替尼片": (30, 1),
    "阿仑膦酸钠片": (4, 1 / 7),
    "骨化三醇软胶囊": (10, 1),
    "碳酸钙D3片": (60, 1),
    "别嘌醇片": (100, 2),
    "非布司他片": (16, 1),
    "秋水仙碱片": (20, 2),
    "红霉素软膏": (1, 0.1),
    "莫匹罗星软膏": (1, 0.1),
    "妥布霉素滴眼液": (1, 0.1),
    "玻璃酸钠滴眼液": (1, 0.1),
    "连花清瘟胶囊": (36, 12),
    "感冒清热颗粒": (10, 2),
    "板蓝根颗粒": (20, 3),
    "蒲地蓝消炎口服液": (10, 3),
    "小儿肺咳颗粒": (12, 3),
    "小儿豉翘清热颗粒": (9, 3),
    "急支糖浆": (1, 0.2),
    "通宣理肺丸": (10, 2),
    "强力枇杷露": (1, 0.15),
    "藿香正气水": (10, 2),
    "牛黄解毒片": (24, 6),
    "复方丹参滴丸": (180, 30),
    "速效救心丸": (60, 3),
    "麝香保心丸": (42, 3),
    "通心络胶囊": (30, 6),
    "脑心通胶囊": (48, 6),
    "稳心颗粒": (9, 3),
    "芪参益气滴丸": (15, 3),
    "血塞通软胶囊": (24, 4),
    "云南白药胶囊": (32, 4),
    "活血止痛胶囊": (24, 6),
    "仙灵骨葆胶囊": (40, 6),
    "腰痹通胶囊": (45, 9),
    "六味地黄丸": (1, 0.04),
    "金匮肾气丸": (10, 2),
    "香砂养胃丸": (10, 2),
    "保和丸": (10, 2),
    "逍遥丸": (10, 2),
    "百令胶囊": (42, 6),
    "尿毒清颗粒": (15, 4),
    "桂枝茯苓胶囊": (60, 9),
    "妇科千金片": (72, 6),
    "坤泰胶囊": (40, 8),
    "前列舒通胶囊": (36, 9),
    "癃闭舒胶囊": (36, 6),
    "马应龙麝香痔疮膏": (1, 0.2),
    "血糖试纸": (50, 2),
    "胰岛素笔用针头": (14, 1),
}


def pack_of(item: Item) -> tuple[int, float]:
    for k, v in PACK.items():
        if item.name.startswith(k):
            return v
    return (1, 1)


# ---------------------------------------------------------------- institutions and physicians
@dataclass
class Inst:
    code: str
    name: str
    kind: str
    level: str
    district: str
    tags: set[str] = field(default_factory=set)
    roster: list[tuple[str, str]] = field(default_factory=list)  # (dr_code, title)


TITLE_NAMES = {"231": "主任医师", "232": "副主任医师", "233": "主治医师", "234": "医师"}


def make_institutions(rng: np.random.Generator) -> list[Inst]:
    out: list[Inst] = []
    n = 0

    def add(kind: str, name: str, level: str, district: str, tags: set[str] | None = None) -> Inst:
        nonlocal n
        n += 1
        prefix = "P" if kind == "pharmacy" else "H"
        inst = Inst(f"{prefix}{ADMDVS}{n:05d}", name, kind, level, district, tags or set())
        out.append(inst)
        return inst

    add(
        "hospital",
        "西安交通大学第一附属医院",
        "3S",
        "雁塔区",
        {"dialysis", "radio", "chemo", "surg", "cardio"},
    )
    add("hospital", "空军军医大学西京医院", "3S", "新城区", {"dialysis", "radio", "chemo", "surg", "cardio"})
    add("hospital", "陕西省人民医院", "3", "碑林区", {"dialysis", "chemo", "surg", "cardio"})
    add("hospital", "西安市中心医院", "3", "新城区", {"dialysis", "surg", "cardio"})
    add("hospital", "陕西省肿瘤医院", "3", "雁塔区", {"radio", "chemo", "surg"})
    add("hospital", "西安市中医医院", "3", "未央区", {"tcm", "surg", "rehab"})
    add("hospital", "西北妇女儿童医院", "3", "雁塔区", {"maternity", "paed"})
    add("hospital", "西安市第三医院", "3", "未央区", {"surg", "cardio", "rehab"})
    for d in DISTRICTS:
        tags = {"surg"}
        if d in ("长安区", "临潼区"):
            tags.add("dialysis")
        add("hospital", f"西安市{d}人民医院", "2", d, tags)
    for d in ("长安区", "鄠邑区", "临潼区"):
        add("hospital", f"{d}中医医院", "2", d, {"tcm", "rehab"})
    add("hospital", "西安市妇幼保健院", "2", "莲湖区", {"maternity"})
    add("hospital", "长安区妇幼保健院", "2", "长安区", {"maternity"})
    for i in range(12):
        d = DISTRICTS[int(rng.integers(len(DISTRICTS)))]
        add(
            "hospital",
            f"{d}康复医院（民营）{i + 1}号" if i % 3 == 0 else f"{d}仁和医院{i + 1}号",
            "1",
            d,
            {"rehab"} if i % 3 == 0 else set(),
        )
    for d in DISTRICTS:
        for j in range(4):
            suffix = "社区卫生服务中心" if d in CENTRAL else "镇卫生院"
            add("primary", f"{d}第{j + 1}{suffix}", "1", d)
    chains = ["老百姓大药房", "怡康医药", "广济堂", "益丰大药房", "海王星辰"]
    for d in DISTRICTS:
        k = 16 if d in CENTRAL else 8
        for j in range(k):
            add("pharmacy", f"{chains[j % len(chains)]}（{d}{j + 1}店）", "1", d)
    add("internet", "西安交大一附院互联网医院", "3", "雁塔区")

    ndr = 0
    roster_size = {"3S": (150, 300), "3": (80, 200), "2": (30, 80), "1": (8, 20)}
    mix = {
        "3S": [0.15, 0.25, 0.35, 0.25],
        "3": [0.15, 0.25, 0.35, 0.25],
        "2": [0.05, 0.2, 0.4, 0.35],
        "1": [0.0, 0.05, 0.35, 0.6],
    }
    for inst in out:
        if inst.kind == "pharmacy":
            continue
        lo, hi = (
            roster_size[inst.level]
            if inst.kind == "hospital"
            else ((4, 12) if inst.kind == "primary" else (20, 50))
        )
        for _ in range(int(rng.integers(lo, hi + 1))):
            ndr += 1
            title = str(
                rng.choice(
                    ["231", "232", "233", "234"], p=mix[inst.level if inst.kind == "hospital" else "1"]
                )
            )
            inst.roster.append((f"D{ADMDVS}{ndr:07d}", title))
    return out


# ---------------------------------------------------------------- persons
def gb11643(body17: str) -> str:
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    s = sum(int(a) * b for a, b in zip(body17, w, strict=True))
    return body17 + "10X98765432"[s % 11]


AREA = {d: f"6101{i + 2:02d}" for i, d in enumerate(DISTRICTS)}


@dataclass
class Person:
    pid: int
    sex: str
    birth: dt.date
    age: int
    insutype: str
    psn_type: str
    district: str
    chronic: list[str] = field(default_factory=list)
    registered: bool = False
    pharmacies: list[Inst] = field(default_factory=list)
    balance: int = 0


def make_persons(rng: np.random.Generator, n: int) -> tuple[list[Person], pl.DataFrame]:
    # age pyramid roughly like Xi'an 2020 census (young-adult heavy, ageing)
    age_bins = np.array([0, 5, 15, 25, 35, 45, 55, 65, 75, 85, 95])
    age_p = np.array([0.05, 0.10, 0.12, 0.17, 0.16, 0.15, 0.12, 0.08, 0.04, 0.01])
    persons: list[Person] = []
    rows: dict[str, list[object]] = {
        k: []
        for k in (
            "psn_id",
            "psn_no",
            "certno",
            "gender",
            "birth_date",
            "age",
            "insutype",
            "psn_type",
            "identities",
            "household_id",
            "household_size",
            "household_income",
            "district",
            "account_balance",
            "family_payer_id",
        )
    }
    dist_p = np.array([1.2 if d in CENTRAL else 0.7 for d in DISTRICTS])
    dist_p /= dist_p.sum()
    pid = 0
    emp_share = float(PARAMS["employee_share"])  # type: ignore[arg-type]
    while pid < n:
        size = int(min(n - pid, rng.choice([1, 2, 3, 4, 5], p=[0.15, 0.3, 0.3, 0.17, 0.08])))
        head = pid
        district = DISTRICTS[int(rng.choice(len(DISTRICTS), p=dist_p))]
        income = int(rng.lognormal(math.log(90000), 0.5)) * 100
        for k in range(size):
            b = int(rng.choice(len(age_p), p=age_p))
            age = int(rng.integers(age_bins[b], age_bins[b + 1]))
            if k == 0:
                age = max(age, 25)
            sex = "M" if rng.random() < 0.51 else "F"
            birth = dt.date(YEAR - 1 - age, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365)))
            retire = int(PARAMS["retire_age_m"] if sex == "M" else PARAMS["retire_age_f"])  # type: ignore[call-overload]
            if 18 <= age and rng.random() < emp_share / 0.78:
                insutype, ptype = "310", ("21" if age >= retire else "11")
            else:
                insutype = "390"
                ptype = "32" if age < 18 else ("33" if age >= 60 else "31")
            ids = [c for c, p in PARAMS["identity_share"].items() if insutype == "390" and rng.random() < p]  # type: ignore[union-attr]
            bal = int(rng.integers(300, 6000)) * 100 if insutype == "310" else 0
            seq = int(rng.integers(0, 500)) * 2 + (1 if sex == "M" else 0)
            certno = gb11643(f"{AREA[district]}{birth:%Y%m%d}{seq:03d}")
            p = Person(pid, sex, birth, age, insutype, ptype, district, balance=bal)
            persons.append(p)
            for key, val in (
                ("psn_id", pid),
                ("psn_no", f"P{pid:09d}"),
                ("certno", certno),
                ("gender", sex),
                ("birth_date", birth),
                ("age", age),
                ("insutype", insutype),
                ("psn_type", ptype),
                ("identities", "|".join(ids)),
                ("household_id", head),
                ("household_size", size),
                ("household_income", income),
                ("district", district),
                ("account_balance", bal),
                ("family_payer_id", -1),
            ):
                rows[key].append(val)
            pid += 1
    df = pl.DataFrame(rows).with_columns(
        pl.col("psn_id").cast(pl.Int64),
        pl.col("age").cast(pl.Int16),
        pl.col("household_id").cast(pl.Int64),
        pl.col("household_size").cast(pl.Int16),
        pl.col("household_income").cast(pl.Int64),
        pl.col("account_balance").cast(pl.Int64),
        pl.col("family_payer_id").cast(pl.Int64),
        pl.col("birth_date").cast(pl.Date),
    )
    return persons, df


# ---------------------------------------------------------------- claim builder
Line = tuple[
    str, float, int, dt.date, int | None, bool
]  # code, units, price fen, service day, prd_days, fraud


class Region:
    def __init__(self, rng: np.random.Generator, insts: list[Inst], persons: list[Person]):
        self.rng = rng
        self.insts = insts
        self.persons = persons
        self.by_kind: dict[str, list[Inst]] = {}
        for i in insts:
            self.by_kind.setdefault(i.kind, []).append(i)
        self.hosp = self.by_kind["hospital"]
        self.v: dict[str, list[object]] = {
            k: []
            for k in (
                "tmp",
                "psn_id",
                "med_type",
                "fixmedins_code",
                "hosp_lv",
                "bilg_dr_codg",
                "begin_date",
                "end_date",
                "emergency",
                "use_account",
                "diagnoses",
                "procedures",
                "los_days",
                "discharge_status",
            )
        }
        self.lines: list[list[Line]] = []
        self.labels: list[
            tuple[int, str, str, int]
        ] = []  # tmp visit, scenario, variant, fen at stake (-1 whole)

    # -- choosing
    def pick(self, seq: list[Inst]) -> Inst:
        return seq[int(self.rng.integers(len(seq)))]

    def hospital(
        self, p: Person, need: str | None = None, levels: tuple[str, ...] = ("3S", "3", "2", "1")
    ) -> Inst:
        c = [h for h in self.hosp if h.level in levels and (need is None or need in h.tags)]
        if not c:
            c = [h for h in self.hosp if need is None or need in h.tags]
        w = np.array(
            [3.0 if h.district == p.district else (1.5 if h.level in ("3S", "3") else 0.4) for h in c]
        )
        return c[int(self.rng.choice(len(c), p=w / w.sum()))]

    def primary(self, p: Person) -> Inst:
        c = [i for i in self.by_kind["primary"] if i.district == p.district]
        return self.pick(c)

    def doctor(
        self, inst: Inst, fixed: dict[tuple[int, str], str] | None = None, pid: int = -1
    ) -> tuple[str, str] | None:
        if not inst.roster:
            return None
        if fixed is not None and (pid, inst.code) in fixed:
            code = fixed[(pid, inst.code)]
            return next(r for r in inst.roster if r[0] == code)
        d = inst.roster[int(self.rng.integers(len(inst.roster)))]
        if fixed is not None:
            fixed[(pid, inst.code)] = d[0]
        return d

    # -- pricing
    def price(self, item: Item, inst: Inst) -> int:
        if item.kind == "service":
            f = PARAMS["price_factor_by_level"][inst.level]  # type: ignore[index]
            return round_half_up(item.price * f)
        return item.price

    def ok(self, item: Item, p: Person, inst: Inst, diag: str) -> bool:
        if item.sex and item.sex != p.sex:
            return False
        if item.min_age is not None and p.age < item.min_age:
            return False
        if (
            item.max_age is not None and p.age + 1 > item.max_age
        ):  # HIS checks age on the day: may pass a birthday
            return False
        lvl = 3 if inst.level == "3S" else int(inst.level)
        if item.min_level is not None and inst.kind != "pharmacy" and lvl < item.min_level:
            return False
        if item.indications and not any(diag.startswith(x) for x in item.indications):
            return False
        return True

    def consult(
        self, p: Person, inst: Inst, dr: tuple[str, str] | None, day: dt.date, emergency: bool = False
    ) -> list[Line]:
        out: list[Line] = []
        if inst.kind == "primary":
            out.append(self.ln(it("一般诊疗费"), 1, inst, day))
            return out
        out.append(self.ln(it("急诊挂号费" if emergency else "挂号费"), 1, inst, day))
        if emergency:
            out.append(self.ln(it("急诊诊察费"), 1, inst, day))
        elif inst.level in ("3", "3S") and dr is not None and dr[1] == "231":
            out.append(self.ln(it("主任医师门诊诊察费"), 1, inst, day))
        elif inst.level in ("3", "3S") and dr is not None and dr[1] == "232":
            out.append(self.ln(it("副主任医师门诊诊察费"), 1, inst, day))
        else:
            out.append(self.ln(it("普通门诊诊察费"), 1, inst, day))
        return out

    def ln(
        self, item: Item, units: float, inst: Inst, day: dt.date, prd: int | None = None, fraud: bool = False
    ) -> Line:
        return (item.code, units, self.price(item, inst), day, prd, fraud)

    def drug(
        self, name: str, days: int, inst: Inst, day: dt.date, p: Person, diag: str, whole_pack: bool = True
    ) -> Line | None:
        item = it(name)
        if not self.ok(item, p, inst, diag):
            return None
        pack, daily = pack_of(item)
        need = days * daily
        if whole_pack:
            units = float(max(1, math.ceil(need / pack - 1e-9)) * pack)
        else:
            units = max(1.0, round(need * 2) / 2)
        return self.ln(item, units, inst, day, prd=days)

    def visit(
        self,
        p: Person,
        med_type: str,
        inst: Inst,
        dr: tuple[str, str] | None,
        begin: dt.date,
        end: dt.date,
        diags: list[str],
        lines: list[Line],
        procs: list[str] | None = None,
        emergency: bool = False,
        status: str = "1",
    ) -> int:
        lines = [x for x in lines if x is not None]
        if not lines:
            return -1
        tmp = len(self.lines)
        v = self.v
        v["tmp"].append(tmp)
        v["psn_id"].append(p.pid)
        v["med_type"].append(med_type)
        v["fixmedins_code"].append(inst.code)
        v["hosp_lv"].append(inst.level)
        v["bilg_dr_codg"].append(dr[0] if dr else None)
        v["begin_date"].append(begin)
        v["end_date"].append(end)
        v["emergency"].append(emergency)
        v["use_account"].append(p.insutype == "310" and med_type in ("11", "41"))
        v["diagnoses"].append("|".join(diags))
        v["procedures"].append("|".join(procs or []))
        v["los_days"].append((end - begin).days if med_type == "21" else 0)
        v["discharge_status"].append(status)
        self.lines.append(lines)
        return tmp

    def label(self, tmp: int, scenario: str, variant: str, stake: int = -1) -> None:
        if tmp >= 0:
            self.labels.append((tmp, scenario, variant, stake))


# ---------------------------------------------------------------- normal care
# (diagnosis, age groups, sex, drug choices, tests, infusion-course drug)
ACUTE = [
    (
        "J06.900",
        "cao",
        "",
        ["连花清瘟胶囊", "感冒清热颗粒", "对乙酰氨基酚片", "氯雷他定片", "板蓝根颗粒", "蒲地蓝消炎口服液"],
        ["血细胞分析"],
        None,
        10,
    ),
    (
        "J06.900",
        "c",
        "",
        ["小儿氨酚黄那敏颗粒", "布洛芬混悬液", "小儿豉翘清热颗粒", "小儿肺咳颗粒"],
        ["血细胞分析"],
        None,
        10,
    ),
    (
        "J20.900",
        "cao",
        "",
        ["阿莫西林胶囊", "头孢呋辛酯片", "盐酸氨溴索口服溶液", "急支糖浆", "强力枇杷露", "通宣理肺丸"],
        ["血细胞分析", "C反应蛋白测定"],
        "注射用头孢曲松钠",
        6,
    ),
    (
        "J18.900",
        "ao",
        "",
        ["左氧氟沙星片", "阿奇霉素片", "盐酸氨溴索口服溶液"],
        ["血细胞分析", "C反应蛋白测定", "数字化摄影"],
        "左氧氟沙星氯化钠注射液",
        2,
    ),
    ("J45.900", "ca", "", ["孟鲁司特钠咀嚼片", "硫酸沙丁胺醇吸入气雾剂"], ["肺通气功能检查"], None, 1),
    ("J10.100", "cao", "", ["磷酸奥司他韦胶囊", "连花清瘟胶囊"], ["血细胞分析"], None, 2),
    ("K29.700", "ao", "", ["奥美拉唑肠溶胶囊", "铝碳酸镁咀嚼片", "多潘立酮片", "香砂养胃丸"], [], None, 5),
    ("K21.000", "ao", "", ["雷贝拉唑钠肠溶片", "铝碳酸镁咀嚼片"], [], None, 2),
    ("A09.900", "cao", "", ["蒙脱石散", "双歧杆菌三联活菌胶囊", "藿香正气水"], ["粪便常规"], None, 4),
    (
        "M54.500",
        "ao",
        "",
        ["双氯芬酸钠缓释片", "布洛芬缓释胶囊", "腰痹通胶囊", "活血止痛胶囊"],
        ["数字化摄影"],
        None,
        4,
    ),
    ("M17.900", "o", "", ["塞来昔布胶囊", "仙灵骨葆胶囊", "双氯芬酸钠缓释片"], ["数字化摄影"], None, 3),
    ("G47.000", "ao", "", ["艾司唑仑片", "右佐匹克隆片"], [], None, 2),
    ("F41.900", "a", "", ["草酸艾司西酞普兰片", "盐酸舍曲林片"], [], None, 1),
    ("N39.000", "ao", "F", ["左氧氟沙星片"], ["尿液分析"], None, 2),
    (
        "N40.x00",
        "o",
        "M",
        ["盐酸坦索罗辛缓释胶囊", "非那雄胺片", "前列舒通胶囊"],
        ["前列腺特异性抗原测定", "经直肠前列腺超声"],
        None,
        2,
    ),
    ("N76.000", "a", "F", ["桂枝茯苓胶囊", "妇科千金片"], ["阴道分泌物检查", "妇科检查"], None, 2),
    ("L30.900", "cao", "", ["氯雷他定片", "红霉素软膏"], [], None, 2),
    ("L08.900", "cao", "", ["莫匹罗星软膏"], [], None, 1),
    ("H10.900", "cao", "", ["妥布霉素滴眼液"], [], None, 1),
    ("M10.900", "ao", "M", ["非布司他片", "秋水仙碱片", "别嘌醇片"], ["尿酸测定"], None, 1),
    ("R51.x00", "ao", "", ["对乙酰氨基酚片", "布洛芬缓释胶囊"], [], None, 1),
    ("I10.x00", "ao", "", ["苯磺酸氨氯地平片", "缬沙坦胶囊"], ["常规心电图检查"], None, 2),
    ("E11.900", "ao", "", ["盐酸二甲双胍片"], ["葡萄糖测定", "糖化血红蛋白测定"], None, 1),
    (
        "I20.900",
        "o",
        "",
        ["单硝酸异山梨酯缓释片", "复方丹参滴丸", "麝香保心丸", "速效救心丸"],
        ["常规心电图检查", "动态心电图", "肌钙蛋白I测定"],
        None,
        1,
    ),
    (
        "Z00.000",
        "ao",
        "",
        [],
        ["血细胞分析", "丙氨酸氨基转移酶", "肌酐测定", "B超常规检查", "总胆固醇测定"],
        None,
        2,
    ),
    ("E03.900", "a", "F", ["左甲状腺素钠片"], ["促甲状腺激素测定", "游离甲状腺素测定"], None, 1),
    ("S61.000", "cao", "", ["云南白药胶囊"], [], None, 1),
]
AGE_GROUP = lambda p: "c" if p.age < 14 else ("a" if p.age < 60 else "o")  # noqa: E731

CHRONIC = {
    "I10.x00": [
        [
            "苯磺酸氨氯地平片",
            "硝苯地平控释片",
            "缬沙坦胶囊",
            "厄贝沙坦片",
            "厄贝沙坦氢氯噻嗪片",
            "琥珀酸美托洛尔缓释片",
        ],
        ["氢氯噻嗪片", "富马酸比索洛尔片", "阿司匹林肠溶片"],
    ],
    "E11.900": [
        ["盐酸二甲双胍片", "阿卡波糖片", "格列美脲片"],
        ["磷酸西格列汀片", "达格列净片", "甘精胰岛素注射液"],
        ["阿托伐他汀钙片", "血糖试纸"],
    ],
    "I25.100": [
        ["阿司匹林肠溶片", "硫酸氢氯吡格雷片"],
        ["阿托伐他汀钙片", "瑞舒伐他汀钙片"],
        ["琥珀酸美托洛尔缓释片", "单硝酸异山梨酯缓释片", "复方丹参滴丸", "通心络胶囊", "芪参益气滴丸"],
    ],
    "J44.900": [
        ["噻托溴铵吸入粉雾剂", "沙美特罗替卡松吸入粉雾剂"],
        ["盐酸氨溴索口服溶液", "硫酸沙丁胺醇吸入气雾剂"],
    ],
    # 丁苯酞 is paid only in the first 20 days after a stroke (NRDL restriction), so not in the long-term regimen
    "I63.900": [["阿司匹林肠溶片", "硫酸氢氯吡格雷片"], ["阿托伐他汀钙片"], ["脑心通胶囊", "血塞通软胶囊"]],
    "N18.300": [["百令胶囊", "尿毒清颗粒"], ["骨化三醇软胶囊", "叶酸片", "碳酸钙D3片"]],
    "B18.100": [["恩替卡韦分散片", "富马酸丙酚替诺福韦片"]],
    "F20.900": [["奥氮平片"], ["丙戊酸钠缓释片"]],
    "I48.x00": [["利伐沙班片", "华法林钠片"], ["琥珀酸美托洛尔缓释片", "稳心颗粒"]],
}
CHRONIC_W = {
    "I10.x00": 0.42,
    "E11.900": 0.25,
    "I25.100": 0.12,
    "J44.900": 0.06,
    "I63.900": 0.06,
    "N18.300": 0.025,
    "B18.100": 0.03,
    "F20.900": 0.01,
    "I48.x00": 0.025,
}
CHRONIC_LABS = {
    "E11.900": ["糖化血红蛋白测定", "葡萄糖测定", "肌酐测定"],
    "I10.x00": ["常规心电图检查", "肌酐测定", "血清钾钠氯测定"],
    "I25.100": ["总胆固醇测定", "低密度脂蛋白胆固醇测定", "丙氨酸氨基转移酶"],
    "B18.100": ["丙氨酸氨基转移酶", "乙型肝炎表面抗原定量"],
    "N18.300": ["肌酐测定", "尿素测定", "血细胞分析"],
    "I48.x00": ["凝血酶原时间"],
    "J44.900": [],
    "I63.900": ["总胆固醇测定"],
    "F20.900": ["丙氨酸氨基转移酶"],
}

# (diagnosis, procedure ICD-9-CM-3, los range, surgery items, material items, daily iv drugs, extra drugs, need tag, levels)
MEDICAL = [
    ("J18.900", (6, 11), ["注射用头孢哌酮钠舒巴坦钠", "左氧氟沙星氯化钠注射液", "注射用盐酸氨溴索"], 0.22),
    ("J44.100", (7, 13), ["注射用头孢他啶", "注射用甲泼尼龙琥珀酸钠", "吸入用布地奈德混悬液"], 0.12),
    ("I50.900", (6, 11), ["呋塞米注射液", "沙库巴曲缬沙坦钠片", "参麦注射液"], 0.1),
    ("I63.900", (9, 15), ["依达拉奉注射液", "丁苯酞软胶囊", "注射用血塞通（冻干）"], 0.12),
    ("I20.000", (4, 8), ["单硝酸异山梨酯缓释片", "依诺肝素钠注射液", "丹红注射液"], 0.12),
    ("E11.900", (6, 10), ["门冬胰岛素注射液", "甘精胰岛素注射液", "甲钴胺片"], 0.08),
    ("A09.900", (3, 5), ["葡萄糖注射液", "复方氯化钠注射液", "蒙脱石散"], 0.07),
    ("K92.200", (5, 9), ["注射用泮托拉唑钠", "氨甲环酸注射液"], 0.05),
    ("N39.000", (4, 7), ["注射用头孢曲松钠"], 0.05),
    ("K29.700", (4, 7), ["注射用奥美拉唑钠", "葡萄糖注射液"], 0.07),
]
MEDICAL_LABS = {
    "J18.900": ["降钙素原检测", "细菌培养及鉴定", "X线计算机体层（CT）平扫"],
    "J44.100": ["血气分析", "数字化摄影"],
    "I50.900": ["N端脑钠肽前体测定", "彩色多普勒超声心动图"],
    "I63.900": ["磁共振（MRI）平扫", "常规脑电图"],
    "I20.000": ["肌钙蛋白I测定", "彩色多普勒超声心动图", "动态心电图"],
    "E11.900": ["糖化血红蛋白测定", "眼底照相"],
    "A09.900": ["粪便常规"],
    "K92.200": ["电子胃镜检查"],
    "N39.000": ["尿液分析", "细菌培养及鉴定"],
    "K29.700": ["电子胃镜检查", "B超常规检查"],
}
SURGICAL = [
    # diag, proc, los, surgery, materials, anaesthesia, need tag, weight
    (
        "K35.800",
        "47.0100",
        (4, 7),
        ["腹腔镜下阑尾切除术"],
        ["腹腔镜用一次性穿刺器", "可吸收性外科缝线"],
        "全身麻醉",
        0.18,
    ),
    (
        "K80.200",
        "51.2300",
        (4, 7),
        ["腹腔镜下胆囊切除术"],
        ["腹腔镜用一次性穿刺器", "可吸收性外科缝线"],
        "全身麻醉",
        0.17,
    ),
    ("K40.900", "53.0500", (3, 6), ["腹股沟疝修补术"], ["疝修补补片"], "全身麻醉", 0.12),
    ("M17.100", "81.5400", (9, 15), ["人工全膝关节置换术"], ["人工膝关节（初次置换）"], "全身麻醉", 0.1),
    ("M16.100", "81.5100", (9, 15), ["人工全髋关节置换术"], ["人工髋关节"], "全身麻醉", 0.06),
    ("H25.900", "13.4100", (1, 2), ["白内障超声乳化摘除术"], ["人工晶体（单焦点）"], "局部浸润麻醉", 0.17),
    (
        "I25.100",
        "36.0700",
        (4, 7),
        ["冠状动脉造影术", "经皮冠状动脉内支架置入术"],
        ["冠状动脉药物洗脱支架", "PTCA球囊扩张导管"],
        "局部浸润麻醉",
        0.1,
    ),
    ("N40.x00", "60.2900", (5, 8), ["经尿道前列腺电切术"], ["一次性使用导尿包"], "全身麻醉", 0.05),
    ("D25.900", "68.2900", (4, 7), ["腹腔镜下子宫肌瘤剔除术"], ["腹腔镜用一次性穿刺器"], "全身麻醉", 0.05),
]


class Care(Region):
    fixed_dr: dict[tuple[int, str], str]
    had_flu: set[int]

    def day(self, lo: int = 0, hi: int = NDAYS) -> dt.date:
        return D0 + dt.timedelta(days=int(self.rng.integers(lo, hi)))

    def tests(self, names: list[str], inst: Inst, day: dt.date, p: Person, diag: str) -> list[Line]:
        out = []
        for n in names:
            item = it(n)
            if self.ok(item, p, inst, diag):
                out.append(self.ln(item, 1, inst, day))
        return out

    def acute_outpatient(self, p: Person, day: dt.date, inst: Inst | None = None) -> tuple[int, str, Inst]:
        grp = AGE_GROUP(p)
        cand = [a for a in ACUTE if grp in a[1] and (not a[2] or a[2] == p.sex)]
        w = np.array([a[6] for a in cand], dtype=float)
        a = cand[int(self.rng.choice(len(cand), p=w / w.sum()))]
        if a[0] == "J10.100":  # influenza at most once a year per person
            if p.pid in self.had_flu:
                a = next(x for x in cand if x[0] == "J06.900")
            self.had_flu.add(p.pid)
        diag = a[0]
        if inst is None:
            r = self.rng.random()
            if grp == "c" and r < 0.3:
                inst = next(h for h in self.hosp if "paed" in h.tags)
            elif r < 0.45:
                inst = self.primary(p)
            else:
                inst = self.hospital(p)
        dr = self.doctor(inst)
        lines = self.consult(p, inst, dr, day)
        ntest = int(self.rng.integers(0, len(a[4]) + 1)) if a[4] else 0
        lines += self.tests(
            list(self.rng.choice(a[4], ntest, replace=False)) if ntest else [], inst, day, p, diag
        )
        if a[3]:
            k = int(self.rng.integers(1, min(3, len(a[3])) + 1))
            if diag[:3] == "J10":
                days = 5  # oseltamivir: one 5-day course
            elif diag[:3] in ("I10", "E11", "E03", "M10", "I20", "N40", "F41"):
                days = int(
                    self.rng.choice([14, 28, 30])
                )  # a newly found long-term condition: weeks, not days
            else:
                days = int(self.rng.choice([3, 5, 7, 7, 10, 14]))
            for name in self.rng.choice(a[3], k, replace=False):
                ln = self.drug(str(name), days, inst, day, p, diag, whole_pack=self.rng.random() < 0.9)
                if ln:
                    lines.append(ln)
        tmp = self.visit(p, "11", inst, dr, day, day, [diag], lines)
        # infusion course at the same place (门诊输液, 3-5 consecutive days)
        if a[5] and self.rng.random() < float(PARAMS["infusion_course_prob_per_resp_episode"]) * (
            3 if inst.kind == "primary" else 1
        ):  # type: ignore[arg-type]
            for k in range(int(self.rng.integers(3, 6))):
                d = day + dt.timedelta(days=k)
                if d.year != YEAR:
                    break
                ivl = [
                    self.ln(it(a[5]), 2 if "头孢曲松" in a[5] else 1, inst, d, 1),
                    self.ln(it("氯化钠注射液"), 1, inst, d, 1),
                    self.ln(it("静脉输液（第一组）"), 1, inst, d),
                    self.ln(it("一次性使用输液器"), 1, inst, d),
                ]
                if not self.ok(it(a[5]), p, inst, diag):
                    break
                self.visit(p, "11", inst, dr, d, d, [diag], ivl)
        return tmp, diag, inst

    # ----- chronic (门慢门特 med_type 14, or ordinary 11 when not registered)
    def chronic_programme(self, p: Person) -> None:
        diags = p.chronic
        med = "14" if p.registered else "11"
        r = self.rng.random()
        inst = self.primary(p) if r < 0.35 else self.hospital(p, levels=("3S", "3", "2"))
        dr = self.doctor(inst, self.fixed_dr, p.pid)
        regimen: list[tuple[str, str]] = []
        for dg in diags:
            for group in CHRONIC[dg]:
                if self.rng.random() < (0.95 if group is CHRONIC[dg][0] else 0.45):
                    regimen.append((str(self.rng.choice(group)), dg))
        seen: set[str] = set()
        regimen = [r for r in regimen if not (r[0] in seen or seen.add(r[0]))]  # type: ignore[func-returns-value]
        if not regimen:
            return
        rx_days = [int(k) for k in PARAMS["chronic_rx_days"]]  # type: ignore[union-attr]
        rx_p = np.array(list(PARAMS["chronic_rx_days"].values()), dtype=float)  # type: ignore[union-attr]
        base_days = int(self.rng.choice(rx_days, p=rx_p / rx_p.sum()))
        d = D0 + dt.timedelta(days=int(self.rng.integers(0, 30)))
        n_visit = 0
        while d.year == YEAR:
            days = base_days
            # 节前备药: a longer prescription just before the Spring Festival / National Day holidays
            for hol in (CNY, NATIONAL_DAY):
                if 0 <= (hol - d).days <= 14 and self.rng.random() < float(
                    PARAMS["pre_holiday_long_rx_prob"]
                ):  # type: ignore[arg-type]
                    days = max(days, 56 if days < 56 else 84)
            if not p.registered:
                days = min(days, 30)
            lines = self.consult(p, inst, dr, d)
            for name, dg in regimen:
                ln = self.drug(name, days, inst, d, p, dg)
                if ln:
                    lines.append(ln)
                    if name.startswith(("甘精", "门冬")):
                        lines.append(self.ln(it("胰岛素笔用针头"), math.ceil(days / 14) * 14, inst, d, days))
            if n_visit % 3 == 0:  # one order per test even when two registered diseases both ask for it
                for name in dict.fromkeys(n for dg in diags for n in CHRONIC_LABS[dg]):
                    lines += self.tests([name], inst, d, p, diags[0])
            self.visit(p, med, inst, dr, d, d, list(diags), lines)
            n_visit += 1
            # refill a few days early or late
            d += dt.timedelta(days=days + int(self.rng.integers(-4, 6)))

    def dialysis(self, p: Person) -> None:
        inst = self.hospital(p, need="dialysis")
        dr = self.doctor(inst)
        monthly = self.rng.random() < float(PARAMS["dialysis_monthly_settlement_share"])  # type: ignore[arg-type]
        pattern = (0, 2, 4) if self.rng.random() < 0.5 else (1, 3, 5)
        sessions = [
            D0 + dt.timedelta(days=k)
            for k in range(NDAYS)
            if (D0 + dt.timedelta(days=k)).weekday() in pattern
        ]
        diag = "N18.500"
        by_month: dict[int, list[Line]] = {}
        for i, d in enumerate(sessions):
            ls = [
                self.ln(it("血液透析"), 1, inst, d),
                self.ln(it("血液透析器"), 1, inst, d),
                self.ln(it("肝素钠注射液"), 1, inst, d, 1),
            ]
            if i % 3 == 0:
                ls.append(self.ln(it("重组人促红素注射液"), 2, inst, d, 7))
            if d.day <= 7 and i % 3 == 1:
                ls += self.tests(["血细胞分析", "肌酐测定", "尿素测定", "血清钾钠氯测定"], inst, d, p, diag)
                ls.append(self.ln(it("蔗糖铁注射液"), 1, inst, d, 1))
            if monthly:
                by_month.setdefault(d.month, []).extend(ls)
            else:
                self.visit(p, "14", inst, dr, d, d, [diag], ls)
        for ls in by_month.values():
            days = sorted({x[3] for x in ls})
            self.visit(p, "14", inst, dr, days[0], days[-1], [diag], ls)

    def cancer(self, p: Person) -> None:
        cands = ["C34.900", "C18.900", "C16.900", "C20.x00"] + (
            ["C50.900", "C50.900"] if p.sex == "F" else ["C61.x00"]
        )
        diag = str(self.rng.choice(cands))
        inst = self.hospital(p, need="chemo")
        dr = self.doctor(inst)
        start = self.day(0, 200)
        cyc = int(self.rng.choice(PARAMS["chemo_cycle_days"]))  # type: ignore[arg-type]
        ncyc = int(self.rng.integers(*PARAMS["chemo_cycles"]))  # type: ignore[misc]
        d = start
        for c in range(ncyc):
            if d.year != YEAR:
                break
            los = int(self.rng.integers(2, 5))
            end = d + dt.timedelta(days=los)
            ls: list[Line] = []
            for k in range(los):
                dd = d + dt.timedelta(days=k)
                ls += [
                    self.ln(it("普通病房床位费（三人间）"), 1, inst, dd),
                    self.ln(it("Ⅱ级护理"), 1, inst, dd),
                    self.ln(it("住院诊察费"), 1, inst, dd),
                ]
            ls += self.tests(["血细胞分析", "丙氨酸氨基转移酶", "肌酐测定", "癌胚抗原测定"], inst, d, p, diag)
            chemo_day = d + dt.timedelta(days=1)
            if diag.startswith("C50") and self.rng.random() < 0.5:
                ls.append(self.ln(it("注射用曲妥珠单抗"), 1, inst, chemo_day))
            else:
                ls.append(
                    self.ln(it("注射用紫杉醇（白蛋白结合型）"), int(self.rng.integers(2, 5)), inst, chemo_day)
                )
            ls += [
                self.ln(it("盐酸昂丹司琼注射液"), 1, inst, chemo_day),
                self.ln(it("地塞米松磷酸钠注射液"), 2, inst, chemo_day),
                self.ln(it("氯化钠注射液"), 3, inst, chemo_day),
                self.ln(it("静脉输液（第一组）"), 1, inst, chemo_day),
                self.ln(it("一次性使用输液器"), 1, inst, chemo_day),
            ]
            if c == 0:
                ls += [
                    self.ln(it("经外周插管的中心静脉导管置管术"), 1, inst, d),
                    self.ln(it("PICC导管"), 1, inst, d),
                    self.ln(it("X线计算机体层（CT）增强扫描"), 1, inst, d),
                ]
            else:
                ls.append(self.ln(it("大换药"), 1, inst, d))
            if diag.startswith(("C18", "C16", "C20")) and self.rng.random() < 0.5:
                drug = self.drug("卡培他滨片", 14, inst, end, p, diag)
                if drug:
                    ls.append((drug[0], drug[1], drug[2], drug[3], None, False))
            self.visit(p, "21", inst, dr, d, end, [diag, "Z51.100"], ls, procs=["99.2500"])
            d += dt.timedelta(days=cyc)
        # radiotherapy course for part of them
        if diag[:3] in ("C34", "C50", "C20") and self.rng.random() < 0.5 and d.year == YEAR:
            rinst = self.hospital(p, need="radio", levels=("3S", "3"))
            rdr = self.doctor(rinst)
            nfx = int(self.rng.integers(*PARAMS["radiotherapy_fractions"]))  # type: ignore[misc]
            days = []
            x = d
            while len(days) < nfx and x.year == YEAR:
                if x.weekday() < 5:
                    days.append(x)
                x += dt.timedelta(days=1)
            if not days:
                return
            if self.rng.random() < float(PARAMS["radiotherapy_inpatient_share"]):  # type: ignore[arg-type]
                ls = []
                end = days[-1] + dt.timedelta(days=1)
                k = days[0]
                while k < end:
                    ls += [
                        self.ln(it("普通病房床位费（三人间）"), 1, rinst, k),
                        self.ln(it("Ⅲ级护理"), 1, rinst, k),
                        self.ln(it("住院诊察费"), 1, rinst, k),
                    ]
                    k += dt.timedelta(days=1)
                ls += [self.ln(it("调强放射治疗"), 1, rinst, x2) for x2 in days]
                ls += self.tests(["血细胞分析"], rinst, days[0], p, diag) + self.tests(
                    ["血细胞分析"], rinst, days[len(days) // 2], p, diag
                )
                self.visit(p, "21", rinst, rdr, days[0], end, [diag, "Z51.000"], ls, procs=["92.2400"])
            else:
                for x2 in days:
                    self.visit(
                        p, "14", rinst, rdr, x2, x2, [diag], [self.ln(it("调强放射治疗"), 1, rinst, x2)]
                    )

    def stay(
        self,
        p: Person,
        inst: Inst,
        d: dt.date,
        los: int,
        diag: str,
        ivs: list[str],
        labs: list[str],
        procs: list[str] | None = None,
        surgery: list[str] | None = None,
        materials: list[str] | None = None,
        anaesthesia: str | None = None,
        emergency: bool = False,
    ) -> tuple[int, list[Line]]:
        dr = self.doctor(inst)
        end = d + dt.timedelta(days=los)
        ls: list[Line] = []
        bed = "普通病房床位费（三人间）" if self.rng.random() < 0.7 else "普通病房床位费（双人间）"
        for k in range(los):
            dd = d + dt.timedelta(days=k)
            nursing = "Ⅰ级护理" if k < 2 else ("Ⅱ级护理" if k < los - 2 else "Ⅲ级护理")
            ls += [
                self.ln(it(bed), 1, inst, dd),
                self.ln(it(nursing), 1, inst, dd),
                self.ln(it("住院诊察费"), 1, inst, dd),
            ]
            if k < max(1, los - 1):
                for name in ivs:
                    item = it(name)
                    if not self.ok(item, p, inst, diag):
                        continue
                    pack, daily = pack_of(item)
                    ls.append(self.ln(item, max(1, round(daily)) if pack > 1 else 1, inst, dd))
                if any("注射" in n for n in ivs):
                    ls += [
                        self.ln(it("静脉输液（第一组）"), 1, inst, dd),
                        self.ln(it("一次性使用输液器"), 1, inst, dd),
                        self.ln(it("氯化钠注射液"), 1, inst, dd),
                    ]
            if k in (0, 3, 7, 12):
                ls += self.tests(
                    ["血细胞分析", "C反应蛋白测定", "血清钾钠氯测定"]
                    if k
                    else [
                        "血细胞分析",
                        "尿液分析",
                        "丙氨酸氨基转移酶",
                        "肌酐测定",
                        "葡萄糖测定",
                        "凝血酶原时间",
                        "常规心电图检查",
                    ],
                    inst,
                    dd,
                    p,
                    diag,
                )
        ls += self.tests(labs, inst, d + dt.timedelta(days=min(1, los - 1)), p, diag)
        if surgery:
            sd = d + dt.timedelta(days=min(1, los - 1))
            ls += self.tests(surgery, inst, sd, p, diag)
            for m in materials or []:
                for k2, v in CAT.items():
                    if k2.startswith(m) and self.ok(v, p, inst, diag):
                        ls.append(self.ln(v, 1, inst, sd))
                        break
            if anaesthesia:
                ls.append(self.ln(it(anaesthesia), 1, inst, sd))
            if anaesthesia == "全身麻醉":
                ls += [
                    self.ln(it("丙泊酚中/长链脂肪乳注射液"), 1, inst, sd),
                    self.ln(it("气管插管"), 1, inst, sd),
                    self.ln(it("一次性使用导尿包"), 1, inst, sd),
                    self.ln(it("注射用帕瑞昔布钠"), 2, inst, sd),
                    self.ln(it("注射用头孢曲松钠"), 1, inst, sd),
                ]
        status = (
            "4" if (p.age > 80 and self.rng.random() < 0.04) else ("2" if self.rng.random() < 0.01 else "1")
        )
        tmp = self.visit(
            p, "21", inst, dr, d, end, [diag], ls, procs=procs, emergency=emergency, status=status
        )
        return tmp, ls

    def admission(self, p: Person, d: dt.date | None = None) -> int:
        d = d or self.day(0, NDAYS - 20)
        surgical = p.age >= 14 and self.rng.random() < 0.35
        if surgical:
            cand = [
                s
                for s in SURGICAL
                if (s[0] not in ("N40.x00",) or p.sex == "M")
                and (s[0] != "D25.900" or p.sex == "F")
                and (s[0][:3] not in ("M17", "M16", "H25", "I25", "N40") or p.age >= 50)
            ]
            w = np.array([s[6] for s in cand])
            s = cand[int(self.rng.choice(len(cand), p=w / w.sum()))]
            lv = ("3S", "3") if s[0].startswith("I25") else ("3S", "3", "2")
            inst = self.hospital(p, need="surg", levels=lv)
            los = int(self.rng.integers(s[2][0], s[2][1] + 1))
            tmp, _ = self.stay(
                p,
                inst,
                d,
                los,
                s[0],
                ["注射用头孢曲松钠"] if los > 2 else [],
                ["X线计算机体层（CT）平扫"] if s[0][0] == "K" else ["数字化摄影"],
                procs=[s[1]],
                surgery=s[3],
                materials=s[4],
                anaesthesia=s[5],
            )
            return tmp
        grp = AGE_GROUP(p)
        cand = [m for m in MEDICAL if grp != "c" or m[0] in ("J18.900", "A09.900")]
        w = np.array([m[3] for m in cand])
        m = cand[int(self.rng.choice(len(cand), p=w / w.sum()))]
        r = self.rng.random()
        if grp == "c":
            inst = (
                next(h for h in self.hosp if "paed" in h.tags) if r < 0.6 else self.hospital(p, levels=("2",))
            )
        elif grp == "o" and r < 0.3:
            inst = self.hospital(p, levels=("1",))  # elderly in local level-1 hospitals: long, cheap stays
        else:
            inst = self.hospital(p, levels=("3S", "3", "2"))
        los = int(self.rng.integers(m[1][0], m[1][1] + 1)) + (3 if inst.level == "1" else 0)
        tmp, _ = self.stay(
            p, inst, d, los, m[0], m[2], MEDICAL_LABS[m[0]], emergency=self.rng.random() < 0.25
        )
        # post-stroke / post-arthroplasty rehabilitation course
        return tmp

    def delivery(self, p: Person) -> None:
        inst = self.hospital(p, need="maternity")
        dr = self.doctor(inst, self.fixed_dr, p.pid)
        d = self.day(60, NDAYS - 10)
        for w in (12, 20, 24, 28, 32, 36, 38):
            pv = d - dt.timedelta(weeks=40 - w)
            if pv.year == YEAR:
                ls = self.consult(p, inst, dr, pv) + self.tests(
                    ["B超常规检查", "血细胞分析", "尿液分析"], inst, pv, p, "Z34.900"
                )
                self.visit(p, "11", inst, dr, pv, pv, ["Z34.900"], ls)
        cs = self.rng.random() < float(PARAMS["caesarean_share"])  # type: ignore[arg-type]
        if cs:
            self.stay(
                p,
                inst,
                d,
                int(self.rng.integers(4, 7)),
                "O82.000",
                ["缩宫素注射液"],
                ["B超常规检查"],
                procs=["74.1x00"],
                surgery=["剖宫产术"],
                materials=["可吸收性外科缝线"],
                anaesthesia="全身麻醉",
            )
        else:
            self.stay(
                p,
                inst,
                d,
                int(self.rng.integers(2, 4)),
                "O80.000",
                ["缩宫素注射液"],
                ["B超常规检查"],
                procs=["73.5900"],
            )

    def course(self, p: Person, kind: str) -> None:
        """Rehab or TCM course: 10 sessions on consecutive working days, each its own outpatient visit."""
        if kind == "rehab":
            inst = self.hospital(p, need="rehab")
            diag, items = ("I63.900" if self.rng.random() < 0.5 else "M17.900"), [("运动疗法", 1)]
        else:
            inst = self.hospital(p, need="tcm") if self.rng.random() < 0.7 else self.primary(p)
            diag = str(self.rng.choice(["M54.500", "M47.800", "M17.900", "G51.000"]))
            items = [("普通针刺", 1), ("艾灸", 1), ("拔罐", 1), ("推拿治疗", 1)]
        dr = self.doctor(inst)
        d = self.day(0, NDAYS - 30)
        n = 0
        ncourse = 1 if self.rng.random() < 0.7 else 2
        while n < 10 * ncourse and d.year == YEAR:
            if d.weekday() < 5:
                k = int(self.rng.integers(1, len(items) + 1))
                ls = [self.ln(it(name), q, inst, d) for name, q in items[:k]]
                if n == 0:
                    ls = self.consult(p, inst, dr, d) + ls
                    if kind == "tcm" and self.rng.random() < 0.6:
                        herbs = self.rng.choice(
                            [
                                "黄芪",
                                "当归",
                                "党参",
                                "茯苓",
                                "川芎",
                                "白芍",
                                "熟地黄",
                                "丹参",
                                "红花",
                                "桃仁",
                                "山药",
                                "陈皮",
                                "炙甘草",
                            ],
                            int(self.rng.integers(6, 12)),
                            replace=False,
                        )
                        ls += [
                            self.ln(
                                it(str(h)),
                                float(int(self.rng.choice([6, 9, 10, 12, 15, 20, 30])) * 7),
                                inst,
                                d,
                                7,
                            )
                            for h in herbs
                        ]
                self.visit(p, "11", inst, dr, d, d, [diag], ls)
                n += 1
            d += dt.timedelta(days=1)

    def pharmacy(self, p: Person, d: dt.date, big: bool = False) -> int:
        ph = p.pharmacies[int(self.rng.integers(len(p.pharmacies)))]
        names = [
            "连花清瘟胶囊",
            "感冒清热颗粒",
            "布洛芬缓释胶囊",
            "奥美拉唑肠溶胶囊",
            "蒙脱石散",
            "氯雷他定片",
            "藿香正气水",
            "复方丹参滴丸",
            "六味地黄丸",
            "逍遥丸",
            "保和丸",
            "云南白药胶囊",
            "马应龙麝香痔疮膏",
            "复合维生素B片",
            "碳酸钙D3片",
            "阿莫西林胶囊",
            "对乙酰氨基酚片",
            "双氯芬酸钠缓释片",
            "金匮肾气丸",
            "强力枇杷露",
            "板蓝根颗粒",
        ]
        if p.chronic:
            for dg in p.chronic:
                names += [n for grp in CHRONIC[dg] for n in grp if not n.startswith(("甘精", "门冬"))] * 2
        if p.age >= 50:
            names += ["血糖试纸"] if "E11.900" in p.chronic else ["医用弹力袜"] if p.sex == "F" else []
        k = int(self.rng.integers(1, 5 if big else 3))
        ls: list[Line] = []
        for name in dict.fromkeys(self.rng.choice(names, k)):
            item = it(str(name))
            if (
                (item.sex and item.sex != p.sex)
                or (item.min_age is not None and p.age < item.min_age)
                or (item.max_age is not None and p.age + 1 > item.max_age)
            ):
                continue
            if item.indications and not any(dg.startswith(item.indications) for dg in p.chronic):
                continue
            pack, daily = pack_of(item)
            boxes = int(self.rng.integers(1, 4 if big else 3))
            ls.append(self.ln(item, float(pack * boxes), ph, d, int(pack * boxes / daily) if daily else None))
        if not ls:
            return -1
        dg = [x for x in p.chronic]
        return self.visit(p, "41", ph, None, d, d, dg, ls)


# ---------------------------------------------------------------- one year of normal care
def drop_after_death(reg: Care) -> None:
    """A person who died in hospital has no later claims (the bureau stops the card)."""
    v = reg.v
    death = {}
    for i in range(len(reg.lines)):
        if v["discharge_status"][i] == "4":
            pid, end = v["psn_id"][i], v["end_date"][i]
            death[pid] = min(death.get(pid, end), end)  # type: ignore[type-var]
    keep = [
        i
        for i in range(len(reg.lines))
        if not (
            v["psn_id"][i] in death
            and (
                v["begin_date"][i] > death[v["psn_id"][i]]
                or (v["begin_date"][i] == death[v["psn_id"][i]] and v["med_type"][i] != "21")
            )
        )
    ]  # type: ignore[operator]
    for k in v:
        v[k] = [v[k][i] for i in keep]
    reg.lines = [reg.lines[i] for i in keep]
    v["tmp"] = list(range(len(keep)))
    reg.dead = set(death)  # type: ignore[attr-defined]


def normal_year(reg: Care) -> None:
    rng = reg.rng
    pharm_by_d: dict[str, list[Inst]] = {}
    for ph in reg.by_kind["pharmacy"]:
        pharm_by_d.setdefault(ph.district, []).append(ph)
    cp = {int(k): v for k, v in PARAMS["chronic_prob_by_age"].items()}  # type: ignore[union-attr]
    cw = np.array(list(CHRONIC_W.values()))
    for p in reg.persons:
        grp = AGE_GROUP(p)
        lo, hi = PARAMS["pharmacies_per_person"]  # type: ignore[misc]
        p.pharmacies = list(rng.choice(pharm_by_d[p.district], int(rng.integers(lo, hi + 1)), replace=True))
        if rng.random() < 0.3:
            p.pharmacies.append(reg.pick(reg.by_kind["pharmacy"]))
        prob = max([v for a, v in cp.items() if p.age >= a], default=0.0)
        if p.age >= 18 and rng.random() < max(prob, 0.01 if p.age >= 25 else 0.0):
            k = 1 if rng.random() < 0.6 else 2
            p.chronic = list(dict.fromkeys(str(x) for x in rng.choice(list(CHRONIC), k, p=cw / cw.sum())))
            p.registered = rng.random() < float(PARAMS["chronic_registered_share"])  # type: ignore[arg-type]
            reg.chronic_programme(p)
        # acute episodes (winter-heavy)
        n = int(rng.poisson(PARAMS["acute_visits_mean"][{"c": "child", "a": "adult", "o": "old"}[grp]]))  # type: ignore[index]
        for _ in range(n):
            d = reg.day()
            if d.month in (4, 5, 6, 7, 8, 9) and rng.random() < 0.25:
                d = D0 + dt.timedelta(days=int(rng.choice([*range(0, 60), *range(305, 365)])))
            if grp == "o" and rng.random() < float(PARAMS["same_day_referral_prob_old"]):  # type: ignore[arg-type]
                # 基层首诊 then 同日转诊 to a level-3 hospital
                _, diag, _ = reg.acute_outpatient(p, d, reg.primary(p))
                h = reg.hospital(p, levels=("3S", "3"))
                dr = reg.doctor(h)
                reg.visit(
                    p,
                    "11",
                    h,
                    dr,
                    d,
                    d,
                    [diag],
                    reg.consult(p, h, dr, d)
                    + reg.tests(["血细胞分析", "B超常规检查", "X线计算机体层（CT）平扫"], h, d, p, diag),
                )
            else:
                reg.acute_outpatient(p, d)
        # pharmacy purchases
        emp = p.insutype == "310"
        for _ in range(int(rng.poisson(PARAMS["pharmacy_visits_mean"]["employee" if emp else "resident"]))):  # type: ignore[index]
            reg.pharmacy(p, reg.day())
        if emp:
            for _ in range(int(rng.poisson(PARAMS["pharmacy_december_extra_mean_employee"]))):  # type: ignore[arg-type]
                reg.pharmacy(p, dt.date(YEAR, 12, int(rng.integers(1, 32))), big=True)
        if rng.random() < float(PARAMS["pharmacy_pre_cny_extra_prob"]) * (1.0 if emp else 0.3):  # type: ignore[arg-type]
            reg.pharmacy(p, CNY - dt.timedelta(days=int(rng.integers(1, 14))), big=True)
        ap = PARAMS["admission_prob"][{"c": "child", "a": "adult", "o": "old"}[grp]]  # type: ignore[index]
        if rng.random() < ap:
            reg.admission(p)
            if grp == "o" and rng.random() < 0.2:
                reg.admission(p)
        if p.sex == "F" and 20 <= p.age <= 40 and rng.random() < float(PARAMS["delivery_prob_f20_40"]):  # type: ignore[arg-type]
            reg.delivery(p)
        if p.age >= 18 and rng.random() < float(PARAMS["dialysis_prob_adult"]) * (3 if p.age >= 50 else 1):  # type: ignore[arg-type]
            reg.dialysis(p)
        if p.age >= 40 and rng.random() < float(PARAMS["cancer_prob_40plus"]) * (2 if p.age >= 60 else 1):  # type: ignore[arg-type]
            reg.cancer(p)
        if grp == "o" and rng.random() < float(PARAMS["rehab_course_prob_old"]):  # type: ignore[arg-type]
            reg.course(p, "rehab")
        if p.age >= 25 and rng.random() < float(PARAMS["tcm_course_prob_adult"]):  # type: ignore[arg-type]
            reg.course(p, "tcm")
        if p.age >= 50 and rng.random() < float(PARAMS["frequent_attender_share"]) * 2:  # type: ignore[arg-type]
            places = [reg.primary(p), reg.hospital(p), reg.hospital(p, levels=("3S", "3"))]
            lo2, hi2 = PARAMS["frequent_attender_visits"]  # type: ignore[misc]
            for _ in range(int(rng.integers(lo2, hi2 + 1))):
                reg.acute_outpatient(p, reg.day(), places[int(rng.integers(3))])


# ---------------------------------------------------------------- fraud, waste and abuse (labels kept apart)
SCENARIO_WEIGHTS = {  # share of the fraud-visit budget
    "split_admission": 0.06,
    "ghost_bed": 0.05,
    "upcoding": 0.12,
    "phantom_services": 0.1,
    "ghost_patients": 0.1,
    "card_lending": 0.08,
    "excessive_quantity": 0.1,
    "duplicate_billing": 0.1,
    "pharmacy_swap": 0.08,
    "drug_resale": 0.07,
    "kickback_overprescribing": 0.08,
    "unbundling": 0.06,
}
PARAMS["scenario_weights"] = SCENARIO_WEIGHTS
XY = {
    "新城区": (0, 0),
    "碑林区": (0, -2),
    "莲湖区": (-3, 0),
    "灞桥区": (10, 2),
    "未央区": (0, 8),
    "雁塔区": (-2, -6),
    "阎良区": (40, 55),
    "临潼区": (35, 15),
    "长安区": (-2, -20),
    "高陵区": (15, 30),
    "鄠邑区": (-35, -15),
    "蓝田县": (30, -20),
    "周至县": (-70, -20),
}  # rough km from the Bell Tower


def amount(ls: list[Line]) -> int:
    return sum((x[2] * round(x[1] * 10000) + 5000) // 10000 for x in ls)


def inject(reg: Care) -> None:
    rng = reg.rng
    v = reg.v
    n_normal = len(reg.lines)
    budget = int(n_normal * float(PARAMS["fraud_target_share_of_visits"]))  # type: ignore[arg-type]
    quota = {k: max(10, int(budget * w)) for k, w in SCENARIO_WEIGHTS.items()}
    used: set[int] = set()
    inst_by_code = {i.code: i for i in reg.insts}
    person = reg.persons

    def idx(pred) -> list[int]:  # type: ignore[no-untyped-def]
        out = [i for i in range(n_normal) if i not in used and pred(i)]
        rng.shuffle(out)
        return out

    def mark(i: int, sc: str, var: str, stake: int = -1) -> None:
        used.add(i)
        reg.label(i, sc, var, stake)

    # 1 分解住院: a medical stay split in two, the second re-billing admission work-up
    for i in idx(lambda i: v["med_type"][i] == "21" and v["los_days"][i] >= 8 and v["procedures"][i] == "")[
        : quota["split_admission"] // 2
    ]:
        b: dt.date = v["begin_date"][i]  # type: ignore[assignment]
        cut = b + dt.timedelta(days=int(rng.integers(3, v["los_days"][i] - 3)))  # type: ignore[operator]
        gap = int(rng.choice([0, 1, 1, 2, 3]))
        first = [x for x in reg.lines[i] if x[3] < cut]
        second = [
            (c, q, pr, d + dt.timedelta(days=gap), pd, f) for c, q, pr, d, pd, f in reg.lines[i] if d >= cut
        ]
        inst = inst_by_code[v["fixmedins_code"][i]]  # type: ignore[index]
        p = person[v["psn_id"][i]]  # type: ignore[index]
        d2 = cut + dt.timedelta(days=gap)
        extra = [
            reg.ln(it(n), 1, inst, d2, None, True)
            for n in ("血细胞分析", "尿液分析", "丙氨酸氨基转移酶", "肌酐测定", "常规心电图检查")
        ]
        reg.lines[i] = first
        v["end_date"][i] = cut
        v["los_days"][i] = (cut - b).days
        # the second stay ends on the original discharge day shifted by the gap
        end2 = max(x[3] for x in second + extra) + dt.timedelta(days=1)
        j = reg.visit(
            p, "21", inst, (v["bilg_dr_codg"][i], "233"), d2, end2, [v["diagnoses"][i]], second + extra
        )  # type: ignore[arg-type]
        v["los_days"][j] = (v["end_date"][j] - d2).days  # type: ignore[operator]
        mark(i, "split_admission", "first_part", 0)
        mark(j, "split_admission", "readmission", amount(second + extra))

    # 2 挂床住院: elderly "inpatients" at level-1 hospitals, bed and nursing billed daily, almost no care,
    # while they keep shopping at their pharmacy
    lv1 = [h for h in reg.hosp if h.level == "1"]
    dead = reg.dead  # type: ignore[attr-defined]
    olds = [p for p in person if p.age >= 65 and p.pid not in dead]
    for p in rng.choice(olds, quota["ghost_bed"], replace=False):
        inst = lv1[int(rng.integers(len(lv1)))]
        d = reg.day(10, NDAYS - 30)
        los = int(rng.integers(10, 21))
        dr = reg.doctor(inst)
        diag = str(rng.choice(["I63.900", "I10.x00", "M54.500", "I25.100"]))
        ls = []
        for k in range(los):
            dd = d + dt.timedelta(days=k)
            ls += [
                reg.ln(it("普通病房床位费（三人间）"), 1, inst, dd, None, True),
                reg.ln(it("Ⅲ级护理"), 1, inst, dd, None, True),
                reg.ln(it("住院诊察费"), 1, inst, dd, None, True),
            ]
        ls += [
            reg.ln(it("血细胞分析"), 1, inst, d, None, True),
            reg.ln(it("复方丹参滴丸"), 180, inst, d, None, True),
        ]
        j = reg.visit(p, "21", inst, dr, d, d + dt.timedelta(days=los), [diag], ls)
        mark(j, "ghost_bed", "bed_without_care")
        if not p.pharmacies:
            p.pharmacies = [reg.pick(reg.by_kind["pharmacy"])]
        reg.pharmacy(p, d + dt.timedelta(days=los // 2))

    # 3 upcoding: (a) 主任医师诊察费 billed for a 主治/住院 physician; (b) pneumonia upgraded to respiratory failure
    title = {dr: t for i in reg.insts for dr, t in i.roster}
    qa = quota["upcoding"] * 2 // 3
    chief = it("主任医师门诊诊察费")
    for i in idx(
        lambda i: (
            v["med_type"][i] == "11"
            and v["hosp_lv"][i] in ("3", "3S")
            and title.get(v["bilg_dr_codg"][i]) in ("233", "234")
        )
    )[:qa]:  # type: ignore[arg-type]
        new = []
        stake = 0
        for x in reg.lines[i]:
            if x[0] == it("普通门诊诊察费").code:
                stake = chief.price - x[2]
                x = (chief.code, 1, chief.price, x[3], None, True)
            new.append(x)
        if stake:
            reg.lines[i] = new
            mark(i, "upcoding", "consult_grade", stake)
    for i in idx(lambda i: v["med_type"][i] == "21" and str(v["diagnoses"][i]).startswith(("J18", "J44")))[
        : quota["upcoding"] - qa
    ]:
        inst = inst_by_code[v["fixmedins_code"][i]]  # type: ignore[index]
        b = v["begin_date"][i]
        add = []
        for k in range(3):
            dd = b + dt.timedelta(days=k)  # type: ignore[operator]
            add += [
                reg.ln(it("监护病房床位费"), 1, inst, dd, None, True),
                reg.ln(it("呼吸机辅助呼吸"), 24, inst, dd, None, True),
                reg.ln(it("心电监测"), 24, inst, dd, None, True),
                reg.ln(it("血气分析"), 1, inst, dd, None, True),
            ]
        reg.lines[i] = reg.lines[i] + add
        v["diagnoses"][i] = "J96.000|" + str(v["diagnoses"][i])
        mark(i, "upcoding", "severity", amount(add))

    # 4 phantom services: expensive examinations billed on minor outpatient visits, never done
    ph_items = [
        "磁共振（MRI）平扫",
        "X线计算机体层（CT）平扫",
        "动态心电图",
        "动态血压监测",
        "彩色多普勒超声心动图",
        "常规脑电图",
        "双能X线骨密度测定",
        "肺通气功能检查",
    ]
    for i in idx(
        lambda i: v["med_type"][i] == "11" and v["hosp_lv"][i] in ("2", "3", "3S") and len(reg.lines[i]) <= 5
    )[: quota["phantom_services"]]:
        inst = inst_by_code[v["fixmedins_code"][i]]  # type: ignore[index]
        d = v["begin_date"][i]
        add = [
            reg.ln(it(n), 1, inst, d, None, True)
            for n in rng.choice(ph_items, int(rng.integers(2, 5)), replace=False)
        ]  # type: ignore[arg-type]
        reg.lines[i] = reg.lines[i] + add
        mark(i, "phantom_services", "exams_not_done", amount(add))

    # 5 ghost patients: two village clinics bill templated infusion visits on collected cards
    clinics = [c for c in reg.by_kind["primary"] if c.district not in CENTRAL]
    n_ghost = quota["ghost_patients"]
    for c in rng.choice(clinics, 2, replace=False):
        locals_ = [
            p
            for p in person
            if p.district == c.district and p.age >= 60 and p.insutype == "390" and p.pid not in dead
        ] or [p for p in person if p.age >= 60 and p.pid not in dead]  # tiny test regions
        dr = c.roster[0]
        pool = list(rng.choice(locals_, min(len(locals_), max(5, n_ghost // 12)), replace=False))
        made = 0
        while made < n_ghost // 2:
            p = pool[int(rng.integers(len(pool)))]
            d = reg.day()
            diag = str(rng.choice(["J20.900", "I10.x00", "J06.900"]))
            ls = [
                reg.ln(it("一般诊疗费"), 1, c, d, None, True),
                reg.ln(it("静脉输液（第一组）"), 1, c, d, None, True),
                reg.ln(it("一次性使用输液器"), 1, c, d, None, True),
                reg.ln(it("注射用头孢曲松钠"), 2, c, d, 1, True),
                reg.ln(it("氯化钠注射液"), 1, c, d, 1, True),
                reg.ln(it("复方丹参滴丸"), 180, c, d, 6, True),
            ]
            mark(reg.visit(p, "11", c, dr, d, d, [diag], ls), "ghost_patients", c.code)
            made += 1

    # 6 card lending: on a day the card holder is seen in one place, the card is used in a far district
    cand = idx(lambda i: v["med_type"][i] in ("11", "41") and 20 <= person[v["psn_id"][i]].age <= 60)  # type: ignore[index]
    made = 0
    for i in cand:
        if made >= quota["card_lending"]:
            break
        here = inst_by_code[v["fixmedins_code"][i]].district  # type: ignore[index]
        far = [
            x
            for x in reg.insts
            if x.kind in ("pharmacy", "hospital") and math.dist(XY[x.district], XY[here]) > 45
        ]
        if not far:
            continue
        p = person[v["psn_id"][i]]  # type: ignore[index]
        inst = far[int(rng.integers(len(far)))]
        d = v["begin_date"][i]
        if p.sex == "M" and rng.random() < 0.2:
            names, diag = ["黄体酮软胶囊", "桂枝茯苓胶囊"], "N94.600"
        else:
            names, diag = (
                [str(rng.choice(["甘精胰岛素注射液", "司美格鲁肽注射液", "磷酸西格列汀片", "达格列净片"]))],
                "E11.900",
            )
            if "E11.900" in p.chronic:
                names, diag = ["恩替卡韦分散片"], "B18.100"
        dr = reg.doctor(inst)
        ls = [] if inst.kind == "pharmacy" else reg.consult(p, inst, dr, d)  # type: ignore[arg-type]
        for n in names:
            item = it(n)
            pack, _ = pack_of(item)
            ls.append(reg.ln(item, float(pack * (2 if pack == 1 else 1)), inst, d, 30, True))  # type: ignore[arg-type]
        j = reg.visit(p, "41" if inst.kind == "pharmacy" else "11", inst, dr, d, d, [diag], ls)  # type: ignore[arg-type]
        mark(j, "card_lending", f"{here}->{inst.district}")
        used.add(i)
        made += 1

    # 7 excessive quantities: far beyond any pack for the days prescribed
    for i in idx(
        lambda i: v["med_type"][i] in ("11", "41") and any(x[4] and x[4] <= 30 for x in reg.lines[i])
    )[: quota["excessive_quantity"]]:
        new, stake = [], 0
        done = False
        for x in reg.lines[i]:
            if not done and x[4] and x[4] <= 30 and CAT_BY_CODE[x[0]].kind == "drug":
                pack, _ = pack_of(CAT_BY_CODE[x[0]])
                factor = int(rng.integers(6, 16))
                nx = (x[0], x[1] * factor, x[2], x[3], x[4], True)
                stake = amount([nx]) - amount([x])
                x, done = nx, True
            new.append(x)
        if stake:
            reg.lines[i] = new
            mark(i, "excessive_quantity", "x6_to_x15", stake)

    # 8 duplicate billing: the same service twice on the same day (outpatient test, inpatient bed day)
    qd = quota["duplicate_billing"]
    for i in idx(
        lambda i: (
            v["med_type"][i] in ("11", "21")
            and any(CAT_BY_CODE[x[0]].kind == "service" for x in reg.lines[i][2:])
        )
    )[:qd]:
        svc = [
            x
            for x in reg.lines[i]
            if CAT_BY_CODE[x[0]].kind == "service"
            and not CAT_BY_CODE[x[0]].name.startswith(("挂号", "普通门诊", "一般诊疗"))
        ]
        if not svc:
            continue
        pick = svc[int(rng.integers(len(svc)))]
        dup = (pick[0], pick[1], pick[2], pick[3], pick[4], True)
        reg.lines[i] = reg.lines[i] + [dup]
        mark(
            i,
            "duplicate_billing",
            "inpatient_same_day" if v["med_type"][i] == "21" else "outpatient_same_day",
            amount([dup]),
        )

    # 9 pharmacy drug swapping (串换): three pharmacies bill dear covered drugs for daily goods
    swap_ph = list(rng.choice(reg.by_kind["pharmacy"], 3, replace=False))
    dear = ["安宫牛黄丸", "沙美特罗替卡松吸入粉雾剂", "百令胶囊", "复方丹参滴丸", "仙灵骨葆胶囊", "阿胶"]
    emps = [p for p in person if p.insutype == "310" and p.pid not in dead]
    for k in range(quota["pharmacy_swap"]):
        ph = swap_ph[k % 3]
        pool = [p for p in emps if p.district == ph.district] or emps
        p = pool[int(rng.integers(len(pool)))]
        d = reg.day()
        ls = []
        for n in rng.choice(dear, int(rng.integers(1, 3)), replace=False):
            item = it(str(n))
            pack, _ = pack_of(item)
            q = float(rng.choice([1, 2, 3])) if pack == 1 else float(pack * int(rng.integers(2, 5)))
            if str(n) == "阿胶":
                q = float(rng.choice([250, 500]))
            ls.append(reg.ln(item, q, ph, d, 30, True))
        mark(reg.visit(p, "41", ph, None, d, d, [], ls), "pharmacy_swap", ph.code)

    # 10 回流药: registered chronic patients collect overlapping long prescriptions of dear drugs at several hospitals
    chronic_ps = [
        p
        for p in person
        if p.registered
        and p.pid not in dead
        and p.chronic
        and p.chronic[0] in ("E11.900", "B18.100", "J44.900", "I25.100")
    ]
    dear_by = {
        "E11.900": "司美格鲁肽注射液",
        "B18.100": "富马酸丙酚替诺福韦片",
        "J44.900": "沙美特罗替卡松吸入粉雾剂",
        "I25.100": "替格瑞洛片",
    }
    made = 0
    for p in rng.permutation(np.array(chronic_ps, dtype=object)):
        if made >= quota["drug_resale"]:
            break
        dg = p.chronic[0]
        hs = [reg.hospital(p, levels=("3S", "3", "2")) for _ in range(3)]
        d = reg.day(0, 60)
        while d.year == YEAR and made < quota["drug_resale"]:
            h = hs[int(rng.integers(3))]
            dr = reg.doctor(h)
            ls = reg.consult(p, h, dr, d)
            ln = reg.drug(dear_by[dg], 84, h, d, p, dg)
            if ln is None:
                break
            ls.append((*ln[:5], True))  # type: ignore[arg-type]
            mark(reg.visit(p, "14", h, dr, d, d, [dg], ls), "drug_resale", dear_by[dg])
            made += 1
            d += dt.timedelta(days=int(rng.integers(18, 35)))

    # 11 kickbacks: two physicians of one level-2 hospital add 辅助用药 injections to their patients
    h2 = [h for h in reg.hosp if h.level == "2" and h.roster]
    kh = h2[int(rng.integers(len(h2)))]
    kdrs = kh.roster[:2]
    aux = ["注射用鼠神经生长因子", "小牛血去蛋白提取物注射液", "注射用脑蛋白水解物", "注射用胸腺五肽"]
    cand = idx(lambda i: v["fixmedins_code"][i] == kh.code and v["med_type"][i] in ("11", "21"))
    if len(cand) < quota["kickback_overprescribing"]:
        cand += idx(
            lambda i: (
                inst_by_code[v["fixmedins_code"][i]].level == "2"
                and v["med_type"][i] in ("11", "21")  # type: ignore[index]
                and v["fixmedins_code"][i] != kh.code
            )
        )
    for i in cand[: quota["kickback_overprescribing"]]:
        inst = inst_by_code[v["fixmedins_code"][i]]  # type: ignore[index]
        if inst is not kh:
            # move the visit to the kickback hospital (same district hospital, same care)
            v["fixmedins_code"][i] = kh.code
            reg.lines[i] = [
                (c, q, reg.price(CAT_BY_CODE[c], kh), d, pd, f) for c, q, pr, d, pd, f in reg.lines[i]
            ]
        dr = kdrs[int(rng.integers(2))]
        v["bilg_dr_codg"][i] = dr[0]
        b: dt.date = v["begin_date"][i]  # type: ignore[no-redef]
        ndays = max(1, int(v["los_days"][i]) - 1) if v["med_type"][i] == "21" else 1  # type: ignore[call-overload]
        drugs = list(rng.choice(aux, int(rng.integers(1, 3)), replace=False))
        add = [
            reg.ln(it(str(n)), 1, kh, b + dt.timedelta(days=k), None if v["med_type"][i] == "21" else 1, True)
            for k in range(ndays)
            for n in drugs
        ]
        reg.lines[i] = reg.lines[i] + add
        mark(i, "kickback_overprescribing", dr[0], amount(add))

    # 12 unbundling: parts of an operation billed as separate items
    for i in idx(
        lambda i: v["med_type"][i] == "21" and v["procedures"][i] not in ("", "99.2500", "92.2400", "73.5900")
    )[: quota["unbundling"]]:
        inst = inst_by_code[v["fixmedins_code"][i]]  # type: ignore[index]
        sd = v["begin_date"][i] + dt.timedelta(days=min(1, int(v["los_days"][i]) - 1))  # type: ignore[operator, call-overload]
        add = [
            reg.ln(it("局部浸润麻醉"), 1, inst, sd, None, True),
            reg.ln(it("清创缝合术"), 1, inst, sd, None, True),
            reg.ln(it("导尿"), 1, inst, sd, None, True),
            reg.ln(it("静脉注射"), 4, inst, sd, None, True),
        ]
        if "腹腔镜下阑尾切除术" in {CAT_BY_CODE[x[0]].name for x in reg.lines[i]}:
            add.append(reg.ln(it("阑尾切除术"), 1, inst, sd, None, True))
        reg.lines[i] = reg.lines[i] + add
        mark(i, "unbundling", "components_billed", amount(add))


CAT_BY_CODE = {v.code: v for v in CAT.values()}


# ---------------------------------------------------------------- output
def write(reg: Care, insts: list[Inst], persons_df: pl.DataFrame, out: Path, seed: int) -> dict[str, object]:
    out.mkdir(parents=True, exist_ok=True)
    v = reg.v
    order = sorted(range(len(reg.lines)), key=lambda i: (v["begin_date"][i], i))
    vid = {tmp: k for k, tmp in enumerate(order)}
    cols: dict[str, list[object]] = {k: [v[k][i] for i in order] for k in v if k != "tmp"}
    visits = pl.DataFrame(
        {
            "visit_id": list(range(len(order))),
            "seq": list(range(len(order))),
            "mdtrt_id": [f"{ADMDVS}{YEAR}{k:012d}" for k in range(len(order))],
            **cols,
            "locality": ["local"] * len(order),
            "account_payer_id": [-1] * len(order),
            "scenario": pl.Series([None] * len(order), dtype=pl.String),
            "n_lines": [len(reg.lines[i]) for i in order],
        }
    )
    visits = visits.with_columns(
        pl.col("diagnoses").str.replace_all(".", "", literal=True),
        pl.col("procedures").str.replace_all(".", "", literal=True),
    )
    visits = visits.select(
        pl.col("visit_id").cast(pl.Int64),
        pl.col("seq").cast(pl.Int64),
        "mdtrt_id",
        pl.col("psn_id").cast(pl.Int64),
        "med_type",
        "fixmedins_code",
        "hosp_lv",
        pl.col("bilg_dr_codg").cast(pl.String),
        pl.col("begin_date").cast(pl.Date),
        pl.col("end_date").cast(pl.Date),
        "locality",
        "emergency",
        "use_account",
        pl.col("account_payer_id").cast(pl.Int64),
        "diagnoses",
        "procedures",
        pl.col("los_days").cast(pl.Int16),
        "discharge_status",
        "scenario",
        pl.col("n_lines").cast(pl.Int16),
    )
    lc: dict[str, list[object]] = {
        k: []
        for k in ("visit_id", "feedetl_sn", "code", "qty", "price", "amount", "prd_days", "fee_ocur_time")
    }
    for tmp in order:
        for sn, (code, units, price, day, prd, _f) in enumerate(reg.lines[tmp], start=1):
            q = round(units * 10000)
            lc["visit_id"].append(vid[tmp])
            lc["feedetl_sn"].append(sn)
            lc["code"].append(code)
            lc["qty"].append(q)
            lc["price"].append(price)
            lc["amount"].append((price * q + 5000) // 10000)
            lc["prd_days"].append(prd)
            lc["fee_ocur_time"].append(day)
    lines = pl.DataFrame(lc).select(
        pl.col("visit_id").cast(pl.Int64),
        pl.col("feedetl_sn").cast(pl.Int32),
        "code",
        pl.col("qty").cast(pl.Int64),
        pl.col("price").cast(pl.Int64),
        pl.col("amount").cast(pl.Int64),
        pl.lit(None, dtype=pl.String).alias("scenario"),
        pl.col("prd_days").cast(pl.Int16),
        pl.col("fee_ocur_time").cast(pl.Date),
    )
    inst_df = pl.DataFrame(
        {
            "fixmedins_code": [i.code for i in insts],
            "name": [i.name for i in insts],
            "kind": [i.kind for i in insts],
            "level": [i.level for i in insts],
            "district": [i.district for i in insts],
        }
    )
    phys = pl.DataFrame(
        {
            "dr_code": [d for i in insts for d, _ in i.roster],
            "fixmedins_code": [i.code for i in insts for _ in i.roster],
            "title": [t for i in insts for _, t in i.roster],
            "title_name": [TITLE_NAMES[t] for i in insts for _, t in i.roster],
        }
    )
    vis_amt = lines.group_by("visit_id").agg(pl.col("amount").sum().alias("visit_amount"))
    labels = pl.DataFrame(
        {
            "visit_id": [vid[t] for t, *_ in reg.labels],
            "scenario": [s for _, s, _, _ in reg.labels],
            "variant": [x for _, _, x, _ in reg.labels],
            "stake": [k for *_, k in reg.labels],
        },
        schema={"visit_id": pl.Int64, "scenario": pl.String, "variant": pl.String, "stake": pl.Int64},
    )
    labels = (
        labels.join(vis_amt, on="visit_id", how="left")
        .with_columns(
            pl.when(pl.col("stake") < 0)
            .then(pl.col("visit_amount"))
            .otherwise(pl.col("stake"))
            .alias("stake_fen")
        )
        .drop("stake")
        .unique("visit_id", keep="first")
        .sort("visit_id")
    )
    persons_df.write_parquet(out / "persons.parquet")
    inst_df.write_parquet(out / "institutions.parquet")
    phys.write_parquet(out / "physicians.parquet")
    visits.write_parquet(out / "visits.parquet")
    lines.write_parquet(out / "lines.parquet")
    labels.write_parquet(out / "labels.parquet")
    # the 门慢门特 register (docs/SYNTH.md: registered_conditions.parquet, psn_no / icd_prefix / condition):
    # the bureau's own list of who may be settled as med_type 14, so long prescriptions can be read against it
    reg_rows = [
        (f"P{p.pid:09d}", dg.replace(".", "")[:3], dg)
        for p in reg.persons
        if p.registered
        for dg in p.chronic
    ]
    pl.DataFrame(
        reg_rows, schema={"psn_no": pl.String, "icd_prefix": pl.String, "condition": pl.String}, orient="row"
    ).write_parquet(out / "registered_conditions.parquet")
    summary = {
        "seed": seed,
        "persons": persons_df.height,
        "visits": visits.height,
        "lines": lines.height,
        "labelled_visits": labels.height,
        "labelled_share": round(labels.height / visits.height, 4),
        "by_scenario": dict(labels.group_by("scenario").len().sort("scenario").iter_rows()),
        "by_med_type": dict(visits.group_by("med_type").len().sort("med_type").iter_rows()),
    }
    (out / "params.json").write_text(
        json.dumps(
            {"params": PARAMS, "pack_sizes": PACK, "summary": summary},
            ensure_ascii=False,
            indent=1,
            default=str,
        ),
        encoding="utf-8",
    )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--persons", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=101)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    insts = make_institutions(rng)
    persons, pdf = make_persons(rng, a.persons)
    reg = Care(rng, insts, persons)
    reg.fixed_dr = {}
    reg.had_flu = set()
    normal_year(reg)
    drop_after_death(reg)
    inject(reg)
    print(json.dumps(write(reg, insts, pdf, a.out, a.seed), ensure_ascii=False))


if __name__ == "__main__":
    main()
