"""The bureau's pages of co-governance (共治, auditor and admin): write a draft policy for consultation,
attach its simulated impact (a real simulation of a candidate policy against the region's claims, or a
stored simulation report), publish it with an opinion period, moderate opinions, group them into themes,
record hearings (听证会), answer each theme and publish the result.  The public sees
:mod:`yibao.web.portal.consult_pages`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, cast

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from yibao.access.principal import Principal
from yibao.consult import core
from yibao.consult.impact import impact_from_report
from yibao.consult.simulated import Candidate, candidates_for, policy_names, simulate_impact
from yibao.fund.data import data_dir_for
from yibao.policy.book import PolicyBook
from yibao.policy.loader import PolicyError
from yibao.web.auth import require
from yibao.web.dashboard.pages import render
from yibao.web.deps import book_of
from yibao.web.portal import consult_pages as public
from yibao.web.portal.consult_pages import consult_error, consult_store, page_context

router = APIRouter(prefix="/dashboard/consult", include_in_schema=False)
Staff = Annotated[Principal, Depends(require("auditor", "admin"))]
REPORT_MAX_BYTES = 5_000_000


def candidates(request: Request) -> list[Candidate]:
    """The shipped candidate policies for the service's region, named by what they change (read once)."""
    cached = getattr(request.app.state, "consult_candidates", None)
    if cached is None:
        cached = request.app.state.consult_candidates = candidates_for(book_of(request))
    return cast(list[Candidate], cached)


def warm(request: Request) -> None:
    """Start-up warm-up (yibao.web.warm): the candidate policies offered for a consultation."""
    candidates(request)


