"""The patient portal's pages (server-rendered Jinja2, a little vanilla JS, nothing from a CDN).

Language: zh-CN by default, ``?lang=en`` switches (remembered in the cookie ``yb_lang``).  Elderly mode
(适老化: large type, big targets, high contrast): ``?big=1`` / ``?big=0`` (cookie ``yb_big``).  Acting for a
family member (亲情账户): ``?psn=<psn_no>`` (cookie ``yb_psn``), only within ``Principal.family_psn_nos``.
Every read of a person's record goes to the service's access log."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException

from yibao.access import family as family_core
from yibao.access.family_store import FamilyStore
from yibao.access.principal import Forbidden, Principal, can_read_person
from yibao.errors import FieldError
from yibao.feedback import core
from yibao.feedback.store import Case, PortalStore
from yibao.fund.data import load_institutions
from yibao.ledger import LedgerError
from yibao.ledger.types import StoredSettlement
from yibao.money import fmt_yuan
from yibao.policy.book import NoPolicyVersion, PolicyBook
from yibao.settlement import estimate
from yibao.settlement.allocation import line_splits
from yibao.settlement.explain import explain
from yibao.settlement.model import SettlementError
from yibao.web.auth import current_principal, require
from yibao.web.deps import access_log_of, book_of, ledger_of
from yibao.web.portal import texts
from yibao.web.rest import CONFLICT_CODES, NOT_FOUND_CODES
from yibao.web.warm import compile_templates

HERE = Path(__file__).resolve().parent


@pass_context
def _beijing_filter(ctx: Context, value: object, style: str = "datetime") -> str:
    """``{{ at|beijing }}`` / ``{{ day|beijing('date') }}``: Beijing time in the page's language."""
    return texts.beijing(value, str(ctx.get("lang", "zh")), style)


# an institution's code (H/P + 11 digits) inside a sentence written for people
_INSTITUTION_CODE = re.compile(r"\b[HP]\d{11}\b")


def _codes_filter(value: object) -> Markup:
    """``{{ line|codes }}``: the text escaped, each institution code in it set as a small ``.code`` note
    beside the name it follows (as the tables show codes), not read as part of the sentence."""
    text = str(value)
    out, at = [], 0
    for m in _INSTITUTION_CODE.finditer(text):
        out.append(escape(text[at : m.start()]))
        out.append(Markup('<small class="code">{}</small>').format(m.group()))
        at = m.end()
    out.append(escape(text[at:]))
    return Markup("").join(out)


def install_filters(env: Environment) -> None:
    """The filters every page template uses (the dashboard's template set calls this too)."""
    env.filters["beijing"] = _beijing_filter
    env.filters["codes"] = _codes_filter


templates = Jinja2Templates(directory=str(HERE / "templates"))
install_filters(templates.env)
templates.env.globals["yuan"] = fmt_yuan
templates.env.globals["CASE_KINDS"] = core.CASE_KINDS
templates.env.globals["OPEN_KINDS"] = core.OPEN_KINDS
templates.env.globals["STATUSES"] = core.STATUSES

router = APIRouter(include_in_schema=False)
Insured = Annotated[Principal, Depends(require("insured"))]
VISITS_SHOWN = 20  # newest first; "show all" lists the rest
VISITS_PICKED = 200  # the newest visits offered when linking a complaint to the visit it is about


def now_utc() -> dt.datetime:
    """The clock (one place, so tests can pin it)."""
    return dt.datetime.now(dt.UTC)


def local_today() -> dt.date:
    # SLA clocks count Beijing working days
    return (now_utc() + dt.timedelta(hours=8)).date()


def portal_store(request: Request) -> PortalStore:
    st = getattr(request.app.state, "portal_store", None)
    if st is None:
        st = request.app.state.portal_store = PortalStore(request.app.state.store.engine, core.load_params())
    return cast(PortalStore, st)


def family_store(request: Request) -> FamilyStore:
    st = getattr(request.app.state, "family_store", None)
    if st is None:
        st = request.app.state.family_store = FamilyStore(request.app.state.store)
    return cast(FamilyStore, st)


