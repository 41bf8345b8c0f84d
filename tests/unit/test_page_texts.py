"""Text for people on the pages: Beijing time, role names, reads in words, bilingual messages split."""

from __future__ import annotations

import datetime as dt

from yibao.web.portal import texts


def test_a_utc_instant_is_shown_in_beijing_time_across_midnight() -> None:
    at = dt.datetime(2026, 12, 6, 17, 18, 46, tzinfo=dt.UTC)  # 01:18 on the 7th in Beijing
    assert texts.beijing(at) == "2026年12月7日 01:18"
    assert texts.beijing(at, "en") == "7 Dec 2026, 01:18"
    assert texts.beijing(at, style="date") == "2026年12月7日"


def test_iso_text_and_naive_datetimes_are_read_as_utc() -> None:
    assert texts.beijing("2026-12-07T01:18:46+00:00") == "2026年12月7日 09:18"
    assert texts.beijing(dt.datetime(2026, 12, 7, 1, 18)) == "2026年12月7日 09:18"
    assert texts.beijing("2026-12-07T09:18:00+08:00", "en") == "7 Dec 2026, 09:18"


def test_a_date_stays_a_date_and_non_times_pass_through() -> None:
    assert texts.beijing(dt.date(2026, 1, 5)) == "2026年1月5日"
    assert texts.beijing("2026-01-05", "en") == "5 Jan 2026"
    assert texts.beijing(None) == "—" and texts.beijing("soon") == "soon"


def test_roles_have_names_and_unknown_roles_keep_their_code() -> None:
    assert texts.role_name("auditor") == "医保经办稽核人员"
    assert texts.role_name("institution", "en") == "designated institution"
    assert texts.role_name("robot") == "robot"


def test_logged_reads_are_told_in_words() -> None:
    assert texts.describe_read("settlement abc123") == "查看一次就诊的费用明细（结算号 abc123）"
    assert texts.describe_read("portal home 2025", "en") == "viewed the 2025 overview"
    assert texts.describe_read("FHIR FHIR Patient") == "读取参保人信息（通过健康应用接口）"
    assert texts.describe_read("FHIR settlement s1", "en") == (
        "viewed a visit's itemised bill (settlement s1) (via a health-app interface, FHIR)"
    )
    assert texts.describe_read("something new") == "something new"


def test_a_bilingual_message_splits_at_the_last_chinese_character() -> None:
    assert texts.bilingual("未找到该结算 settlement not found") == ("未找到该结算", "settlement not found")
    zh, en = texts.bilingual("角色 insured 无权访问 role insured may not do this (allowed: admin)")
    assert zh == "角色 insured 无权访问" and en.startswith("role insured may not")
    assert texts.bilingual("only English") == ("only English", "only English")
    assert texts.bilingual("只有中文。") == ("只有中文。", "只有中文。")


def test_a_citation_written_chinese_first_with_english_in_brackets_splits_cleanly() -> None:
    zh, en = texts.bilingual("本地服务承诺 (local service commitment)")
    assert (zh, en) == ("本地服务承诺", "local service commitment")


def test_english_punctuation_replaces_the_chinese_marks() -> None:
    assert texts.EN_PUNCTUATION["："] == ": " and texts.EN_PUNCTUATION["。"] == "."


def test_templates_write_chinese_punctuation_through_pn() -> None:
    """A "：" typed into a template's text would show on English pages too; pn('：') follows the language."""
    import re
    from pathlib import Path

    web = Path(texts.__file__).resolve().parents[1]
    jinja = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
    found = [
        f"{p.relative_to(web)}: {m}"
        for p in sorted(web.glob("*/templates/*.html"))
        for m in re.findall(r"[：（）。，、；]", jinja.sub(" ", p.read_text(encoding="utf-8")))
    ]
    assert not found, found
