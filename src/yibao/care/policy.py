"""Internet-care policy as data: the typed form of ``care/params.yaml`` and its validation (pure).

Every figure is read with its ``source`` key, which must name an entry of ``sources:``; amounts are 元 strings
turned into fen, ratios decimal strings turned into 1/10000 (:mod:`yibao.money`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yibao.errors import FieldError
from yibao.money import MoneyError, parse_ratio, yuan_to_fen
from yibao.settlement.model import CommercialProduct


class CareError(FieldError):
    """A care request or parameter that cannot be used as given; nothing was written."""


# the care scenes a visit is settled in (Visit.scene), which a commercial product may cover; "" an ordinary
# visit at a counter
SCENES = frozenset({"", "online_followup", "remote_consult", "family_doctor"})


@dataclass(frozen=True)
class Consortium:
    id: str
    name: str
    members: frozenset[str]


@dataclass(frozen=True)
class Hospital:
    code: str
    name: str
    level: str


@dataclass(frozen=True)
class InternetHospital:
    code: str
    name: str
    attached_to: str  # the physical hospital it is part of (fixmedins_code used to settle)
    level: str  # same level as the attached hospital
    consortium: str


@dataclass(frozen=True)
class Pharmacy:
    code: str
    name: str
    consortium: str


@dataclass(frozen=True)
class Physician:
    code: str
    name: str
    internet_hospital: str
    valid_from: dt.date
    valid_to: dt.date


@dataclass(frozen=True)
class Condition:
    code: str  # ICD-10 prefix
    name: str
    measure: str  # bp / glucose / ""


@dataclass(frozen=True)
class Package:
    id: str
    name: str
    fee: int
    payers: tuple[str, ...]  # fund / account / commercial / self


@dataclass(frozen=True)
class Capitation:
    base_per_year: int
    age_bands: tuple[tuple[int, int, int], ...]  # (from, to, weight)
    sex: Mapping[str, int]
    conditions: Mapping[str, int]
    referral_withhold_ratio: int
    referral_withhold_cap: int
    bonus_pool: int
    targets: Mapping[str, int]


Product = CommercialProduct  # a commercial product is engine policy data (yibao.settlement.model)


@dataclass(frozen=True)
class CareParams:
    consortia: Mapping[str, Consortium]
    hospitals: Mapping[str, Hospital]
    internet_hospitals: Mapping[str, InternetHospital]
    pharmacies: Mapping[str, Pharmacy]
    physicians: Mapping[str, Physician]
    conditions: Mapping[str, Condition]
    follow_up_only: bool
    chronic_med_type: str
    other_med_type: str
    consult_item: str
    consult_price: int
    delivery_fee: int
    delivery_insured: bool
    rx_max_supply_days: int
    not_online_forms: frozenset[str]
    not_online_prefixes: tuple[str, ...]
    credit_days: int
    credit_per_visit: int
    credit_per_year: int
    credit_min_followups: int
    credit_default_after: int
    credit_suspend_days: int
    credit_write_off_after: int
    remote_item: str
    remote_fee_by_level: Mapping[str, int]
    remote_consultant_share: int
    packages: Mapping[str, Package]
    package_item: str  # the catalogue item a package fee is settled on (家庭医生签约服务费（个人支付部分）)
    capitation: Capitation
    insurers: Mapping[str, str]
    products: Mapping[str, Product]
    sources: Mapping[str, str]

    def consortium_of(self, code: str) -> str:
        """The consortium ``code`` belongs to ('' when none)."""
        for c in self.consortia.values():
            if code in c.members:
                return c.id
        ih = self.internet_hospitals.get(code)
        return ih.consortium if ih else ""

    def condition_for(self, diagnosis: str) -> Condition | None:
        """The registered-condition entry whose code prefixes ``diagnosis``."""
        for code, c in self.conditions.items():
            if diagnosis.startswith(code):
                return c
        return None


class _Reader:
    def __init__(self, sources: Mapping[str, Any]) -> None:
        self.sources = sources

    def src(self, entry: Mapping[str, Any], where: str) -> None:
        key = entry.get("source")
        if not key or key not in self.sources:
            raise CareError(
                f"{where}.source", f"须引用 sources 中的条目 must name an entry of sources (got {key!r})"
            )

    def entry(self, data: Mapping[str, Any], path: str) -> Mapping[str, Any]:
        node: Any = data
        for part in path.split("."):
            if not isinstance(node, Mapping) or part not in node:
                raise CareError(path, "缺少参数 missing")
            node = node[part]
        if not isinstance(node, Mapping):
            raise CareError(path, "须为映射 must be a mapping with a source")
        self.src(node, path)
        return node

    def value(self, data: Mapping[str, Any], path: str) -> Any:
        return self.entry(data, path).get("value")

    def fen(self, v: Any, where: str) -> int:
        try:
            return yuan_to_fen(v)
        except MoneyError as exc:
            raise CareError(where, f"金额无效 invalid amount: {exc}") from exc

    def ratio(self, v: Any, where: str) -> int:
        try:
            return parse_ratio(v)
        except MoneyError as exc:
            raise CareError(where, f"比例无效 invalid ratio: {exc}") from exc

    def int_(self, v: Any, where: str) -> int:
        if type(v) is not int or v < 0:
            raise CareError(where, "须为非负整数 must be a non-negative integer")
        return v

    def items(self, data: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
        rows = data.get(key)
        if not isinstance(rows, list):
            raise CareError(key, "须为列表 must be a list")
        for i, r in enumerate(rows):
            if not isinstance(r, Mapping):
                raise CareError(f"{key}[{i}]", "须为映射 must be a mapping")
            self.src(r, f"{key}[{i}]")
        return rows


def parse_params(data: Mapping[str, Any]) -> CareParams:
    """Validate the whole parameter mapping; the first bad entry is named (path and reason)."""
    sources = data.get("sources")
    if not isinstance(sources, Mapping) or not sources:
        raise CareError("sources", "须列出来源 the sources must be listed")
    r = _Reader(sources)
    consortia = {
        c["id"]: Consortium(c["id"], c["name"], frozenset(c["members"])) for c in r.items(data, "consortia")
    }
    hospitals = {
        h["code"]: Hospital(h["code"], h["name"], str(h["level"])) for h in r.items(data, "hospitals")
    }
    ihs = {}
    for i, h in enumerate(r.items(data, "internet_hospitals")):
        if h["consortium"] not in consortia:
            raise CareError(f"internet_hospitals[{i}].consortium", "未知医联体 unknown consortium")
        ihs[h["code"]] = InternetHospital(
            h["code"], h["name"], h["attached_to"], str(h["level"]), h["consortium"]
        )
    pharmacies = {
        p["code"]: Pharmacy(p["code"], p["name"], p["consortium"]) for p in r.items(data, "pharmacies")
    }
    physicians = {}
    for i, p in enumerate(r.items(data, "physicians")):
        if p["internet_hospital"] not in ihs:
            raise CareError(f"physicians[{i}].internet_hospital", "未知互联网医院 unknown internet hospital")
        physicians[p["code"]] = Physician(
            p["code"], p["name"], p["internet_hospital"], _date(p["valid_from"]), _date(p["valid_to"])
        )
    conditions = {
        c["code"]: Condition(c["code"], c["name"], c.get("measure") or "")
        for c in r.items(data, "conditions")
    }
    consult = r.entry(data, "online.consultation")
    delivery = r.entry(data, "online.delivery_fee")
    fees = {}
    for i, f in enumerate(r.items(data.get("consultation", {}), "fee_by_level")):
        fees[str(f["level"])] = r.fen(f["amount"], f"consultation.fee_by_level[{i}].amount")
    fd = data.get("family_doctor")
    if not isinstance(fd, Mapping):
        raise CareError("family_doctor", "缺少参数 missing")
    packages = {}
    for i, p in enumerate(r.items(fd, "packages")):
        payers = tuple(p["payers"])
        bad = set(payers) - {"fund", "account", "commercial", "self"}
        if bad:
            raise CareError(f"family_doctor.packages[{i}].payers", f"未知付款方 unknown payer {sorted(bad)}")
        packages[p["id"]] = Package(p["id"], p["name"], r.fen(p["fee"], f"packages[{i}].fee"), payers)
    cap = fd.get("capitation")
    if not isinstance(cap, Mapping):
        raise CareError("family_doctor.capitation", "缺少参数 missing")
    bands = tuple(
        (int(b["from"]), int(b["to"]), _weight(b["weight"], f"capitation.age_bands[{i}].weight"))
        for i, b in enumerate(r.items(cap, "age_bands"))
    )
    sex = r.entry(cap, "sex")
    conds = r.entry(cap, "conditions")
    targets = r.entry(cap, "targets")
    capitation = Capitation(
        base_per_year=r.fen(r.value(cap, "base_per_year"), "capitation.base_per_year"),
        age_bands=bands,
        sex={k: _weight(v, f"capitation.sex.{k}") for k, v in sex.items() if k != "source"},
        conditions={k: _weight(v, f"capitation.conditions.{k}") for k, v in conds.items() if k != "source"},
        referral_withhold_ratio=r.ratio(r.value(cap, "referral_withhold_ratio"), "referral_withhold_ratio"),
        referral_withhold_cap=r.ratio(r.value(cap, "referral_withhold_cap"), "referral_withhold_cap"),
        bonus_pool=r.ratio(r.value(cap, "bonus_pool"), "bonus_pool"),
        targets={k: r.ratio(v, f"capitation.targets.{k}") for k, v in targets.items() if k != "source"},
    )
    com = data.get("commercial")
    if not isinstance(com, Mapping):
        raise CareError("commercial", "缺少参数 missing")
    insurers = {i["code"]: i["name"] for i in r.items(com, "insurers")}
    products = {}
    for i, p in enumerate(r.items(com, "products")):
        where = f"commercial.products[{i}]"
        if p["insurer"] not in insurers:
            raise CareError(f"{where}.insurer", "未知保险公司 unknown insurer")
        base = p.get("base", "personal_burden")
        if base not in ("personal_burden", "in_scope"):
            raise CareError(
                f"{where}.base", "须为 personal_burden 或 in_scope must be personal_burden or in_scope"
            )
        scenes = frozenset(p["scenes"])
        if not scenes <= SCENES:
            raise CareError(f"{where}.scenes", f"未知场景 unknown scene {sorted(scenes - SCENES)}")
        products[p["id"]] = Product(
            p["id"],
            p["insurer"],
            p["name"],
            scenes,
            tuple(p.get("conditions") or ()),
            r.fen(p["deductible"], f"{where}.deductible"),
            r.ratio(p["ratio"], f"{where}.ratio"),
            r.fen(p["per_claim_cap"], f"{where}.per_claim_cap"),
            r.fen(p["annual_cap"], f"{where}.annual_cap"),
            base == "personal_burden",
        )
    return CareParams(
        consortia=consortia,
        hospitals=hospitals,
        internet_hospitals=ihs,
        pharmacies=pharmacies,
        physicians=physicians,
        conditions=conditions,
        follow_up_only=bool(r.value(data, "online.follow_up_only")),
        chronic_med_type=str(r.value(data, "online.chronic_med_type")),
        other_med_type=str(r.value(data, "online.other_med_type")),
        consult_item=str(consult["item"]),
        consult_price=r.fen(consult["price"], "online.consultation.price"),
        delivery_fee=r.fen(delivery["amount"], "online.delivery_fee.amount"),
        delivery_insured=bool(delivery.get("insured", False)),
        rx_max_supply_days=r.int_(
            r.value(data, "prescription.max_supply_days"), "prescription.max_supply_days"
        ),
        not_online_forms=frozenset(r.value(data, "prescription.not_online_dosage_forms")),
        not_online_prefixes=tuple(r.value(data, "prescription.not_online_prefixes")),
        credit_days=r.int_(r.value(data, "credit.repayment_days"), "credit.repayment_days"),
        credit_per_visit=r.fen(r.value(data, "credit.per_visit_limit"), "credit.per_visit_limit"),
        credit_per_year=r.fen(r.value(data, "credit.per_year_limit"), "credit.per_year_limit"),
        credit_min_followups=r.int_(r.value(data, "credit.min_paid_followups"), "credit.min_paid_followups"),
        credit_default_after=r.int_(r.value(data, "credit.default_after_days"), "credit.default_after_days"),
        credit_suspend_days=r.int_(r.value(data, "credit.suspend_days"), "credit.suspend_days"),
        credit_write_off_after=r.int_(
            r.value(data, "credit.write_off_after_days"), "credit.write_off_after_days"
        ),
        remote_item=str(r.value(data, "consultation.item")),
        remote_fee_by_level=fees,
        remote_consultant_share=r.ratio(
            r.value(data, "consultation.consultant_share"), "consultation.consultant_share"
        ),
        packages=packages,
        package_item=str(r.value(fd, "package_item")),
        capitation=capitation,
        insurers=insurers,
        products=products,
        sources={k: str(v.get("title", k)) if isinstance(v, Mapping) else str(v) for k, v in sources.items()},
    )


def _date(v: Any) -> dt.date:
    return v if isinstance(v, dt.date) else dt.date.fromisoformat(str(v))


def _weight(v: Any, where: str) -> int:
    """A risk weight (may exceed 1) in 1/10000."""
    try:
        return parse_ratio(v, allow_negative=True)
    except MoneyError as exc:
        raise CareError(where, f"权重无效 invalid weight: {exc}") from exc