# ---------------------------------------------------------------------------- rendering
def ui_prefs(request: Request) -> tuple[str, bool]:
    q_lang, q_big = request.query_params.get("lang"), request.query_params.get("big")
    lang = q_lang if q_lang in ("zh", "en") else request.cookies.get("yb_lang", "zh")
    big = q_big == "1" if q_big in ("0", "1") else request.cookies.get("yb_big") == "1"
    return (lang if lang in ("zh", "en") else "zh"), big


def render(
    request: Request, name: str, ctx: dict[str, Any], status: int = 200, env: Jinja2Templates | None = None
) -> Response:
    """Render a page with the caller's language and elderly-mode preferences (``env``: another
    template set, e.g. the dashboard's, that can extend ``base.html``)."""
    lang, big = ui_prefs(request)

    def t(zh: str, en: str) -> str:
        return en if lang == "en" else zh

    def pair(names: tuple[str, str]) -> str:
        return names[1] if lang == "en" else names[0]

    def pn(mark: str) -> str:
        """Chinese punctuation written in a template, in the page's language."""
        return texts.EN_PUNCTUATION.get(mark, mark) if lang == "en" else mark

    here = request.url.path
    base_q = {k: v for k, v in request.query_params.items() if k not in ("lang", "big")}

    def switch(**kw: str) -> str:
        q = {**base_q, **kw}
        return here + "?" + "&".join(f"{k}={v}" for k, v in q.items())

    names = institution_names(request)

    def inst(code: str | None) -> str:
        """An institution's name (its code when the registry does not know it)."""
        return names.get(code or "", code or "")

    principal = getattr(request.state, "principal", None)
    unread = (
        portal_store(request).unread(principal.user_id) + family_store(request).unread(principal.user_id)
        if principal is not None and principal.role == "insured"
        else 0
    )
    resp = (env or templates).TemplateResponse(
        request,
        name,
        {
            "t": t,
            "pair": pair,
            "pn": pn,
            "say": lambda text: pair(texts.bilingual(str(text))),
            "lang": lang,
            "big": big,
            "switch": switch,
            "principal": principal,
            "unread": unread,
            "inst": inst,
            "role_name": lambda role: texts.role_name(role, lang),
            "describe_read": lambda what: texts.describe_read(what, lang),
            **ctx,
        },
        status_code=status,
    )
    if request.query_params.get("lang") in ("zh", "en"):
        resp.set_cookie("yb_lang", lang, max_age=365 * 86400, samesite="lax", path="/")
    if request.query_params.get("big") in ("0", "1"):
        resp.set_cookie("yb_big", "1" if big else "0", max_age=365 * 86400, samesite="lax", path="/")
    return resp


def institution_names(request: Request) -> dict[str, str]:
    """Institution code → name from the registry (synthetic ``institutions.parquet`` beside the database
    or ``YIBAO_INSTITUTIONS``), read once per process; empty when there is none."""
    cached = getattr(request.app.state, "institution_names", None)
    if cached is None:
        settings = getattr(request.app.state, "settings", None)
        url = str(getattr(settings, "database_url", "") or "")
        cached = {c: i.name for c, i in load_institutions(url).items()} if url else {}
        request.app.state.institution_names = cached
    return cast(dict[str, str], cached)


def warm(request: Request) -> None:
    """Start-up warm-up (yibao.web.warm): the portal's templates, its stores and the registry's names."""
    compile_templates(templates.env)
    portal_store(request)
    family_store(request)
    institution_names(request)


# ---------------------------------------------------------------------------- error pages
PAGE_MODULES = ("yibao.web.portal.", "yibao.web.dashboard.")
NOT_PAGES = ("/api", "/fhir", "/auth", "/docs", "/redoc", "/openapi", "/static", "/.well-known", "/oauth")
TITLES = {
    400: ("请求有误", "Bad request"),
    403: ("无权查看", "Not allowed"),
    404: ("未找到", "Not found"),
    409: ("无法办理", "Could not be done"),
    422: ("填写有误", "Please check what you entered"),
}


def is_page(request: Request) -> bool:
    """A request for a page (the portal's or the dashboard's), not for the API."""
    endpoint = request.scope.get("endpoint")
    if endpoint is not None:
        return str(getattr(endpoint, "__module__", "")).startswith(PAGE_MODULES)
    accept = request.headers.get("accept", "")
    return "text/html" in accept and not request.url.path.startswith(NOT_PAGES)