def _back(consult_id: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(
        f"/dashboard/consult/{consult_id}" + (f"#{anchor}" if anchor else ""), status_code=303
    )


@router.get("", response_class=HTMLResponse)
def staff_list(request: Request, p: Staff) -> Response:
    store = consult_store(request)
    now = public.clock()
    rows = [(c, c.phase(now)) for c in store.listing(public=False)]
    return render(request, "consult_staff_list.html", {"rows": rows, "CONSULT_STATUSES": core.STATUSES})


@router.post("")
def new_draft(
    request: Request,
    p: Staff,
    title: Annotated[str, Form()] = "",
    summary: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
) -> Response:
    try:
        c = consult_store(request).create_draft(
            title=title, summary=summary, body=body, actor_id=p.user_id, now=public.clock()
        )
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return _back(c.consult_id)


@router.get("/{consult_id}", response_class=HTMLResponse)
def staff_page(request: Request, p: Staff, consult_id: str) -> Response:
    store = consult_store(request)
    try:
        c = store.get(consult_id)
    except core.ConsultError as exc:
        return consult_error(request, exc)
    now = public.clock()
    ctx = page_context(request, c, p, now)
    today = core.beijing_day(now)
    ctx |= {
        "candidates": candidates(request),
        "default_last_day": today + dt.timedelta(days=store.params.min_days),
        "today": today,
        "ACTIONS": core.ACTIONS,
        "events": store.events(consult_id),
        "has_claims": data_dir_for(str(request.app.state.settings.database_url)) is not None,
    }
    return render(request, "consult_staff.html", ctx)


@router.post("/{consult_id}/draft")
def edit_draft(
    request: Request,
    p: Staff,
    consult_id: str,
    title: Annotated[str, Form()] = "",
    summary: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
) -> Response:
    try:
        consult_store(request).edit_draft(
            consult_id, title=title, summary=summary, body=body, actor_id=p.user_id, now=public.clock()
        )
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return _back(consult_id)


@router.post("/{consult_id}/simulate")
def run_simulation(
    request: Request, p: Staff, consult_id: str, candidate: Annotated[str, Form()] = ""
) -> Response:
    """Run the simulation of a shipped candidate policy against the region's claims and attach its
    impact to the draft."""
    chosen = next((c for c in candidates(request) if c.key == candidate), None)
    if chosen is None:
        return consult_error(
            request, core.ConsultError("candidate", "请选择候选政策 please choose a candidate policy")
        )
    settings = request.app.state.settings
    data_dir = data_dir_for(str(settings.database_url))
    if data_dir is None:
        return consult_error(
            request,
            core.ConsultError(
                "candidate",
                "本统筹区没有可用于模拟的理赔数据，请上传模拟报告 no claims to simulate on; upload a report",
            ),
        )
    try:
        impact = simulate_impact(book_of(request), PolicyBook.from_file(chosen.path), data_dir)
        note = (
            f"本统筹区理赔数据按候选政策“{chosen.name_zh}”（{chosen.key}）重新结算 "
            f"the region's claims settled again under the candidate policy {chosen.name_en} ({chosen.key})"
        )
        consult_store(request).set_impact(consult_id, impact, note, actor_id=p.user_id, now=public.clock())
    except PolicyError as exc:
        return consult_error(
            request, core.ConsultError("candidate", f"候选政策无法读取 cannot read the policy: {exc}")
        )
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return _back(consult_id, "impact")


@router.post("/{consult_id}/report")
async def upload_report(
    request: Request, p: Staff, consult_id: str, report: Annotated[UploadFile | None, File()] = None
) -> Response:
    """Attach the impact from a stored simulation report (the JSON ``yibao simulate --json`` writes)."""
    if report is None or not report.filename:
        return consult_error(
            request, core.ConsultError("report", "请选择模拟报告文件 choose a report file", "missing")
        )
    raw = await report.read(REPORT_MAX_BYTES + 1)
    try:
        if len(raw) > REPORT_MAX_BYTES:
            raise core.ConsultError("report", "文件过大（最多 5 MB） the file is too large (5 MB at most)")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise core.ConsultError("report", "不是 JSON 文件 not a JSON file") from exc
        if not isinstance(data, dict):
            raise core.ConsultError("report", "模拟报告须为 JSON 对象 the report must be a JSON object")
        impact = impact_from_report(data, policy_names(book_of(request)))
        name = Path(report.filename).name
        note = f"政策模拟报告（{name}） simulation report {name}"
        consult_store(request).set_impact(consult_id, impact, note, actor_id=p.user_id, now=public.clock())
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return _back(consult_id, "impact")


@router.post("/{consult_id}/publish")
def publish(
    request: Request,
    p: Staff,
    consult_id: str,
    last_day: Annotated[str, Form()] = "",
    short_reason: Annotated[str, Form()] = "",
) -> Response:
    try:
        try:
            day = dt.date.fromisoformat(last_day)
        except ValueError as exc:
            raise core.ConsultError(
                "deadline", "请选择截止日期 please choose the last day", "missing"
            ) from exc
        consult_store(request).publish(
            consult_id, last_day=day, short_reason=short_reason, actor_id=p.user_id, now=public.clock()
        )
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return _back(consult_id)


@router.post("/{consult_id}/withdraw")
def withdraw(request: Request, p: Staff, consult_id: str, reason: Annotated[str, Form()] = "") -> Response:
    try:
        consult_store(request).withdraw(consult_id, reason=reason, actor_id=p.user_id, now=public.clock())
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return _back(consult_id)


@router.post("/{consult_id}/opinions/{opinion_id}/hide")
def hide(
    request: Request, p: Staff, consult_id: str, opinion_id: int, reason: Annotated[str, Form()] = ""
) -> Response:
    try:
        consult_store(request).hide(
            consult_id, opinion_id, reason=reason, actor_id=p.user_id, now=public.clock()
        )
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return _back(consult_id, f"op-{opinion_id}")


@router.post("/{consult_id}/opinions/{opinion_id}/restore")
def restore(request: Request, p: Staff, consult_id: str, opinion_id: int) -> Response:
    try:
        consult_store(request).restore(consult_id, opinion_id, actor_id=p.user_id, now=public.clock())
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return _back(consult_id, f"op-{opinion_id}")


@router.post("/{consult_id}/themes")
def group_opinions(
    request: Request,
    p: Staff,
    consult_id: str,
    opinion: Annotated[list[int] | None, Form()] = None,
    theme: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
) -> Response:
    """Group the ticked opinions into a new theme (``title``) or an existing one (``theme``)."""
    picked = opinion or []
    store = consult_store(request)
    try:
        if theme:
            if not picked:
                raise core.ConsultError("opinion", "请勾选要归类的意见 tick the opinions to group", "missing")
            try:
                theme_id = int(theme)
            except ValueError as exc:
                raise core.ConsultError("theme", "意见类别无效 unknown theme") from exc
            store.group(consult_id, theme_id, picked, actor_id=p.user_id, now=public.clock())
        else:
            store.add_theme(
                consult_id, title=title, opinion_ids=picked, actor_id=p.user_id, now=public.clock()
            )
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return _back(consult_id, "themes")


@router.post("/{consult_id}/themes/{theme_id}/answer")
def answer(
    request: Request,
    p: Staff,
    consult_id: str,
    theme_id: int,
    decision: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    try:
        consult_store(request).answer(
            consult_id, theme_id, decision=decision, text=text, actor_id=p.user_id, now=public.clock()
        )
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return _back(consult_id, f"theme-{theme_id}")


@router.post("/{consult_id}/hearings")
def hearing(
    request: Request,
    p: Staff,
    consult_id: str,
    held_on: Annotated[str, Form()] = "",
    place: Annotated[str, Form()] = "",
    participants: Annotated[str, Form()] = "",
    observers: Annotated[str, Form()] = "",
    summary: Annotated[str, Form()] = "",
) -> Response:
    try:
        try:
            day = dt.date.fromisoformat(held_on)
        except ValueError as exc:
            raise core.ConsultError("held_on", "请填写听证会日期 please give the date", "missing") from exc
        consult_store(request).record_hearing(
            consult_id,
            held_on=day,
            place=place,
            participants=core.names_list(participants),
            observers=core.names_list(observers),
            summary=summary,
            actor_id=p.user_id,
            now=public.clock(),
        )
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return _back(consult_id, "hearings")


@router.post("/{consult_id}/close")
def close(request: Request, p: Staff, consult_id: str, result: Annotated[str, Form()] = "") -> Response:
    try:
        consult_store(request).close(consult_id, result=result, actor_id=p.user_id, now=public.clock())
    except core.ConsultError as exc:
        return consult_error(request, exc)
    return RedirectResponse(f"/consult/{consult_id}", status_code=303)
