"""The national interface (定点医药机构接口规范) as data: envelope, transactions, code tables.

The YAML files beside this module hold the field tables (sources in ``sources.yaml``); :func:`load_spec`
turns them into frozen dataclasses that the validator and the scenario read. Nothing here does I/O
beyond reading those packaged files (or an overlay file the caller names).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

FieldType = Literal["str", "num", "date", "datetime", "bytes", "object"]
TYPE_ZH: dict[str, str] = {
    "str": "字符型",
    "num": "数值型",
    "date": "日期型",
    "datetime": "日期时间型",
    "bytes": "字节数组",
    "object": "对象",
}
_SPEC_FILES = ("base.yaml", "visits.yaml", "reconcile.yaml")


class SpecError(ValueError):
    """A spec file is malformed (names the file and the entry)."""


@dataclass(frozen=True)
class Field:
    """One row of a field table: 数据元标识, 名称, 类型, 长度, 代码标识, 是否必填."""

    name: str
    zh: str
    type: FieldType
    length: int | None = None  # characters for str; precision (total digits) for num
    scale: int = 0  # decimals for num ("16,2" -> 2)
    code: str | None = None
    required: bool = False
    fmt: str | None = None
    note: str = ""

    def length_text(self) -> str:
        """The length column as the spec writes it ("30", "16,2", "")."""
        if self.length is None:
            return ""
        if self.type == "num" and self.scale:
            return f"{self.length},{self.scale}"
        return str(self.length)


@dataclass(frozen=True)
class Node:
    """A node (节点标识) of a transaction's input or output: an object or a list of objects."""

    name: str  # "_root" = the whole input/output value
    kind: Literal["object", "list"]
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field | None:
        """The field called ``name``, if the node has one."""
        for f in self.fields:
            if f.name == name:
                return f
        return None


@dataclass(frozen=True)
class Transaction:
    """One transaction (交易): its code, name, purpose, input and output nodes, sources and notes."""

    infno: str
    name: str
    purpose: str
    input: tuple[Node, ...]
    output: tuple[Node, ...]
    src: tuple[str, ...] = ()
    notes: str = ""
    files: Mapping[str, Node] = field(default_factory=dict)

    def node(self, direction: Literal["input", "output"], name: str) -> Node | None:
        """The input or output node called ``name``."""
        for n in self.input if direction == "input" else self.output:
            if n.name == name:
                return n
        return None


@dataclass(frozen=True)
class CodeTable:
    """A code table (码表). A closed table rejects unknown values; an open one checks only its pattern."""

    key: str
    zh: str
    closed: bool
    values: Mapping[str, str]
    pattern: str | None = None
    confidence: str = ""
    note: str = ""
    account_types: tuple[str, ...] = ()

    def accepts(self, value: str) -> bool:
        """Whether ``value`` is a valid code of this table."""
        if value in self.values:
            return True
        if self.closed:
            return False
        return self.pattern is None or re.fullmatch(self.pattern, value) is not None


@dataclass(frozen=True)
class Spec:
    """The whole interface: envelope, transactions by infno, code tables by key, sources by key."""

    request_envelope: tuple[Field, ...]
    response_envelope: tuple[Field, ...]
    transactions: Mapping[str, Transaction]
    codes: Mapping[str, CodeTable]
    sources: Mapping[str, Any]

    def tx(self, infno: str) -> Transaction:
        """The transaction ``infno``; KeyError names it when the spec has no such transaction."""
        try:
            return self.transactions[infno]
        except KeyError:
            raise KeyError(f"交易 {infno} 不在规范数据中 transaction not in the spec") from None

    def with_codes(self, overlay: Mapping[str, Any]) -> Spec:
        """A copy whose code tables are extended/replaced by ``overlay`` (same format as codes.yaml).

        ``values`` are merged into the existing table; ``kind``/``pattern`` given in the overlay win.
        """
        codes = dict(self.codes)
        for key, raw in overlay.items():
            base = codes.get(key)
            table = _code_table(key, raw, base)
            codes[key] = table
        return replace(self, codes=codes)


def _field(raw: Mapping[str, Any], where: str) -> Field:
    try:
        name = str(raw["name"])
        ftype = str(raw["type"])
    except KeyError as exc:
        raise SpecError(f"{where}: 字段缺少 {exc.args[0]} field lacks {exc.args[0]}") from None
    if ftype not in TYPE_ZH:
        raise SpecError(f"{where}.{name}: 未知类型 {ftype} unknown type")
    length: int | None = None
    scale = 0
    raw_len = raw.get("len")
    if raw_len is not None:
        text = str(raw_len).replace("，", ",")
        if "," in text:
            p, s = text.split(",", 1)
            length, scale = int(p), int(s)
        else:
            length = int(text)
    return Field(
        name=name,
        zh=str(raw.get("zh", "")),
        type=ftype,  # type: ignore[arg-type]
        length=length,
        scale=scale,
        code=raw.get("code"),
        required=bool(raw.get("req", False)),
        fmt=raw.get("fmt"),
        note=str(raw.get("note", "")),
    )