def error_page(request: Request, status: int, message: str, field: str = "") -> Response:
    """The error as a page in the reader's language, with a way back (the page they came from, or home)."""
    lang, _ = ui_prefs(request)
    zh, en = texts.bilingual(message)
    back = request.headers.get("referer", "")
    same_site = back.startswith(str(request.base_url)) and back != str(request.url)
    title = TITLES.get(status, ("出错了", "Something went wrong"))
    return render(
        request,
        "error.html",
        {
            "title": title,
            "message": en if lang == "en" else zh,
            "field": field,
            "back": back if same_site else "",
        },
        status=status,
    )


def install_page_errors(app: FastAPI) -> None:
    """Errors on page routes become :func:`error_page`; the API keeps its JSON (the handlers installed
    before this one answer everything else)."""
    previous = dict(app.exception_handlers)

    def chain(kind: type[Exception]) -> Any:
        async def handler(request: Request, exc: Exception) -> Response:
            if is_page(request):
                if isinstance(exc, FieldError):
                    status = (
                        404 if exc.code in NOT_FOUND_CODES else 409 if exc.code in CONFLICT_CODES else 422
                    )
                    return error_page(request, status, exc.reason, exc.field)
                if isinstance(exc, Forbidden):
                    return error_page(request, 403, exc.reason)
                if isinstance(exc, RequestValidationError):
                    fields = ", ".join(
                        ".".join(str(x) for x in list(e.get("loc", ()))[1:]) for e in exc.errors()
                    )
                    return error_page(request, 422, "请填写完整 some required fields are missing", fields)
                if isinstance(exc, StarletteHTTPException) and exc.status_code >= 400:
                    return error_page(request, exc.status_code, str(exc.detail))
            prev = previous.get(kind)
            if prev is None:
                raise exc
            return cast(Response, await prev(request, exc))

        return handler

    for kind in (StarletteHTTPException, FieldError, Forbidden, RequestValidationError):
        app.add_exception_handler(kind, chain(kind))


def acting_for(request: Request, p: Principal) -> str:
    """The person the insured caller is looking at: own record, or a linked family member (亲情账户)."""
    assert p.psn_no is not None
    wanted = request.query_params.get("psn") or request.cookies.get("yb_psn") or p.psn_no
    if not (core.may_act_for(p.family_psn_nos, wanted) and can_read_person(p, wanted)):
        if request.query_params.get("psn"):
            raise HTTPException(
                403, "只能查看本人或已绑定亲属的信息 you may act only for yourself and linked family"
            )
        return p.psn_no  # a stale cookie from another login: fall back to oneself
    return wanted


def _family(request: Request, p: Principal) -> list[dict[str, str]]:
    out = []
    with ledger_of(request) as led:
        for psn in p.family_psn_nos:
            try:
                person = led.get_person(psn, dt.date.today())
                out.append({"psn_no": psn, "name": person.name})
            except LedgerError:
                out.append({"psn_no": psn, "name": psn})
    return out


def _remember_psn(resp: Response, request: Request, psn: str) -> Response:
    if request.query_params.get("psn"):
        resp.set_cookie("yb_psn", psn, httponly=True, samesite="lax", path="/")
    return resp


def _form_error(request: Request, exc: FieldError) -> Response:
    return error_page(request, 422, exc.reason, exc.field)


# ---------------------------------------------------------------------------- pages
@router.get("/")
def home(request: Request, p: Annotated[Principal, Depends(current_principal)]) -> Response:
    if p.role == "insured":
        return RedirectResponse("/me", status_code=303)
    if p.role in ("auditor", "admin"):
        return RedirectResponse("/dashboard", status_code=303)
    if p.role == "employer":
        return RedirectResponse("/dashboard/employer", status_code=303)
    return RedirectResponse("/hospital", status_code=303)  # the institution's workspace


YEAR_COOKIE = "yb_year"  # "my year": the year /me shows is the year the estimator counts in


def my_year(request: Request, newest: int | None) -> int:
    """The year every page of the person uses: ``?year=``, else the one last chosen (cookie), else the
    year of the person's newest settlement, else this year (Beijing)."""
    for raw in (request.query_params.get("year"), request.cookies.get(YEAR_COOKIE)):
        if raw and raw.isdigit() and 1990 <= int(raw) <= 2100:
            return int(raw)
    return newest if newest is not None else local_today().year


