"""报销进度 and 政策说明 for the insured person.

``/me/progress``: every claim of mine that was not settled at the counter in one step — manual
reimbursement cases (手工报销: a visit elsewhere refused direct settlement is recorded as one, and the person
may file one), cancelled settlements, commercial cover claims with the insurer and cross-region filings — each
with the stages that have data (提交 → 受理 → 审核 → 支付/退回), in Beijing time, who handles it and the
amount.  A status change of a case notifies the filer through the portal's notices.

``/me/policy``: the person's own scheme and person type, read from the compiled policy of the region and
"my year", with what the year's accumulators say is used and left, each rule cited by the title the region
file gives its source."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from yibao.access.principal import Principal
from yibao.feedback import core
from yibao.feedback.store import Case, CaseEvent
from yibao.ledger.types import StoredSettlement
from yibao.money import fmt_yuan
from yibao.policy.book import NoPolicyVersion, PolicyBook
from yibao.policy.compiled import CompiledPolicy
from yibao.settlement import estimate
from yibao.settlement.model import SettlementError
from yibao.web.auth import require
from yibao.web.care import _care
from yibao.web.crossregion import state
from yibao.web.deps import access_log_of, book_of, ledger_of
from yibao.web.portal.pages import (
    _family,
    _remember_psn,
    acting_for,
    my_year,
    newest_year,
    portal_store,
    render,
    ui_prefs,
)

router = APIRouter(include_in_schema=False)
Insured = Annotated[Principal, Depends(require("insured"))]

# the stage a case status stands for, as the person reads it
STAGES: dict[str, tuple[str, str]] = {
    "submitted": ("提交", "submitted"),
    "accepted": ("受理", "accepted"),
    "in_progress": ("审核", "under review"),
    "resolved": ("支付", "paid"),
    "approved": ("通过", "approved"),
    "rejected": ("退回", "sent back"),
    "withdrawn": ("撤回", "withdrawn"),
    "answered": ("答复", "answered"),
    "reopened": ("复核", "under review again"),
}
# the status a person reads in the "current status" column
STATES: dict[str, tuple[str, str]] = {
    "submitted": ("已提交，待受理", "submitted, waiting to be accepted"),
    "accepted": ("已受理", "accepted"),
    "in_progress": ("审核中", "under review"),
    "resolved": ("已支付", "paid"),
    "approved": ("已通过", "approved"),
    "rejected": ("已退回", "sent back"),
    "withdrawn": ("已撤回", "withdrawn"),
    "answered": ("已答复", "answered"),
    "reopened": ("复核中", "under review again"),
}
STAFF_NAMES = {"auditor": ("医保经办机构", "insurance office"), "admin": ("医保经办机构", "insurance office")}


@dataclass(frozen=True)
class Stage:
    name: tuple[str, str]
    at: str | None  # ISO timestamp or date; None: the stage has no recorded time
    note: str = ""


@dataclass(frozen=True)
class Item:
    kind: tuple[str, str]
    title: str
    state: tuple[str, str]
    handler: tuple[str, str]
    amount: int | None  # fen; None: no amount is recorded
    stages: tuple[Stage, ...]
    link: str = ""
    detail: str = ""
    closed: bool = False
    sort_key: str = field(default="", compare=False)


# ---------------------------------------------------------------------------- pure builders
def case_item(case: Case, events: list[CaseEvent]) -> Item:
    """A reimbursement (or other) case with one stage per recorded status change; the handler is the
    office of the last staff member who moved it, or 待受理 while nobody has."""
    staff = [e for e in events if e.actor_role in STAFF_NAMES]
    handler = STAFF_NAMES[staff[-1].actor_role] if staff else ("待经办机构受理", "waiting for the office")
    return Item(
        kind=core.CASE_KINDS.get(case.kind, (case.kind, case.kind)),
        title=case.subject,
        state=STATES.get(case.status, (case.status, case.status)),
        handler=handler,
        amount=None,
        stages=tuple(Stage(STAGES.get(e.status, (e.status, e.status)), e.at, e.note) for e in events),
        link=f"/me/cases/{case.case_id}",
        detail=case.detail,
        closed=case.status in core.CLOSED,
        sort_key=case.created,
    )


def cancelled_item(s: StoredSettlement) -> Item:
    """A settlement cancelled after it was made (撤销): the fund's share goes back; the ledger keeps the
    time it was settled, not the time it was cancelled."""
    return Item(
        kind=("已撤销结算", "cancelled settlement"),
        title=s.visit.fixmedins_code,
        state=("已撤销", "cancelled"),
        handler=("定点医药机构", "the hospital"),
        amount=s.settlement.medfee_sumamt,
        stages=(Stage(("结算", "settled"), s.created), Stage(("撤销", "cancelled"), None)),
        link=f"/me/visits/{s.setl_id}",
        closed=True,
        sort_key=s.created,
    )


def claim_item(row: dict[str, Any], insurer_name: tuple[str, str]) -> Item:
    """A commercial cover claim (商保理赔) paid in the one bill: claimed, on a statement to the insurer
    (清算), void when its settlement was cancelled."""
    stages = [Stage(("提交", "claimed"), str(row["claimed_on"]))]
    if row.get("statement_id"):
        stages.append(Stage(("对账清算", "on the insurer's statement"), None))
    void = row.get("status") == "void"
    if void:
        stages.append(Stage(("作废", "void"), None))
    return Item(
        kind=("商业保险理赔", "commercial cover claim"),
        title=str(row["product"]),
        state=("已作废", "void") if void else ("已赔付", "paid in the bill"),
        handler=insurer_name,
        amount=int(row["paid"]),
        stages=tuple(stages),
        closed=True,
        sort_key=str(row["claimed_on"]),
    )


def filing_item(f: Any) -> Item:
    """A cross-region filing (异地就医备案): filed, then active, cancelled or changed."""
    states = {
        "active": ("有效", "in force"),
        "cancelled": ("已取消", "cancelled"),
        "changed": ("已变更", "changed"),
    }
    stages = [Stage(("提交", "filed"), f.filed_on.isoformat())]
    if f.closed_on is not None:
        stages.append(Stage(states.get(f.status, (f.status, f.status)), f.closed_on.isoformat()))
    return Item(
        kind=("异地就医备案", "out-of-region care filing"),
        title=f.type_name,
        state=states.get(f.status, (f.status, f.status)),
        handler=("参保地医保经办机构", "the home insurance office"),
        amount=None,
        stages=tuple(stages),
        link="/me/elsewhere",
        closed=f.status != "active",
        sort_key=f.filed_on.isoformat(),
    )


# ---------------------------------------------------------------------------- pages
def _insurer_names(request: Request) -> dict[str, tuple[str, str]]:
    """Insurer code → its name (the care parameters hold one name, used in both languages)."""
    return {k: (v, v) for k, v in _care(request).params.insurers.items()}


def progress_items(request: Request, p: Principal, psn: str) -> list[Item]:
    store = portal_store(request)
    items = [
        case_item(c, store.events(c.case_id))
        for c in store.cases_for([psn])
        if c.kind == "reimburse"
        and core.may_see_case(p.user_id, p.family_psn_nos, c.kind, c.psn_no, c.filed_by)
    ]
    with ledger_of(request) as led:
        items += [cancelled_item(s) for s in led.list_settlements(psn, limit=5_000) if not s.active]
    names = _insurer_names(request)
    items += [
        claim_item(r, names.get(r["insurer"], (r["insurer"], r["insurer"])))
        for r in _care(request).claims(psn_nos=[psn])
    ]
    items += [filing_item(f) for f in state(request).filings.for_person(psn)]
    newest_first = sorted(items, key=lambda i: i.sort_key, reverse=True)
    return sorted(newest_first, key=lambda i: i.closed)  # stable: open ones first, each newest first


@router.get("/me/progress", response_class=HTMLResponse)
def my_progress(request: Request, p: Insured) -> Response:
    psn = acting_for(request, p)
    items = progress_items(request, p, psn)
    access_log_of(request)(p, psn, "portal reimbursement progress")
    resp = render(
        request,
        "progress.html",
        {
            "psn": psn,
            "family": _family(request, p),
            "open": [i for i in items if not i.closed],
            "done": [i for i in items if i.closed],
        },
    )
    return _remember_psn(resp, request, psn)


# ---------------------------------------------------------------------------- policy explained
@dataclass(frozen=True)
class Rule:
    title: tuple[str, str]
    lines: tuple[str, ...]
    source: str  # the document's title as the region file gives it ("" when none)


def _source(book: PolicyBook, key: str | None) -> str:
    if not key:
        return ""
    src = book.loaded.region.sources.get(key)
    return src.title if src is not None else ""


def _pct(ratio: int) -> str:
    return f"{ratio / 100:g}%"


def _yuan(fen: int | None, lang: str) -> str:
    if fen is None:
        return "不设上限" if lang != "en" else "no cap"
    return f"{fmt_yuan(fen)} 元" if lang != "en" else f"{fmt_yuan(fen)} yuan"


def policy_rules(
    book: PolicyBook, policy: CompiledPolicy, version: Any, person: Any, lang: str
) -> list[Rule]:
    """The person's scheme in plain sentences: per benefit the deductible per hospital level, the ratio
    per level (locally), the annual cap; then the extra layers (大病, 救助) that apply, and the account."""
    en = lang == "en"
    level_names = {k: (v[1] if en else v[0]) for k, v in policy.levels.items()}
    vt_names = {k: (v[1] if en else v[0]) for k, v in policy.visit_types.items()}
    raw = {b.id: b for b in version.benefits}
    out: list[Rule] = []
    seen: set[str] = set()
    for (scheme, _vt), b in sorted(policy.benefits.items()):
        if scheme != person.insutype or b.id in seen:
            continue
        seen.add(b.id)
        vts = [
            vt_names.get(v, v)
            for (s, v), bb in sorted(policy.benefits.items())
            if s == scheme and bb.id == b.id
        ]
        lines = []
        if b.basis == "none":
            lines.append("No deductible." if en else "不设起付线。")
        else:
            per = (
                ("per admission" if b.basis == "per_admission" else "per year")
                if en
                else ("每次住院" if b.basis == "per_admission" else "每年")
            )
            for lv, name in level_names.items():
                d = b.deductible.get((lv, person.psn_type))
                if d is not None:
                    lines.append(
                        f"{name}: deductible {_yuan(d, lang)} {per}"
                        if en
                        else f"{name}：起付线{per}{_yuan(d, lang)}"
                    )
        for lv, name in level_names.items():
            r = b.ratio.get((lv, person.psn_type, "local"))
            if r is not None:
                lines.append(f"{name}: the fund pays {_pct(r)}" if en else f"{name}：统筹基金支付{_pct(r)}")
        cap = b.cap_by_person_type.get(person.psn_type, b.cap)
        lines.append(f"Annual cap: {_yuan(cap, lang)}" if en else f"年度最高支付限额：{_yuan(cap, lang)}")
        rb = raw.get(b.id)
        src = _source(book, rb.source if rb is not None else None)
        out.append(Rule((" / ".join(vts), " / ".join(vts)), tuple(lines), src))
    identities = frozenset(getattr(person, "identities", ()) or ())
    done_layers: set[str] = set()
    for (scheme, _vt), layers in sorted(policy.layers.items()):
        if scheme != person.insutype:
            continue
        for layer in layers:
            if layer.id in done_layers:
                continue
            done_layers.add(layer.id)
            terms = layer.terms_for(identities)
            if terms is None:
                continue
            over_cap = layer.base == "over_cap"
            if over_cap:
                lines = [
                    "Pays the in-scope costs above the basic fund's annual cap."
                    if en
                    else "支付超过基本医疗保险年度最高支付限额的政策范围内费用。"
                ]
            else:
                lines = [
                    f"Deductible: {_yuan(terms.deductible, lang)} a year"
                    if en
                    else f"起付线：每年{_yuan(terms.deductible, lang)}"
                ]
            for lo, hi, ratio in terms.bounds:
                if over_cap and hi is None and len(terms.bounds) == 1:
                    lines.append(f"It pays {_pct(ratio)}" if en else f"支付{_pct(ratio)}")
                elif hi is None:
                    lines.append(
                        f"Above {_yuan(lo, lang)}: {_pct(ratio)}"
                        if en
                        else f"{_yuan(lo, lang)}以上：支付{_pct(ratio)}"
                    )
                else:
                    lines.append(
                        f"From {_yuan(lo, lang)} to {_yuan(hi, lang)}: {_pct(ratio)}"
                        if en
                        else f"{_yuan(lo, lang)}至{_yuan(hi, lang)}：支付{_pct(ratio)}"
                    )
            lines.append(
                f"Annual cap: {_yuan(terms.cap, lang)}"
                if en
                else f"年度最高支付限额：{_yuan(terms.cap, lang)}"
            )
            rl = next((x for x in version.layers if x.id == layer.id), None)
            src = _source(book, rl.source if rl is not None else None)
            out.append(Rule((layer.name, layer.name_en), tuple(lines), src))
    acct = policy.accounts.get(person.insutype)
    if acct is not None:
        lines = []
        scope = []
        if acct.in_scope:
            scope.append("items in the catalogue" if en else "目录内费用")
        if acct.out_of_scope:
            scope.append("items outside the catalogue" if en else "目录外费用")
        if scope:
            lines.append(
                ("Pays: " if en else "可支付：") + ("、".join(scope) if not en else ", ".join(scope))
            )
        if acct.visit_types:
            names = [vt_names.get(v, v) for v in sorted(acct.visit_types)]
            lines.append(("For: " + ", ".join(names)) if en else "适用就诊：" + "、".join(names))
        lines.append(
            ("Family mutual aid: yes" if acct.family_mutual_aid else "Family mutual aid: no")
            if en
            else ("可家庭共济" if acct.family_mutual_aid else "不可家庭共济")
        )
        ra = next(
            (x for x in getattr(version, "accounts", []) if getattr(x, "scheme", None) == person.insutype),
            None,
        )
        out.append(
            Rule(("个人账户", "personal account"), tuple(lines), _source(book, getattr(ra, "source", None)))
        )
    return out


@router.get("/me/policy", response_class=HTMLResponse)
def my_policy(request: Request, p: Insured) -> Response:
    psn = acting_for(request, p)
    the_year = my_year(request, newest_year(request, psn))
    book = book_of(request)
    day = dt.date(the_year, 6, 30)
    with ledger_of(request) as led:
        person = led.get_person(psn, dt.date(the_year, 12, 31))
        acc = led.accumulators(psn, the_year)
        balance = led.account_balance(psn)
    try:
        policy = book.for_date(day)
        version = book.loaded.version_for(day)
    except (SettlementError, NoPolicyVersion) as exc:
        raise SettlementError(
            "year", f"{the_year}年没有适用的政策 no policy for {the_year}", "no_policy"
        ) from exc
    lang = ui_prefs(request)[0]
    region = book.loaded.region
    scheme = next(((s.name, s.name_en) for s in region.schemes if s.code == person.insutype), None)
    ptype = next(((t.name, t.name_en) for t in region.person_types if t.code == person.psn_type), None)
    levels = list(policy.levels)
    level = request.query_params.get("level") or (levels[-1] if levels else "")
    if level not in policy.levels:
        level = levels[-1]
    access_log_of(request)(p, psn, f"portal policy explained {the_year}")
    resp = render(
        request,
        "policy.html",
        {
            "psn": psn,
            "family": _family(request, p),
            "person": person,
            "year": the_year,
            "policy": policy,
            "scheme": scheme or (person.insutype, person.insutype),
            "ptype": ptype or (person.psn_type, person.psn_type),
            "region": (policy.region_name, region.region.name_en),
            "rules": policy_rules(book, policy, version, person, lang),
            "benefits": estimate.year_so_far(policy, person, acc, level),
            "level": level,
            "balance": balance,
        },
    )
    return _remember_psn(resp, request, psn)
