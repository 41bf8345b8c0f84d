"""Adapter: what the FHIR face names things with — the region's code tables (from the policy book), the
national code tables (``fhir_codes.yaml``), the institution registry (the synthetic region's
``institutions.parquet``, as the dashboard reads it) and the 医保医师库 (``physicians.parquet`` beside it, or
``physicians.csv`` in the audit knowledge directory).  Loaded once per process and kept on ``app.state``."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from yibao.fund.data import load_institutions
from yibao.policy.book import NoPolicyVersion, PolicyBook
from yibao.policy.compiled import FUND_NAMES, CompiledPolicy
from yibao.settlement.model import SettlementError
from yibao.web import fhir_map as fm

CODES_FILE = Path(__file__).resolve().parent / "fhir_codes.yaml"


@dataclass(frozen=True)
class Directory:
    """Institutions and physicians the server can serve, the names of every code, and when the
    registry files were last changed (``updated``; the policy file's time when there is no registry)."""

    names: fm.Names
    institutions: dict[str, fm.InstitutionInfo]
    physicians: dict[str, fm.PhysicianInfo]
    levels: fm.CodeNames
    titles: fm.CodeNames
    tables: dict[str, fm.CodeTable]
    updated: str
    policy_updated: str


def _mtime(path: Path) -> str:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat(timespec="seconds")


def _registry_dir(db_url: str) -> Path | None:
    env = os.environ.get("YIBAO_INSTITUTIONS")
    if env:
        return Path(env).parent
    if db_url.startswith("sqlite:///"):
        db = Path(db_url.removeprefix("sqlite:///"))
        for d in (db.parent / f"{db.stem}-data", db.parent / "demo-data"):
            if (d / "institutions.parquet").is_file():
                return d
    return None


def _physicians(
    folder: Path | None, knowledge: str | None
) -> tuple[dict[str, fm.PhysicianInfo], Path | None]:
    candidates = [folder / "physicians.parquet"] if folder else []
    if knowledge:
        candidates.append(Path(knowledge) / "physicians.csv")
    for p in candidates:
        if p.is_file():
            df = pl.read_parquet(p) if p.suffix == ".parquet" else pl.read_csv(p, infer_schema=False)
            rows = df.select("dr_code", "fixmedins_code", "title").cast(pl.String).iter_rows()
            return {r[0]: fm.PhysicianInfo(r[0], r[1], r[2]) for r in rows}, p
    return {}, None


@cache
def national_tables() -> dict[str, Any]:
    with open(CODES_FILE, encoding="utf-8") as f:
        return dict(yaml.safe_load(f))


def _table(key: str, url: str) -> fm.CodeTable:
    t = national_tables()[key]
    return fm.CodeTable(
        f"yibao-{key.replace('_', '-')}",
        url,
        t["title"],
        t["source"],
        {str(k): (v[0], v[1]) for k, v in t["codes"].items()},
    )


def _crosswalk(entry: Any) -> tuple[str, tuple[str, ...]]:
    """An ``icd10cm`` entry: the ICD-10-CM code, or {code, unless: [ICD-10 prefixes]}."""
    if isinstance(entry, dict):
        return str(entry["code"]), tuple(str(x) for x in entry.get("unless", []))
    return str(entry), ()


def load_directory(book: PolicyBook, policy_file: Path, db_url: str, knowledge: str | None) -> Directory:
    """Read the registries and code tables once."""
    region = book.loaded.region
    folder = _registry_dir(db_url)
    inst = {
        code: fm.InstitutionInfo(i.code, i.name, i.level, i.district)
        for code, i in load_institutions(db_url).items()
    }
    doctors, dr_file = _physicians(folder, knowledge)
    policy_updated = _mtime(policy_file)
    files = [p for p in (folder / "institutions.parquet" if folder else None, dr_file) if p is not None]
    updated = max((_mtime(p) for p in files), default=policy_updated)
    levels = {c.code: (c.name, c.name_en) for c in region.hospital_levels}
    national = _table("insutype", fm.CS_INSUTYPE)
    insutype = {**national.concepts, **{c.code: (c.name, c.name_en) for c in region.schemes}}
    funds: dict[str, tuple[str, str]] = dict(FUND_NAMES)
    for v in region.versions:
        for layer in v.layers:
            funds[layer.fund_pay_type] = (layer.name, layer.name_en)
    med_type = {c.code: (c.name, c.name_en) for c in region.visit_types}
    psn_type = {c.code: (c.name, c.name_en) for c in region.person_types}
    titles = _table("title", fm.CS_TITLE)
    policies: dict[str, CompiledPolicy] = {}

    def policy_on(day: dt.date) -> CompiledPolicy | None:
        try:
            p = book.for_date(day)
        except (NoPolicyVersion, SettlementError):
            return None
        return policies.setdefault(p.version_id, p)

    def catalogue(day: dt.date, code: str) -> tuple[str, str] | None:
        p = policy_on(day)
        item = p.catalogue.get(code) if p is not None else None
        return (item.name, item.name_en or item.name) if item is not None else None

    def category(day: dt.date, code: str) -> str | None:
        p = policy_on(day)
        item = p.catalogue.get(code) if p is not None else None
        return item.category if item is not None else None

    crosswalks = national_tables()
    names = fm.Names(
        admdvs=region.region.admdvs,
        region_name=region.region.name,
        med_type=med_type,
        insutype=insutype,
        psn_type=psn_type,
        funds=funds,
        catalogue=catalogue,
        institution=lambda code: inst[code].name if code in inst else None,
        physician=lambda dr: dr in doctors,
        category=category,
        icd10cm={str(k): _crosswalk(v) for k, v in crosswalks["icd10cm"]["codes"].items()},
        revenue={
            str(k): (str(v[0]), str(v[1]), str(v[2])) for k, v in crosswalks["revenue"]["codes"].items()
        },
    )
    latest = max(region.versions, key=lambda v: v.effective_from)
    last_policy = policy_on(latest.effective_from)
    cat_items = last_policy.catalogue if last_policy is not None else {}
    src = f"{region.region.name}医疗保障局 政策文件 {policy_file.name}"
    tables = {
        t.id: t
        for t in (
            fm.CodeTable("yibao-med-type", fm.CS_MED_TYPE, "医疗类别 visit type (med_type)", src, med_type),
            fm.CodeTable(
                "yibao-insutype", fm.CS_INSUTYPE, national.title, f"{national.source}；{src}", insutype
            ),
            fm.CodeTable("yibao-psn-type", fm.CS_PSN_TYPE, "人员类别 person type (psn_type)", src, psn_type),
            fm.CodeTable("yibao-hosp-lv", fm.CS_HOSP_LV, "医院等级 hospital level (hosp_lv)", src, levels),
            fm.CodeTable(
                "yibao-fund-pay-type", fm.CS_FUND, "基金支付类型 fund type (fund_pay_type)", src, funds
            ),
            _table("chrgitm_lv", fm.CS_CHRGITM_LV),
            titles,
            fm.CodeTable(
                "yibao-med-list-codg",
                fm.CS_MED_LIST,
                f"医保目录 catalogue (med_list_codg), 版本 {latest.id}",
                f"{src} 目录 {region.catalogue}",
                {c: (i.name, i.name_en or i.name) for c, i in cat_items.items()},
                {c: {"chrgitm_lv": i.cls} for c, i in cat_items.items()},
            ),
        )
    }
    return Directory(names, inst, doctors, levels, titles.concepts, tables, updated, policy_updated)