def newest_year(request: Request, psn: str) -> int | None:
    with ledger_of(request) as led:
        newest = led.list_settlements(psn, limit=1)
    return newest[0].year if newest else None


@router.get("/me", response_class=HTMLResponse)
def my_home(request: Request, p: Insured, all: int = 0) -> Response:
    psn = acting_for(request, p)
    with ledger_of(request) as led:
        settlements = led.list_settlements(psn, limit=5_000)
        years = sorted({s.year for s in settlements}, reverse=True)
        the_year = my_year(request, settlements[0].year if settlements else None)
        person = led.get_person(psn, dt.date(the_year, 12, 31))
        acc = led.accumulators(psn, the_year)
        balance = led.account_balance(psn)
    book = book_of(request)
    try:
        policy = book.for_date(dt.date(the_year, 6, 30))
        levels = list(policy.levels)
        level = request.query_params.get("level") or (levels[-1] if levels else "3")
        benefits = estimate.year_so_far(policy, person, acc, level)
        vt_names = policy.visit_types
        level_names = policy.levels
    except (SettlementError, NoPolicyVersion):
        benefits, vt_names, level_names, level = [], {}, {}, ""
    visits = [s for s in settlements if s.year == the_year]
    access_log_of(request)(p, psn, f"portal home {the_year}")
    resp = render(
        request,
        "me.html",
        {
            "person": person,
            "family": _family(request, p),
            "psn": psn,
            "year": the_year,
            "years": years,
            "benefits": benefits,
            "balance": balance,
            "vt_names": vt_names,
            "level_names": level_names,
            "level": level,
            "visits": visits if all else visits[:VISITS_SHOWN],
            "more": max(len(visits) - VISITS_SHOWN, 0),
            "show_all": bool(all),
        },
    )
    if request.query_params.get("year") == str(the_year):
        resp.set_cookie(YEAR_COOKIE, str(the_year), max_age=365 * 86400, samesite="lax", path="/")
    return _remember_psn(resp, request, psn)


def _own_settlement(request: Request, p: Principal, setl_id: str) -> StoredSettlement:
    with ledger_of(request) as led:
        try:
            stored = led.get_settlement(setl_id)
        except LedgerError:
            stored = None
    # someone else's settlement looks exactly like a missing one: nothing leaks
    if stored is None or not (
        core.may_act_for(p.family_psn_nos, stored.psn_no) and can_read_person(p, stored.psn_no)
    ):
        raise HTTPException(404, "未找到该结算 settlement not found")
    return stored


def _account_owner(request: Request, stored: StoredSettlement) -> str:
    """The name of the relative whose personal account paid (家庭共济), empty when it was the patient's own
    account or none; a number the ledger no longer knows is shown masked."""
    payer = stored.settlement.account_psn_no
    if not payer or payer == stored.psn_no:
        return ""
    try:
        with ledger_of(request) as led:
            return led.get_person(payer, stored.visit.begin_date).name
    except LedgerError:
        return payer[:4] + "…"


@router.get("/me/visits/{setl_id}", response_class=HTMLResponse)
def visit_page(request: Request, p: Insured, setl_id: str) -> Response:
    stored = _own_settlement(request, p, setl_id)
    book = book_of(request)
    policy = book.for_date(book.settlement_day(stored.visit.begin_date, stored.visit.counts_on))
    text = explain(stored.settlement, stored.visit, policy)
    splits = line_splits(stored.settlement, stored.visit.lines)
    access_log_of(request)(p, stored.psn_no, f"settlement {setl_id}")
    rows = [{"split": sp, "item": policy.catalogue.get(sp.code)} for sp in splits]
    return render(
        request,
        "visit.html",
        {
            "account_owner": _account_owner(request, stored),
            "stored": stored,
            "s": stored.settlement,
            "v": stored.visit,
            "text": text,
            "rows": rows,
            "policy": policy,
            "rating": portal_store(request).rating(setl_id),
            "fund_names": policy.fund_names,
            "saved": request.query_params.get("saved") == "1",
        },
    )


