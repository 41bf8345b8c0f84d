"""Input data of a simulated day: persons with credentials, institutions, catalogue items.

Everything comes from files (YAML, JSON or CSV) so the simulator can run against any region's yibao;
:func:`synthetic_persons` and :func:`default_institutions` make stand-ins when no file is given.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from hissim.envelope import Institution

# 公民身份号码 check digit (GB 11643): weights and the check characters.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """The 18th character of a citizen ID number (GB 11643-1999) for its first 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError(f"{first17!r}: 需要 17 位数字 need 17 digits")
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


@dataclass(frozen=True)
class Person:
    """An insured person as the hospital knows them: name, ID number and the credentials they carry."""

    psn_name: str
    certno: str  # 身份证号
    psn_cert_type: str = "01"
    ec_token: str = ""  # 医保电子凭证令牌 (mdtrt_cert_type 01)
    card_no: str = ""  # 社会保障卡卡号 (03)
    card_sn: str = ""  # 卡识别码 (03)
    insutype: str = ""  # preferred 险种 when 1101 returns several

    def credentials(self) -> list[tuple[str, str, str]]:
        """(mdtrt_cert_type, mdtrt_cert_no, card_sn) for each credential this person carries."""
        out = [("02", self.certno, "")]
        if self.ec_token:
            out.append(("01", self.ec_token, ""))
        if self.card_no:
            out.append(("03", self.card_no, self.card_sn))
        return out


@dataclass(frozen=True)
class Item:
    """A catalogue item the hospital charges: national code, hospital code, price and kind."""

    med_list_codg: str
    medins_list_codg: str
    name: str
    pric: Decimal
    kind: str = "drug"  # drug | service | material | bed | exam
    max_cnt: int = 3
    unit_scale: int = 0  # decimals allowed in the quantity (0 → whole units)


def _rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".csv":
        return [dict(r) for r in csv.DictReader(text.splitlines())]
    data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    if isinstance(data, Mapping):
        for key in ("persons", "items", "institutions", "catalogue"):
            if key in data:
                data = data[key]
                break
    if not isinstance(data, list):
        raise ValueError(f"{path}: 应为记录列表 expected a list of records")
    return [dict(r) for r in data]


def _s(row: Mapping[str, Any], key: str, default: str = "") -> str:
    value = row.get(key)
    return default if value is None or value == "" else str(value)


def load_persons(path: str | Path) -> list[Person]:
    """Persons from a YAML/JSON list or a CSV with columns psn_name, certno[, ec_token, card_no, card_sn, insutype]."""
    out = []
    for i, row in enumerate(_rows(Path(path))):
        if not _s(row, "certno") or not _s(row, "psn_name"):
            raise ValueError(f"{path} 第 {i + 1} 条: 缺少 certno 或 psn_name record lacks certno/psn_name")
        out.append(
            Person(
                psn_name=_s(row, "psn_name"),
                certno=_s(row, "certno"),
                psn_cert_type=_s(row, "psn_cert_type", "01"),
                ec_token=_s(row, "ec_token"),
                card_no=_s(row, "card_no"),
                card_sn=_s(row, "card_sn"),
                insutype=_s(row, "insutype"),
            )
        )
    if not out:
        raise ValueError(f"{path}: 没有人员 no persons")
    return out


def load_items(path: str | Path | None = None) -> list[Item]:
    """Catalogue items from a file, or the packaged example catalogue (``hissim/data/catalogue.yaml``)."""
    if path is None:
        text = resources.files("hissim").joinpath("data/catalogue.yaml").read_text(encoding="utf-8")
        rows = yaml.safe_load(text)["items"]
    else:
        rows = _rows(Path(path))
    out = []
    for i, row in enumerate(rows):
        try:
            pric = Decimal(str(row["pric"]))
        except KeyError:
            raise ValueError(f"catalogue 第 {i + 1} 条缺少 pric record lacks pric") from None
        out.append(
            Item(
                med_list_codg=_s(row, "med_list_codg"),
                medins_list_codg=_s(row, "medins_list_codg", _s(row, "med_list_codg")),
                name=_s(row, "name"),
                pric=pric,
                kind=_s(row, "kind", "drug"),
                max_cnt=int(row.get("max_cnt") or 3),
                unit_scale=int(row.get("unit_scale") or 0),
            )
        )
    return out


def load_institutions(path: str | Path) -> list[Institution]:
    """Institutions from a file: fixmedins_code (12), fixmedins_name, mdtrtarea_admvs[, setl_optins]."""
    return [
        Institution(
            fixmedins_code=_s(r, "fixmedins_code"),
            fixmedins_name=_s(r, "fixmedins_name"),
            mdtrtarea_admvs=_s(r, "mdtrtarea_admvs"),
            setl_optins=_s(r, "setl_optins"),
        )
        for r in _rows(Path(path))
    ]


def default_institutions(n: int, admvs: str = "610100") -> list[Institution]:
    """``n`` stand-in hospitals H + admvs(6) + 5-digit serial, named 模拟医院NN."""
    return [Institution(f"H{admvs}{i + 1:05d}", f"模拟医院{i + 1:02d}", admvs) for i in range(n)]


_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def synthetic_persons(n: int, seed: int, admvs: str = "610100") -> list[Person]:
    """``n`` deterministic stand-in persons with valid ID check digits (born 1940–2015 in ``admvs``)."""
    rng = random.Random(f"persons:{seed}")
    out = []
    for i in range(n):
        year = rng.randint(1940, 2015)
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        first17 = f"{admvs}{year:04d}{month:02d}{day:02d}{i % 1000:03d}"
        name = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + (rng.choice(_GIVEN) if rng.random() < 0.6 else "")
        out.append(Person(psn_name=name, certno=first17 + id_check_digit(first17)))
    return out


def partition(persons: Sequence[Person], parts: int) -> list[list[Person]]:
    """Split persons round-robin so no person is seen by two hospitals at once (keeps 2206 = 2207)."""
    if parts < 1:
        raise ValueError("parts must be >= 1")
    groups: list[list[Person]] = [[] for _ in range(parts)]
    for i, p in enumerate(persons):
        groups[i % parts].append(p)
    return groups


def dump_persons(persons: Iterable[Person]) -> str:
    """YAML text of persons (the format :func:`load_persons` reads)."""
    rows = []
    for p in persons:
        row = {"psn_name": p.psn_name, "certno": p.certno}
        for key in ("ec_token", "card_no", "card_sn", "insutype"):
            if getattr(p, key):
                row[key] = getattr(p, key)
        rows.append(row)
    return yaml.safe_dump({"persons": rows}, allow_unicode=True, sort_keys=False)
