"""Adapter: the assessment tables — store a year's scores, import surveys, read portal ratings and audit
cases (other capabilities' tables, read by name), and carry appeals through their steps.  Every write is
one transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa

from yibao.assess import appeal as ap
from yibao.assess.core import InstitutionScore, explain, score
from yibao.assess.params import AssessParams
from yibao.assess.samples import SAMPLES
from yibao.assess.schema import assess_appeal, assess_appeal_event, assess_run, assess_score, assess_survey
from yibao.db import make_engine
from yibao.errors import FieldError
from yibao.workdays import WorkCalendar


@dataclass(frozen=True)
class StoredScore:
    run_id: str
    code: str
    level: str
    score_x100: int
    release_ratio: int
    coefficient: int
    satisfaction: int | None
    values: dict[str, Any]
    detail: dict[str, Any]
    zh: list[str]
    en: list[str]
    version: int
    notified_on: dt.date


@dataclass(frozen=True)
class Appeal:
    appeal_id: str
    run_id: str
    code: str
    indicator: str
    reason: str
    status: str
    filed_on: dt.date
    filed_by: str
    decide_by: dt.date
    decided_at: str | None
    decided_by: str | None
    note: str
    revised_value: int | None
    score_before: int
    score_after: int | None


def _now(now: dt.datetime | None) -> str:
    return (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")


def _detail(s: InstitutionScore) -> dict[str, Any]:
    return {
        "dimensions": {d: list(v) for d, v in s.dimensions.items()},
        "indicators": {i.key: [i.value, i.weight_x100, i.points_x100] for i in s.indicators},
        "samples": s.samples,
    }


class AssessStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> AssessStore:
        """Migrate the database at ``url`` and open the assessment tables on it."""
        from yibao.db import parse_url
        from yibao.db.migrate import upgrade

        _, _, sa_url = parse_url(url)
        upgrade(sa_url)
        return cls(make_engine(sa_url))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> AssessStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --------------------------------------------------------------------------------- other tables
    def ratings(self) -> pl.DataFrame:
        """Portal satisfaction ratings (fixmedins_code, stars); empty when the portal has none."""
        schema = {"fixmedins_code": pl.String, "stars": pl.Int64}
        if not sa.inspect(self.engine).has_table("portal_rating"):
            return pl.DataFrame(schema=schema)
        with self.engine.connect() as c:
            rows = c.execute(sa.text("SELECT fixmedins_code, stars FROM portal_rating")).all()
        return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")

    def uploads(self, year: int, window_hours: int) -> pl.DataFrame | None:
        """Per institution: fee lines of ``year`` uploaded through the national interface (2204 / 2301 —
        the encounter capability's lines and the upload messages that carried them) and how many arrived
        within ``window_hours`` of when the fee occurred (``fee_ocur_time``, Beijing time; the message time
        is UTC).  Columns fixmedins_code, lines, on_time; None without the encounter tables or lines."""
        insp = sa.inspect(self.engine)
        if not all(insp.has_table(t) for t in ("enc_line", "enc_msg", "enc_visit")):
            return None
        q = sa.text(
            "SELECT v.fixmedins_code, l.fee_ocur_time, m.at FROM enc_line l "
            "JOIN enc_msg m ON m.msgid = l.msgid JOIN enc_visit v ON v.mdtrt_id = l.mdtrt_id "
            "WHERE l.fee_ocur_time LIKE :y"
        )
        with self.engine.connect() as c:
            rows = c.execute(q, {"y": f"{year}-%"}).all()
        if not rows:
            return None
        df = pl.DataFrame(
            [tuple(r) for r in rows],
            schema={"fixmedins_code": pl.String, "fee": pl.String, "at": pl.String},
            orient="row",
        )
        t = df.select(
            "fixmedins_code",
            pl.col("fee")
            .str.to_datetime("%Y-%m-%d %H:%M:%S", time_unit="us")
            .dt.replace_time_zone("Asia/Shanghai")
            .dt.convert_time_zone("UTC")
            .alias("fee"),
            pl.col("at").str.to_datetime(time_unit="us", time_zone="UTC").alias("at"),
        )
        late = (pl.col("at") - pl.col("fee")) > pl.duration(hours=window_hours)
        return (
            t.group_by("fixmedins_code")
            .agg(pl.len().cast(pl.Int64).alias("lines"), (~late).sum().cast(pl.Int64).alias("on_time"))
            .sort("fixmedins_code")
        )

    def audit_cases(self, period: str | None = None) -> pl.DataFrame | None:
        """Per institution: amounts flagged, flagged in decided cases, upheld (the audit capability's
        cases); None when the audit tables are absent or empty."""
        if not sa.inspect(self.engine).has_table("audit_case"):
            return None
        q = (
            "SELECT fixmedins_code, SUM(flagged_fen), "
            "SUM(CASE WHEN decided_at IS NOT NULL THEN flagged_fen ELSE 0 END), "
            "SUM(CASE WHEN decided_at IS NOT NULL THEN upheld_fen ELSE 0 END) FROM audit_case"
        )
        params: dict[str, Any] = {}
        if period is not None:
            q += " WHERE period LIKE :p"
            params["p"] = f"{period}%"
        with self.engine.connect() as c:
            rows = c.execute(sa.text(q + " GROUP BY fixmedins_code"), params).all()
        if not rows:
            return None
        return pl.DataFrame(
            [(r[0], int(r[1] or 0), int(r[2] or 0), int(r[3] or 0)) for r in rows],
            schema={
                "fixmedins_code": pl.String,
                "flagged_fen": pl.Int64,
                "decided_flagged_fen": pl.Int64,
                "upheld_fen": pl.Int64,
            },
            orient="row",
        )

    # ------------------------------------------------------------------------------------- surveys
    def import_survey(
        self, year: int, survey: pl.DataFrame, file: str, now: dt.datetime | None = None
    ) -> int:
        """Store a parsed survey (``survey.parse_survey_csv``); re-importing replaces the same surveyor's rows."""
        at = _now(now)
        with self.engine.begin() as c:
            for r in survey.iter_rows(named=True):
                c.execute(
                    assess_survey.delete().where(
                        assess_survey.c.year == year,
                        assess_survey.c.fixmedins_code == r["fixmedins_code"],
                        assess_survey.c.surveyor == r["surveyor"],
                    )
                )
            c.execute(
                assess_survey.insert(),
                [
                    {"year": year, **r, "imported_at": at, "file": file[:300]}
                    for r in survey.iter_rows(named=True)
                ],
            )
        return survey.height

    def survey(self, year: int) -> pl.DataFrame:
        with self.engine.connect() as c:
            rows = c.execute(
                sa.select(
                    assess_survey.c.fixmedins_code, assess_survey.c.respondents, assess_survey.c.satisfied
                ).where(assess_survey.c.year == year)
            ).all()
        return pl.DataFrame(
            [tuple(r) for r in rows],
            schema={"fixmedins_code": pl.String, "respondents": pl.Int64, "satisfied": pl.Int64},
            orient="row",
        )

    # ------------------------------------------------------------------------------------- scoring
    def save_run(
        self,
        run_id: str,
        year: int,
        frame: pl.DataFrame,
        scores: Sequence[InstitutionScore],
        p: AssessParams,
        *,
        notified_on: dt.date,
        names: Mapping[str, str],
        inputs: Mapping[str, bool],
        now: dt.datetime | None = None,
    ) -> None:
        """Store a year's scores with the values behind them and each institution's explanation; the run
        id is replaced as a whole (and its appeals with it)."""
        values = {r["fixmedins_code"]: r for r in frame.iter_rows(named=True)}
        with self.engine.begin() as c:
            old = [
                r[0]
                for r in c.execute(
                    sa.select(assess_appeal.c.appeal_id).where(assess_appeal.c.run_id == run_id)
                )
            ]
            if old:
                c.execute(assess_appeal_event.delete().where(assess_appeal_event.c.appeal_id.in_(old)))
                c.execute(assess_appeal.delete().where(assess_appeal.c.run_id == run_id))
            c.execute(assess_score.delete().where(assess_score.c.run_id == run_id))
            c.execute(assess_run.delete().where(assess_run.c.run_id == run_id))
            c.execute(
                assess_run.insert().values(
                    run_id=run_id,
                    year=year,
                    created=_now(now),
                    notified_on=notified_on.isoformat(),
                    institutions=len(scores),
                    inputs=json.dumps(dict(inputs)),
                )
            )
            rows = []
            for s in scores:
                zh, en = explain(s, p, names.get(s.code, ""))
                rows.append(
                    {
                        "run_id": run_id,
                        "fixmedins_code": s.code,
                        "level": s.level,
                        "score_x100": s.score_x100,
                        "release_ratio": s.release_ratio,
                        "coefficient": s.coefficient,
                        "satisfaction": s.satisfaction,
                        "values": json.dumps(values.get(s.code, {}), default=str),
                        "detail": json.dumps(_detail(s)),
                        "explanation": json.dumps(
                            {"zh": zh, "en": en, "name": names.get(s.code, "")}, ensure_ascii=False
                        ),
                        "version": 1,
                    }
                )
            if rows:
                c.execute(assess_score.insert(), rows)

    def latest_run(self) -> dict[str, Any] | None:
        with self.engine.connect() as c:
            r = c.execute(
                sa.select(assess_run)
                .order_by(assess_run.c.created.desc(), assess_run.c.run_id.desc())
                .limit(1)
            ).first()
        if r is None:
            return None
        out = dict(r._mapping)
        out["inputs"] = json.loads(out["inputs"])
        return out

    def scores(self, run_id: str) -> list[StoredScore]:
        with self.engine.connect() as c:
            notified = c.execute(
                sa.select(assess_run.c.notified_on).where(assess_run.c.run_id == run_id)
            ).scalar()
            rows = c.execute(
                sa.select(assess_score)
                .where(assess_score.c.run_id == run_id)
                .order_by(assess_score.c.score_x100, assess_score.c.fixmedins_code)
            ).all()
        return [self._stored(r._mapping, str(notified)) for r in rows]

    def get_score(self, run_id: str, code: str) -> StoredScore:
        with self.engine.connect() as c:
            notified = c.execute(
                sa.select(assess_run.c.notified_on).where(assess_run.c.run_id == run_id)
            ).scalar()
            r = c.execute(
                sa.select(assess_score).where(
                    assess_score.c.run_id == run_id, assess_score.c.fixmedins_code == code
                )
            ).first()
        if r is None or notified is None:
            raise FieldError(
                "fixmedins_code",
                f"{code} 在考核 {run_id} 中没有得分 not scored in run {run_id}",
                "unknown_score",
            )
        return self._stored(r._mapping, notified)

    @staticmethod
    def _stored(m: Any, notified: str) -> StoredScore:
        e = json.loads(m["explanation"])
        return StoredScore(
            m["run_id"],
            m["fixmedins_code"],
            m["level"],
            m["score_x100"],
            m["release_ratio"],
            m["coefficient"],
            m["satisfaction"],
            json.loads(m["values"]),
            json.loads(m["detail"]),
            e["zh"],
            e["en"],
            m["version"],
            dt.date.fromisoformat(notified),
        )

    # ------------------------------------------------------------------------------------- appeals
    def file_appeal(
        self,
        run_id: str,
        code: str,
        indicator: str,
        reason: str,
        *,
        actor: str,
        today: dt.date,
        p: AssessParams,
        cal: WorkCalendar,
        now: dt.datetime | None = None,
    ) -> Appeal:
        """An institution appeals one indicator of its score, within the window; one open appeal per
        indicator at a time."""
        s = self.get_score(run_id, code)
        due = ap.check_filing(
            notified_on=s.notified_on, today=today, indicator=indicator, reason=reason, p=p, cal=cal
        )
        at = _now(now)
        appeal_id = "AP" + hashlib.sha256(f"{run_id}|{code}|{indicator}|{at}".encode()).hexdigest()[:14]
        with self.engine.begin() as c:
            live = c.execute(
                sa.select(assess_appeal.c.appeal_id).where(
                    assess_appeal.c.run_id == run_id,
                    assess_appeal.c.fixmedins_code == code,
                    assess_appeal.c.indicator == indicator,
                    assess_appeal.c.status.in_(["filed", "under_review"]),
                )
            ).first()
            if live is not None:
                raise ap.AppealError(
                    "indicator", f"该指标已有未结申诉 {live[0]} an appeal on it is open", "duplicate"
                )
            c.execute(
                assess_appeal.insert().values(
                    appeal_id=appeal_id,
                    run_id=run_id,
                    fixmedins_code=code,
                    indicator=indicator,
                    reason=reason.strip(),
                    status="filed",
                    filed_on=today.isoformat(),
                    filed_by=actor,
                    decide_by=due.isoformat(),
                    score_before=s.score_x100,
                )
            )
            c.execute(
                assess_appeal_event.insert().values(
                    appeal_id=appeal_id,
                    at=at,
                    status="filed",
                    actor=actor,
                    role="institution",
                    note=reason.strip(),
                )
            )
        return self.get_appeal(appeal_id)

    def move_appeal(
        self,
        appeal_id: str,
        status: str,
        *,
        actor: str,
        role: str,
        note: str = "",
        revised_value: int | None = None,
        p: AssessParams,
        now: dt.datetime | None = None,
    ) -> Appeal:
        """Move an appeal; a decision in the institution's favour rescores it with the corrected value and
        rewrites its explanation (``version`` + 1)."""
        at = _now(now)
        a = self.get_appeal(appeal_id)
        ap.check_move(a.status, status, role, note, revised_value)
        score_after: int | None = None
        with self.engine.begin() as c:
            done = c.execute(
                assess_appeal.update()
                .where(assess_appeal.c.appeal_id == appeal_id, assess_appeal.c.status == a.status)
                .values(status=status)
            )
            if done.rowcount != 1:
                raise ap.AppealError(
                    "status", "申诉已被他人处理，请刷新 the appeal changed meanwhile; reload", "conflict"
                )
            if status in ap.DECISIONS:
                score_after = a.score_before
                if revised_value is not None:
                    score_after = self._rescore(c, a.run_id, a.code, a.indicator, revised_value, p, appeal_id)
                c.execute(
                    assess_appeal.update()
                    .where(assess_appeal.c.appeal_id == appeal_id)
                    .values(
                        decided_at=at,
                        decided_by=actor,
                        note=note.strip(),
                        revised_value=revised_value,
                        score_after=score_after,
                    )
                )
            c.execute(
                assess_appeal_event.insert().values(
                    appeal_id=appeal_id, at=at, status=status, actor=actor, role=role, note=note.strip()
                )
            )
        return self.get_appeal(appeal_id)

    def _rescore(
        self,
        c: sa.Connection,
        run_id: str,
        code: str,
        indicator: str,
        value: int,
        p: AssessParams,
        appeal_id: str,
    ) -> int:
        r = c.execute(
            sa.select(assess_score).where(
                assess_score.c.run_id == run_id, assess_score.c.fixmedins_code == code
            )
        ).first()
        assert r is not None
        vals = json.loads(r.values)
        vals[indicator] = value
        row = {
            k: vals.get(k)
            for k in (
                "fixmedins_code",
                "level",
                *p.indicators,
                *SAMPLES,
            )
        }
        row["fixmedins_code"], row["level"] = code, r.level
        frame = pl.DataFrame(
            [row],
            schema={
                "fixmedins_code": pl.String,
                "level": pl.String,
                **{k: pl.Int64 for k in row if k not in ("fixmedins_code", "level")},
            },
        )
        s = score(frame, p)[0]
        old = json.loads(r.explanation)
        zh, en = explain(s, p, old.get("name", ""))
        zh.append(
            f"（申诉 {appeal_id} 成立：{p.indicators[indicator].name} 更正后重新评分，原得分 {r.score_x100 / 100:.2f} 分。）"
        )
        en.append(
            f"(Appeal {appeal_id} upheld: rescored with the corrected {p.indicators[indicator].name_en}; was {r.score_x100 / 100:.2f}.)"
        )
        c.execute(
            assess_score.update()
            .where(assess_score.c.run_id == run_id, assess_score.c.fixmedins_code == code)
            .values(
                score_x100=s.score_x100,
                release_ratio=s.release_ratio,
                coefficient=s.coefficient,
                satisfaction=s.satisfaction,
                values=json.dumps(vals, default=str),
                detail=json.dumps(_detail(s)),
                explanation=json.dumps({"zh": zh, "en": en, "name": old.get("name", "")}, ensure_ascii=False),
                version=r.version + 1,
            )
        )
        return s.score_x100

    def get_appeal(self, appeal_id: str) -> Appeal:
        with self.engine.connect() as c:
            r = c.execute(sa.select(assess_appeal).where(assess_appeal.c.appeal_id == appeal_id)).first()
        if r is None:
            raise ap.AppealError("appeal_id", f"申诉 {appeal_id} 不存在 unknown appeal", "unknown_appeal")
        return self._appeal(r._mapping)

    def appeals(self, run_id: str, code: str | None = None) -> list[Appeal]:
        q = sa.select(assess_appeal).where(assess_appeal.c.run_id == run_id)
        if code is not None:
            q = q.where(assess_appeal.c.fixmedins_code == code)
        with self.engine.connect() as c:
            return [
                self._appeal(r._mapping)
                for r in c.execute(q.order_by(assess_appeal.c.filed_on, assess_appeal.c.appeal_id))
            ]

    def appeal_events(self, appeal_id: str) -> list[tuple[str, str, str, str, str]]:
        with self.engine.connect() as c:
            return [
                (r[0], r[1], r[2], r[3], r[4])
                for r in c.execute(
                    sa.select(
                        assess_appeal_event.c.at,
                        assess_appeal_event.c.status,
                        assess_appeal_event.c.actor,
                        assess_appeal_event.c.role,
                        assess_appeal_event.c.note,
                    )
                    .where(assess_appeal_event.c.appeal_id == appeal_id)
                    .order_by(assess_appeal_event.c.id)
                )
            ]

    @staticmethod
    def _appeal(m: Any) -> Appeal:
        return Appeal(
            m["appeal_id"],
            m["run_id"],
            m["fixmedins_code"],
            m["indicator"],
            m["reason"],
            m["status"],
            dt.date.fromisoformat(m["filed_on"]),
            m["filed_by"],
            dt.date.fromisoformat(m["decide_by"]),
            m["decided_at"],
            m["decided_by"],
            m["note"],
            m["revised_value"],
            m["score_before"],
            m["score_after"],
        )