@router.post("/me/visits/{setl_id}/rating")
def rate_visit(
    request: Request,
    p: Insured,
    setl_id: str,
    stars: Annotated[int, Form()],
    comment: Annotated[str, Form()] = "",
) -> Response:
    stored = _own_settlement(request, p, setl_id)
    try:
        portal_store(request).rate(
            setl_id=setl_id,
            psn_no=stored.psn_no,
            user_id=p.user_id,
            fixmedins_code=stored.visit.fixmedins_code,
            stars=stars,
            comment=comment,
            now=now_utc(),
        )
    except core.PortalError as exc:
        return _form_error(request, exc)
    return RedirectResponse(f"/me/visits/{setl_id}?saved=1", status_code=303)


# ---------------------------------------------------------------------------- estimator and decision aid
def _priced_items(request: Request, day: dt.date) -> list[Any]:
    policy = book_of(request).for_date(day)
    return sorted((c for c in policy.catalogue.values() if c.unit_price), key=lambda c: (c.kind, c.code))


def _item_label(request: Request, items: list[Any]) -> Any:
    """``item_label(item)`` for the estimator: the name people type and read (the code only where a name
    is shared), in the page's language."""
    labels = estimate.item_labels(items, english=ui_prefs(request)[0] == "en")
    return lambda item: labels.get(item.code, item.code)


def estimate_day(book: PolicyBook, today: dt.date, year: int | None = None) -> dt.date:
    """The day an estimate is worked out for: in "my year" (``year``, the year the person's pages show)
    today when that is this year, else the year's last day; the policy in force that day, or the latest
    version when the day is past every version."""
    day = today if year is None or year == today.year else dt.date(year, 12, 31)
    try:
        book.for_date(day)
        return day
    except (SettlementError, NoPolicyVersion):
        return max(v.effective_to for v in book.loaded.region.versions)


def my_estimate_day(request: Request, psn: str) -> dt.date:
    return estimate_day(book_of(request), local_today(), my_year(request, newest_year(request, psn)))


ITEMS_FOUND = 20  # suggestions sent back while a person types an item


@router.get("/me/estimate/items")
def estimate_items(request: Request, p: Insured, q: str = "") -> Response:
    """The estimator's type-ahead, on the server: the priced items a person may mean by ``q`` (a name in
    Chinese or English or a part of one, pinyin initials such as "amxl", or a code), each with the label
    the form sends back and its typical price in yuan."""
    day = my_estimate_day(request, acting_for(request, p))
    items = _priced_items(request, day)
    found = estimate.search_items(items, q[:100], ITEMS_FOUND)
    label = _item_label(request, items)
    lang = ui_prefs(request)[0]
    return JSONResponse(
        [
            {
                "label": label(c),
                "name": (c.name_en or c.name) if lang == "en" else c.name,
                "price": fmt_yuan(c.unit_price or 0),
                "code": c.code,
                "initials": estimate.pinyin_initials(c.name),
            }
            for c in found
        ]
    )


@router.get("/me/estimate", response_class=HTMLResponse)
def estimate_form(request: Request, p: Insured) -> Response:
    psn = acting_for(request, p)
    day = my_estimate_day(request, psn)
    policy = book_of(request).for_date(day)
    items = _priced_items(request, day)
    return render(
        request,
        "estimate.html",
        {
            "items": items,
            "item_label": _item_label(request, items),
            "policy": policy,
            "psn": psn,
            "result": None,
            "day": day,
            "form": {},
        },
    )


