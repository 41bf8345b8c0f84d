"""``yibao encounter``: the reference data the national visit flow needs — institutions with their hospital
level (and SM2 key), social-security cards."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated

import typer

from yibao.encounter.store import EncounterStore, Institution

encounter_app = typer.Typer(
    help="国家接口就诊流程 national visit flow: institutions, cards", no_args_is_help=True
)

DbOpt = Annotated[
    str,
    typer.Option("--db", help="database URL (default: $YIBAO_DATABASE_URL, else the demo's SQLite file)"),
]


def _store(db: str) -> EncounterStore:
    from yibao.db import parse_url
    from yibao.db.migrate import upgrade

    url = db or os.environ.get("YIBAO_DATABASE_URL") or "sqlite:///.yibao/demo.db"
    _, target, sa_url = parse_url(url)
    if sa_url.startswith("sqlite"):
        Path(target).parent.mkdir(parents=True, exist_ok=True)
    upgrade(sa_url)
    return EncounterStore.open(sa_url)


def _refuse(field: str, reason: str) -> None:
    print(json.dumps({"field": field, "code": "invalid", "err_msg": reason}, ensure_ascii=False))
    raise typer.Exit(2)


@encounter_app.command("institution")
def add_institution(
    fixmedins_code: Annotated[str, typer.Argument(help="定点医药机构编号 (12 characters)")],
    name: Annotated[str, typer.Option(help="定点医药机构名称")],
    level: Annotated[str, typer.Option(help="医院等级 as the region file's hospital_levels (1, 2, 3, 3S …)")],
    admdvs: Annotated[str, typer.Option(help="医保区划 (6 digits)")],
    sm2_key: Annotated[str, typer.Option(help="SM2 public key, hex x‖y (when envelopes are signed)")] = "",
    db: DbOpt = "",
) -> None:
    """登记定点机构 register (or update) an institution: 2201 / 2401 take its level from here."""
    if len(fixmedins_code) != 12:
        _refuse("fixmedins_code", "定点医药机构编号应为 12 位 must be 12 characters")
    if not re.fullmatch(r"\d{6}", admdvs):
        _refuse("admdvs", "医保区划应为 6 位数字 must be 6 digits")
    if sm2_key and not re.fullmatch(r"[0-9a-fA-F]{128}", sm2_key):
        _refuse("sm2_key", "SM2 公钥应为 128 位十六进制 must be 128 hex characters")
    store = _store(db)
    try:
        store.add_institution(Institution(fixmedins_code, name, level, admdvs, sm2_key))
    finally:
        store.close()
    print(
        json.dumps({"fixmedins_code": fixmedins_code, "hosp_lv": level, "admdvs": admdvs}, ensure_ascii=False)
    )


@encounter_app.command("card")
def add_card(
    card_no: Annotated[str, typer.Argument(help="社会保障卡卡号")],
    card_sn: Annotated[str, typer.Option(help="卡识别码")],
    psn_no: Annotated[str, typer.Option(help="人员编号 of the holder")],
    db: DbOpt = "",
) -> None:
    """登记社会保障卡 register a social-security card (1101 with mdtrt_cert_type 03)."""
    if not card_no or len(card_no) > 50 or not card_sn or len(card_sn) > 32:
        _refuse("card_no", "卡号不超过 50 位、识别码不超过 32 位 card number ≤ 50, identification code ≤ 32")
    store = _store(db)
    try:
        store.add_card(card_no, card_sn, psn_no)
    finally:
        store.close()
    print(json.dumps({"card_no": card_no, "psn_no": psn_no}, ensure_ascii=False))
