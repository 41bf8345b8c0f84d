"""The diagnosis catalogue (医保疾病诊断分类与代码): which ICD-10 codes a claim may carry.

Diagnosis codes are national (医保版 ICD-10, the same in every pooling region).  The shipped file
``regions/diagnoses-icd10.csv`` lists the category blocks (类目段, e.g. ``J09``–``J18`` 流行性感冒和肺炎)
with their Chinese names and source; a code is known when it has the ICD-10 form and its category — the
first three characters — falls in a block.  A bureau with the full code list can give it in the same
columns, one code per row (``first`` = ``last`` = the code): a code is then also known when it, or a
leading part of it, is listed.

:func:`check` is what every input path calls (HIS JSON, the national envelope, FHIR, CSV): it returns
the code as stored (upper case; the dot and the 医保版 ``x`` of an unspecified place kept) or raises a
:class:`~yibao.errors.FieldError` naming the field, Chinese first.
"""

from __future__ import annotations

import bisect
import csv
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from yibao.errors import FieldError

# ICD-10 (医保版 / WHO / -CM): a letter, two digits (or a digit and a letter), then up to five more
# characters, with or without the dot
ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,5})?")
CATALOGUE_FILE = Path(__file__).parent / "regions" / "diagnoses-icd10.csv"
COLUMNS = ("first", "last", "chapter", "name", "name_en")


@dataclass(frozen=True, slots=True)
class Block:
    first: str  # category (3 characters) or a full code without the dot
    last: str
    chapter: str
    name: str
    name_en: str


class DiagnosisCatalogue:
    """Category blocks sorted by their first category (found by bisection), and any full codes listed."""

    def __init__(self, blocks: Iterable[Block]) -> None:
        listed = list(blocks)
        self.blocks = sorted((b for b in listed if len(b.first) == 3), key=lambda b: b.first)
        self._firsts = [b.first for b in self.blocks]
        self.codes = {b.first: b for b in listed if len(b.first) > 3}

    def block_of(self, code: str) -> Block | None:
        """The block holding ``code`` (any case, with or without the dot), or ``None``."""
        key = code.upper().replace(".", "")
        i = bisect.bisect_right(self._firsts, key[:3]) - 1
        if i >= 0 and key[:3] <= self.blocks[i].last:
            return self.blocks[i]
        for n in range(len(key), 3, -1):
            if (b := self.codes.get(key[:n])) is not None:
                return b
        return None

    def known(self, code: str) -> bool:
        return ICD10.fullmatch(code.upper()) is not None and self.block_of(code) is not None


def parse_catalogue(text: str) -> DiagnosisCatalogue:
    """Read the CSV (lines starting with ``#`` are notes); raises ``ValueError`` naming the row."""
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    if tuple(rows.fieldnames or ()) != COLUMNS:
        raise ValueError(f"诊断目录的列应为 the columns must be {', '.join(COLUMNS)}")
    blocks = []
    for n, r in enumerate(rows, start=2):
        first, last = r["first"].strip().upper(), r["last"].strip().upper()
        first, last = first.replace(".", ""), last.replace(".", "")
        ok = ICD10.fullmatch(first) and ICD10.fullmatch(last) and first <= last
        if not ok or ((len(first), len(last)) != (3, 3) and first != last):
            raise ValueError(f"第 {n} 行 row {n}: {first!r}–{last!r} 不是类目段 is not a block of codes")
        blocks.append(Block(first, last, r["chapter"], r["name"], r["name_en"]))
    return DiagnosisCatalogue(blocks)


@functools.cache
def national() -> DiagnosisCatalogue:
    """The shipped catalogue (loaded once)."""
    return parse_catalogue(CATALOGUE_FILE.read_text(encoding="utf-8"))


def check(value: object, field: str, catalogue: DiagnosisCatalogue | None = None) -> str:
    """``value`` as a known diagnosis code, else a :class:`FieldError` on ``field``: ``bad_code`` when it
    is not an ICD-10 code at all, ``unknown_diagnosis`` when the catalogue does not have it."""
    if not isinstance(value, str) or not value:
        raise FieldError(field, "应为 ICD-10 诊断编码 must be an ICD-10 diagnosis code", "bad_code")
    code = value.upper()
    if not ICD10.fullmatch(code):
        raise FieldError(field, f"{value[:20]!r} 不是 ICD-10 编码 is not an ICD-10 code", "bad_code")
    if (catalogue or national()).block_of(code) is None:
        raise FieldError(
            field,
            f"诊断编码 {value!r} 不在医保疾病诊断分类与代码目录中 is not in the diagnosis catalogue",
            "unknown_diagnosis",
        )
    return value