@router.post("/me/estimate", response_class=HTMLResponse)
def estimate_submit(
    request: Request,
    p: Insured,
    level: Annotated[str, Form()] = "",
    med_type: Annotated[str, Form()] = "",
    code: Annotated[list[str] | None, Form()] = None,
    qty: Annotated[list[str] | None, Form()] = None,
) -> Response:
    psn = acting_for(request, p)
    day = my_estimate_day(request, psn)
    policy = book_of(request).for_date(day)
    items = _priced_items(request, day)
    codes, qtys = code or [], qty or []
    params = core.load_params()
    try:
        picks = estimate.resolve_picks(policy, estimate.parse_picks(codes, qtys))
        with ledger_of(request) as led:
            person = led.get_person(psn, day)
            acc = led.accumulators(psn, day.year)
            balance = led.account_balance(psn)
        visit = estimate.build_visit(policy, psn, picks, level=level, med_type=med_type, day=day)
        s = estimate.estimate(policy, person, visit, acc, balance)
        by_level = estimate.compare_levels(policy, person, picks, acc, balance, med_type=med_type, day=day)
        drugs = estimate.compare_drugs(
            policy, person, picks, acc, balance, params, level=level, med_type=med_type, day=day
        )
    except (estimate.EstimateError, SettlementError, NoPolicyVersion, LedgerError) as exc:
        return render(
            request,
            "estimate.html",
            {
                "items": items,
                "item_label": _item_label(request, items),
                "policy": policy,
                "psn": psn,
                "result": None,
                "day": day,
                "error": texts.bilingual(exc.reason),
                "error_field": exc.field,
                # the rows as typed, so nothing has to be entered again
                "form": {"level": level, "med_type": med_type, "rows": list(zip(codes, qtys, strict=False))},
            },
            status=422,
        )
    access_log_of(request)(p, psn, "estimate (accumulators, balance)")
    text = explain(s, visit, policy)
    return render(
        request,
        "estimate.html",
        {
            "items": items,
            "item_label": _item_label(request, items),
            "policy": policy,
            "psn": psn,
            "day": day,
            "result": {
                "s": s,
                "visit": visit,
                "text": text,
                "by_level": by_level,
                "drugs": drugs,
                "picks": picks,
            },
            "form": {"level": level, "med_type": med_type},
        },
    )


# ---------------------------------------------------------------------------- cases: 备案, 投诉, 举报
@router.get("/me/cases", response_class=HTMLResponse)
def my_cases(request: Request, p: Insured) -> Response:
    psn = acting_for(request, p)
    store = portal_store(request)
    cases = [
        c
        for c in store.cases_for(list(p.family_psn_nos))
        if core.may_see_case(p.user_id, p.family_psn_nos, c.kind, c.psn_no, c.filed_by)
    ]
    today = local_today()
    with ledger_of(request) as led:
        visits = [s for s in led.list_settlements(psn, limit=VISITS_PICKED) if s.status == "active"]
    return render(
        request,
        "cases.html",
        {
            "psn": psn,
            "family": _family(request, p),
            "params": store.params,
            "cases": [(c, c.clock(store.params, today)) for c in cases],
            "kind": request.query_params.get("kind", "complaint"),
            "visits": visits,
            "setl": request.query_params.get("setl", ""),
        },
    )


@router.post("/me/cases")
def file_case(
    request: Request,
    p: Insured,
    kind: Annotated[str, Form()],
    detail: Annotated[str, Form()],
    psn_no: Annotated[str, Form()],
    subject: Annotated[str, Form()] = "",
    setl_id: Annotated[str, Form()] = "",
) -> Response:
    if not (core.may_act_for(p.family_psn_nos, psn_no) and can_read_person(p, psn_no)):
        raise HTTPException(403, "只能为本人或已绑定亲属办理 only for yourself and linked family")
    if setl_id and _own_settlement(request, p, setl_id).psn_no != psn_no:
        return error_page(
            request, 422, "所选就诊不是该参保人的 the visit chosen is not this person's", "setl_id"
        )
    try:
        case = portal_store(request).open_case(
            kind=kind,
            psn_no=psn_no,
            filed_by=p.user_id,
            actor_role=p.role,
            subject=subject,
            detail=detail,
            now=now_utc(),
            setl_id=setl_id or None,
        )
    except core.PortalError as exc:
        return _form_error(request, exc)
    return RedirectResponse(f"/me/cases/{case.case_id}", status_code=303)


def _own_case(request: Request, p: Principal, case_id: str) -> Case:
    store = portal_store(request)
    case: Case | None
    try:
        case = store.get_case(case_id)
    except core.PortalError:
        case = None
    if case is None or not core.may_see_case(
        p.user_id, p.family_psn_nos, case.kind, case.psn_no, case.filed_by
    ):
        raise HTTPException(404, "未找到该事项 case not found")
    return case


def linked_visit(request: Request, case: Case) -> StoredSettlement | None:
    if not case.setl_id:
        return None
    with ledger_of(request) as led:
        try:
            return led.get_settlement(case.setl_id)
        except LedgerError:
            return None


