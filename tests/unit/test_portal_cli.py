"""``yibao portal`` commands."""

from __future__ import annotations

from typer.testing import CliRunner

from yibao.cli.portal import portal_app


def test_due_counts_working_days_across_the_national_day_holiday() -> None:
    r = CliRunner().invoke(portal_app, ["due", "complaint", "--on", "2026-09-29"])
    assert r.exit_code == 0
    # 30 Sep (1), 8–9 Oct (2–3), Sat 10 Oct 调休 (4), then 12–16, 19–23, 26 Oct → the 15th working day
    assert "2026-10-26" in r.output


def test_due_names_an_unknown_kind() -> None:
    r = CliRunner().invoke(portal_app, ["due", "bribe"])
    assert r.exit_code == 2 and "kind" in r.output