def _flatten(items: Iterable[Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for item in items:
        if isinstance(item, list):
            out.extend(_flatten(item))
        else:
            out.append(item)
    return out


def _node(name: str, raw: Mapping[str, Any], where: str, relax: set[str]) -> Node:
    kind = raw.get("kind", "object")
    if kind not in ("object", "list"):
        raise SpecError(f"{where}.{name}: kind 只能是 object 或 list (got {kind})")
    fields = []
    for f in _flatten(raw.get("fields", [])):
        fld = _field(f, f"{where}.{name}")
        if f"{name}.{fld.name}" in relax:
            fld = replace(fld, required=False)
        fields.append(fld)
    names = [f.name for f in fields]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise SpecError(f"{where}.{name}: 字段重复 duplicate fields {sorted(dup)}")
    return Node(name=name, kind=kind, fields=tuple(fields))


def _transaction(infno: str, raw: Mapping[str, Any], where: str) -> Transaction:
    relax = set(raw.get("relax", []))
    inputs = tuple(_node(n, r, f"{where}.{infno}.input", relax) for n, r in (raw.get("input") or {}).items())
    outputs = tuple(
        _node(n, r, f"{where}.{infno}.output", relax) for n, r in (raw.get("output") or {}).items()
    )
    files = {n: _node(n, r, f"{where}.{infno}.files", set()) for n, r in (raw.get("files") or {}).items()}
    return Transaction(
        infno=infno,
        name=str(raw.get("name", "")),
        purpose=str(raw.get("purpose", "")),
        input=inputs,
        output=outputs,
        src=tuple(raw.get("src", [])),
        notes=str(raw.get("notes", "")),
        files=files,
    )


def _code_table(key: str, raw: Mapping[str, Any], base: CodeTable | None = None) -> CodeTable:
    values = dict(base.values) if base else {}
    values.update({str(k): str(v) for k, v in (raw.get("values") or {}).items()})
    kind = raw.get("kind", "closed" if base is None else ("closed" if base.closed else "open"))
    if kind not in ("closed", "open"):
        raise SpecError(f"codes.{key}: kind 只能是 closed 或 open (got {kind})")
    return CodeTable(
        key=key,
        zh=str(raw.get("zh", base.zh if base else "")),
        closed=kind == "closed",
        values=values,
        pattern=raw.get("pattern", base.pattern if base else None),
        confidence=str(raw.get("confidence", base.confidence if base else "")),
        note=str(raw.get("note", base.note if base else "")),
        account_types=tuple(raw.get("account_types", base.account_types if base else ())),
    )


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built in: ~10× faster


def _read_packaged(name: str) -> Any:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return yaml.load(text, Loader=_Loader)  # a safe loader (CSafeLoader or SafeLoader)


def build_spec(
    envelope: Mapping[str, Any],
    transaction_docs: Iterable[tuple[str, Mapping[str, Any]]],
    codes: Mapping[str, Any],
    sources: Mapping[str, Any],
) -> Spec:
    """Build a :class:`Spec` from already-parsed YAML documents (checks codes referenced by fields exist)."""
    req = tuple(_field(f, "envelope.request") for f in envelope["request"])
    resp = tuple(_field(f, "envelope.response") for f in envelope["response"])
    txs: dict[str, Transaction] = {}
    for where, doc in transaction_docs:
        for infno, raw in doc.items():
            if str(infno).startswith("_"):
                continue
            infno = str(infno)
            if infno in txs:
                raise SpecError(f"{where}: 交易 {infno} 重复定义 defined twice")
            txs[infno] = _transaction(infno, raw, where)
    tables = {str(k): _code_table(str(k), v) for k, v in codes.items()}
    spec = Spec(req, resp, txs, tables, dict(sources))
    for f in _all_fields(spec):
        if f.code and f.code not in tables:
            raise SpecError(f"字段 {f.name} 引用了不存在的码表 {f.code} unknown code table")
    return spec


def _all_fields(spec: Spec) -> Iterable[Field]:
    yield from spec.request_envelope
    yield from spec.response_envelope
    for tx in spec.transactions.values():
        for node in (*tx.input, *tx.output, *tx.files.values()):
            yield from node.fields


@lru_cache(maxsize=1)
def load_spec() -> Spec:
    """The packaged national interface spec (cached; the returned objects are immutable)."""
    return build_spec(
        _read_packaged("envelope.yaml"),
        [(name, _read_packaged(name)) for name in _SPEC_FILES],
        _read_packaged("codes.yaml"),
        _read_packaged("sources.yaml"),
    )


def load_codes_overlay(path: str | Path) -> Mapping[str, Any]:
    """Read a region's code-table overlay (codes.yaml format) for :meth:`Spec.with_codes`."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise SpecError(f"{path}: 码表文件应为映射 a code overlay must be a mapping")
    return data