@router.get("/me/cases/{case_id}", response_class=HTMLResponse)
def case_page(request: Request, p: Insured, case_id: str) -> Response:
    case = _own_case(request, p, case_id)
    store = portal_store(request)
    return render(
        request,
        "case.html",
        {
            "case": case,
            "clock": case.clock(store.params, local_today()),
            "events": store.events(case_id),
            "rule": store.params.review[case.kind] if case.review_round else store.params.sla[case.kind],
            "moves": core.allowed_moves(case.kind, case.status, p.role),
            "visit": linked_visit(request, case),
        },
    )


@router.get("/me/cases/{case_id}/withdraw", response_class=HTMLResponse)
def withdraw_confirm(request: Request, p: Insured, case_id: str) -> Response:
    """Withdrawing asks first: a page that says what happens, with "withdraw" and "keep it"."""
    case = _own_case(request, p, case_id)
    if "withdrawn" not in core.allowed_moves(case.kind, case.status, p.role):
        return error_page(request, 409, "该事项已不能撤回 this case can no longer be withdrawn", "status")
    return render(request, "withdraw.html", {"case": case})


@router.post("/me/cases/{case_id}/withdraw")
def withdraw_case(
    request: Request, p: Insured, case_id: str, confirm: Annotated[str, Form()] = ""
) -> Response:
    case = _own_case(request, p, case_id)
    if confirm != "yes":  # a bare post (no confirmation given) only shows the question
        return RedirectResponse(f"/me/cases/{case_id}/withdraw", status_code=303)
    try:
        portal_store(request).move(
            case.case_id, "withdrawn", actor_id=p.user_id, actor_role=p.role, note="", now=now_utc()
        )
    except core.PortalError as exc:
        return error_page(request, 409, exc.reason, exc.field)
    return RedirectResponse(f"/me/cases/{case_id}", status_code=303)


@router.post("/me/cases/{case_id}/verdict")
def case_verdict(
    request: Request,
    p: Insured,
    case_id: str,
    satisfied: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    """满意吗？ after the answer: satisfied closes the case; not satisfied (with a reason) re-opens it for a
    review (复核) with its own clock."""
    case = _own_case(request, p, case_id)
    if satisfied not in ("yes", "no"):
        return error_page(request, 422, "请选择满意或不满意 please choose satisfied or not", "satisfied")
    new = "resolved" if satisfied == "yes" else "reopened"
    note = reason.strip()
    try:
        portal_store(request).move(
            case.case_id, new, actor_id=p.user_id, actor_role=p.role, note=note, now=now_utc()
        )
    except core.PortalError as exc:
        status = 422 if exc.code == "missing" else 409
        return error_page(request, status, exc.reason, exc.field)
    return RedirectResponse(f"/me/cases/{case_id}", status_code=303)


# ---------------------------------------------------------------------------- notifications
@router.get("/me/notices", response_class=HTMLResponse)
def my_notices(request: Request, p: Insured) -> Response:
    """The login's notifications, newest first; opening the list marks them read."""
    store, fam = portal_store(request), family_store(request)
    notices = store.notices(p.user_id)
    family = fam.notices(p.user_id)
    logins = {u.user_id: u.display_name for u in request.app.state.store.list_users() if u.role == "insured"}
    store.mark_read(p.user_id, now_utc())
    fam.mark_read(p.user_id, now_utc())
    return render(
        request,
        "notices.html",
        {
            "notices": notices,
            "family": family,
            "logins": logins,
            "FKINDS": family_core.KINDS,
            "FACTIONS": family_core.ACTIONS,
            "unread": 0,
        },
    )


# ---------------------------------------------------------------------------- who read my record
@router.get("/me/access", response_class=HTMLResponse)
def who_read(request: Request, p: Insured) -> Response:
    psn = acting_for(request, p)
    store = request.app.state.store
    entries = store.access_entries(psn, limit=200) if hasattr(store, "access_entries") else None
    return render(request, "access.html", {"psn": psn, "entries": entries})


@router.post("/portal/logout")
def portal_logout(request: Request, p: Annotated[Principal, Depends(current_principal)]) -> Response:
    """Log out from a page (the API's ``POST /auth/logout`` answers 204, which a form cannot use)."""
    from yibao.web.auth import COOKIE, _token

    token = _token(request)
    if token:
        request.app.state.store.close_session(token)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    resp.delete_cookie("yb_psn", path="/")
    return resp
