"""The employer API (参保单位): an employer login reads its own roster and arrears and uploads its monthly
roster (单位月度申报); the bureau (auditor, admin) reads any employer, an administrator may upload for one.
Another employer's data is refused (403).

* ``GET /api/employer/{emp_no}?on=YYYY-MM-DD`` — the roster, unpaid months and arrears on the day;
* ``POST /api/employer/{emp_no}/roster?filename=NAME.csv`` — the file as the request body (CSV or Parquet):
  ``{"infcode": 0, "output": {...}}``, or 422 with every bad row (``problems``: line, column, reason) and
  nothing imported.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from yibao.access.principal import Principal
from yibao.enrolment.model import ImportRejected
from yibao.usecases import enrolment as uc
from yibao.web.auth import require
from yibao.web.dashboard.enrol_pages import enrolment_frames, import_uploaded_roster
from yibao.web.portal.pages import local_today

router = APIRouter(prefix="/api/employer", tags=["employer 参保单位"])
EmployerOrStaff = Annotated[Principal, Depends(require("employer", "auditor", "admin"))]


@router.get("/{emp_no}", summary="单位参保与欠费 an employer's roster and arrears")
def employer_roster(request: Request, p: EmployerOrStaff, emp_no: str, on: str | None = None) -> Any:
    try:
        day = dt.date.fromisoformat(on) if on else local_today()
    except ValueError:
        raise HTTPException(422, "日期格式错误 invalid date: on (YYYY-MM-DD)") from None
    uc.check_employer(p, emp_no)
    got = enrolment_frames(request)
    if got is None:
        raise HTTPException(404, "本统筹区尚无参保数据 no enrolment data")
    store, frames = got
    return jsonable_encoder(uc.employer_view(p, frames, store, emp_no, day))


@router.post("/{emp_no}/roster", summary="单位月度申报 upload the monthly roster (all rows or none)")
async def employer_upload(
    request: Request, p: EmployerOrStaff, emp_no: str, filename: str = "roster.csv"
) -> Any:
    uc.check_employer(p, emp_no)
    data = await request.body()
    try:
        out = import_uploaded_roster(request, p, emp_no, filename, data)
    except ImportRejected as exc:
        return JSONResponse(
            {
                "infcode": -1,
                "field": exc.field,
                "err_msg": exc.reason,
                "code": exc.code,
                "total": exc.total,
                "problems": [e.as_dict() for e in exc.problems],
            },
            status_code=422,
        )
    return {"infcode": 0, "output": out.as_dict()}
