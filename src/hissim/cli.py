"""Command line: ``python -m hissim day …`` plays a day against a server; ``python -m hissim spec 2207`` prints a
transaction's field tables."""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from hissim.envelope import sm2_keypair
from hissim.scenario.data import (
    default_institutions,
    load_institutions,
    load_items,
    load_persons,
    synthetic_persons,
)
from hissim.scenario.day import DayConfig, bench_lines, run_day
from hissim.spec import TYPE_ZH, Node, Spec, load_codes_overlay, load_spec


def _node_table(node: Node, out: TextIO) -> None:
    title = "（整个输出）" if node.name == "_root" else f"节点 {node.name}"
    out.write(f"\n{title} — {'列表 list' if node.kind == 'list' else '对象 object'}\n")
    out.write("| 字段 field | 中文名 | 类型 | 长度 | 码表 | 必填 | 备注 |\n|---|---|---|---|---|---|---|\n")
    for f in node.fields:
        out.write(
            f"| {f.name} | {f.zh} | {TYPE_ZH[f.type]} | {f.length_text()} | {f.code or ''} | "
            f"{'Y' if f.required else ''} | {f.note} |\n"
        )


DOC_ORDER = (
    "9001 9002 1101 2001 2201 2202 2203 2204 2205 2206 2207 2208 2401 2403 2404 2301 2302 2402 2405 "
    "2303 2304 2305 2601 5203 5204 5206 3201 9101 3202 9102 3203"
).split()


def print_spec(spec: Spec, infno: str, out: TextIO | None = None, level: int = 1) -> None:
    """Markdown field tables of one transaction (``envelope`` for the envelope); ``level`` = heading depth."""
    out = out or sys.stdout
    h = "#" * level
    if infno == "envelope":
        for label, fields in (
            ("请求 request", spec.request_envelope),
            ("应答 response", spec.response_envelope),
        ):
            _node_table(Node(label, "object", fields), out)
        return
    tx = spec.tx(infno)
    out.write(f"{h} {tx.infno} {tx.name}\n\n{tx.purpose}\n\n来源 sources: {', '.join(tx.src)}\n")
    out.write(f"\n{h}# 输入 input\n")
    for node in tx.input:
        _node_table(node, out)
    out.write(f"\n{h}# 输出 output\n")
    if not tx.output:
        out.write("\n（无业务输出 no output beyond the envelope）\n")
    for node in tx.output:
        _node_table(node, out)
    for name, node in tx.files.items():
        out.write(f"\n{h}# 文件 {name}\n")
        _node_table(node, out)
    if tx.notes:
        out.write(f"\n注 notes: {tx.notes}\n")


def render_all(spec: Spec) -> str:
    """Every transaction's tables in flow order (the generated part of docs/NATIONAL_INTERFACE.md)."""
    buf = io.StringIO()
    buf.write("### 报文头 envelope\n")
    print_spec(spec, "envelope", buf)
    for infno in DOC_ORDER:
        buf.write("\n")
        print_spec(spec, infno, buf, level=3)
    return buf.getvalue()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hissim", description="HIS 模拟器 — national interface simulator")
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("spec", help="打印交易字段表 print a transaction's field tables")
    sp.add_argument("infno", help="交易编号, e.g. 2207, or 'envelope', 'all', 'list'")
    d = sub.add_parser("day", help="模拟一天的医院业务 play a day of hospitals against a server")
    d.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    d.add_argument("--path", default="/fsi/api/{infno}", help="transaction path template ({infno} replaced)")
    d.add_argument("--hospitals", type=int, default=1)
    d.add_argument("--visits", type=int, default=20, help="outpatient visits per hospital")
    d.add_argument("--seed", type=int, default=1)
    d.add_argument("--date", type=date.fromisoformat, default=None, help="business date (default today)")
    d.add_argument("--run-id", default=None, help="6 characters in every 门诊号/住院号 (default: HHMMSS now)")
    d.add_argument("--persons-file", type=Path, help="persons (YAML/JSON/CSV: psn_name, certno, …)")
    d.add_argument("--persons", type=int, default=200, help="synthetic persons when no file is given")
    d.add_argument("--institutions-file", type=Path, help="fixmedins_code, fixmedins_name, mdtrtarea_admvs")
    d.add_argument("--admvs", default="610100", help="region code for stand-in hospitals and persons")
    d.add_argument(
        "--catalogue-file", type=Path, help="items: med_list_codg, medins_list_codg, name, pric, kind"
    )
    d.add_argument("--codes-file", type=Path, help="code-table overlay (codes.yaml format)")
    d.add_argument(
        "--numbers", choices=("string", "number"), default="string", help="amounts as JSON strings or numbers"
    )
    d.add_argument("--signtype", choices=("", "SM3", "SM2"), default="")
    d.add_argument("--sm2-key", help="SM2 private:public hex (default: a fresh pair)")
    d.add_argument("--token", help="Authorization: Bearer token")
    d.add_argument("--login", help="username:password for POST {url}/auth/login (yibao)")
    d.add_argument("--login-path", default="/auth/login")
    d.add_argument("--header", action="append", default=[], help="extra header 'Name: value' (repeatable)")
    d.add_argument("--paas", help="paas_id:paas_token for x-tif-* gateway headers")
    d.add_argument("--infver", default="V1.0")
    d.add_argument("--timeout", type=float, default=30.0)
    d.add_argument(
        "--transport",
        choices=("httpx", "stdlib"),
        default="httpx",
        help="stdlib: http.client, lighter for benchmarks",
    )
    d.add_argument(
        "--check-every", type=int, default=1, help="validate every n-th answer field by field (default all)"
    )
    d.add_argument("--mode", choices=("thread", "process"), default="thread")
    d.add_argument("--no-reconcile", action="store_true", help="skip 3201/3202 at the end of the day")
    d.add_argument("--clearing", action="store_true", help="also send 3203 清算申请")
    d.add_argument("--treatment-check", action="store_true", help="send 2001 待遇检查 before each admission")
    d.add_argument("--refd-setl-flag", default=None, help="send refd_setl_flag in 3201/3202 (later editions)")
    d.add_argument("--outpatient-med-type", default="11")
    d.add_argument("--pharmacy-med-type", default="11")
    d.add_argument("--inpatient-med-type", default="21")
    d.add_argument("--report", type=Path, help="write every failure as JSON to this file")
    return p


def _pair(text: str, what: str) -> tuple[str, str]:
    a, sep, b = text.partition(":")
    if not sep:
        raise SystemExit(f"{what} 应为 a:b 形式 expected a:b")
    return a, b


def config_from_args(a: argparse.Namespace) -> DayConfig:
    """A :class:`DayConfig` from parsed ``day`` arguments (reads the named files)."""
    institutions = (
        load_institutions(a.institutions_file)
        if a.institutions_file
        else default_institutions(a.hospitals, a.admvs)
    )
    if len(institutions) < a.hospitals:
        raise SystemExit(
            f"机构文件只有 {len(institutions)} 家 only {len(institutions)} institutions for {a.hospitals}"
        )
    persons = (
        load_persons(a.persons_file) if a.persons_file else synthetic_persons(a.persons, a.seed, a.admvs)
    )
    headers: list[tuple[str, str]] = []
    for h in a.header:
        name, _, value = h.partition(":")
        headers.append((name.strip(), value.strip()))
    if a.token:
        headers.append(("Authorization", f"Bearer {a.token}"))
    login = (a.login_path, *_pair(a.login, "--login")) if a.login else None
    keys = _pair(a.sm2_key, "--sm2-key") if a.sm2_key else (sm2_keypair() if a.signtype == "SM2" else None)
    return DayConfig(
        url=a.url,
        institutions=tuple(institutions[: a.hospitals]),
        persons=tuple(persons),
        items=tuple(load_items(a.catalogue_file)),
        visits=a.visits,
        seed=a.seed,
        business_date=a.date or date.today(),
        run_id=(a.run_id or datetime.now().strftime("%H%M%S"))[:6],
        path=a.path,
        timeout=a.timeout,
        transport=a.transport,
        check_every=a.check_every,
        numbers=a.numbers,
        headers=tuple(headers),
        login=login,
        paas=_pair(a.paas, "--paas") if a.paas else None,
        signtype=a.signtype,
        sm2_keys=keys,
        infver=a.infver,
        outpatient_med_type=a.outpatient_med_type,
        pharmacy_med_type=a.pharmacy_med_type,
        inpatient_med_type=a.inpatient_med_type,
        reconcile=not a.no_reconcile,
        clearing=a.clearing,
        treatment_check=a.treatment_check,
        refd_setl_flag=a.refd_setl_flag,
        codes_overlay=dict(load_codes_overlay(a.codes_file)) if a.codes_file else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (1 when the day found failures)."""
    a = _parser().parse_args(argv)
    if a.cmd == "spec":
        spec = load_spec()
        if a.infno == "all":
            sys.stdout.write(render_all(spec))
            return 0
        if a.infno == "list":
            for tx in spec.transactions.values():
                print(f"{tx.infno}\t{tx.name}")
            return 0
        try:
            print_spec(spec, a.infno)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 2
        return 0
    cfg = config_from_args(a)
    result = run_day(cfg, a.mode)
    for line in bench_lines(result, cfg):
        print(json.dumps(line, ensure_ascii=False))
    failures = result.failures
    if a.report:
        report: dict[str, Any] = {
            "visits_done": result.visits_done,
            "visits_planned": sum(h.visits_planned for h in result.hospitals),
            "settlements": sum(h.settlements for h in result.hospitals),
            "failures": [f.as_dict() for f in failures],
        }
        a.report.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    for f in failures[:30]:
        print(f"✗ {f.hospital} {f.context} {f.infno} {f.field}: {f.reason}", file=sys.stderr)
    if len(failures) > 30:
        print(f"… 共 {len(failures)} 处 in all", file=sys.stderr)
    return 1 if failures else 0
