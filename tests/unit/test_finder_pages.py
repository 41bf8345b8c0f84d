"""The pure parts of 定点机构查询 and 药品目录查询: averages over a threshold, mean stars, name search, and
the catalogue's class and limits in words."""

from __future__ import annotations

import dataclasses

import pytest

from yibao.policy.catalogue import CatalogueItem
from yibao.web.portal.finder_pages import (
    CostAverage,
    class_in_words,
    cost_averages,
    drug_matches,
    limits_in_words,
    mean_stars,
    name_matches,
)

ITEM = CatalogueItem(
    code="XJ05AHA019E001010158960",
    name="磷酸奥司他韦胶囊 75mg",
    name_en="oseltamivir capsules 75 mg",
    category="09",
    cls="02",
    selfpay_prop=1000,
    price_cap=None,
    unit_price=420,
    sex=None,
    min_age=None,
    max_age=None,
    min_level=None,
    indications=("J09", "J10", "B44"),
    kind="drug",
)


def test_the_average_is_given_only_from_the_minimum_count_and_rounds_half_up() -> None:
    rows = [("A", 1000, 600), ("A", 1001, 600), ("B", 500, 0)]
    got = cost_averages(rows, min_visits=2)
    # (1000 + 1001) / 2 = 1000.5 → 1001; borne (400 + 401) / 2 = 400.5 → 401
    assert got["A"] == CostAverage(2, 1001, 401)
    assert got["B"] == CostAverage(1, None, None)
    assert cost_averages(rows, min_visits=1)["B"] == CostAverage(1, 500, 500)
    assert cost_averages(rows, min_visits=3)["A"] == CostAverage(2, None, None)


def test_a_threshold_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="min_visits"):
        cost_averages([], min_visits=0)


def test_mean_stars_has_one_decimal_and_is_empty_when_nobody_rated() -> None:
    assert mean_stars(9, 2) == "4.5"
    assert mean_stars(13, 3) == "4.3"  # 4.333…
    assert mean_stars(14, 3) == "4.7"  # 4.666…
    assert mean_stars(0, 0) == ""


def test_a_name_is_found_by_a_part_of_it_or_its_pinyin_initials() -> None:
    name = "西安市第一医院"
    assert name_matches(name, "第一")
    assert name_matches(name, "xasdyyy")
    assert name_matches(name, "DYYY")  # any case, any part of the initials
    assert not name_matches(name, "bj")
    assert name_matches(name, "  ")


def test_a_drug_is_found_by_its_code_english_name_or_initials() -> None:
    assert drug_matches(ITEM, "XJ05AHA")
    assert drug_matches(ITEM, "oseltamivir")
    assert drug_matches(ITEM, "lsastw")
    assert not drug_matches(ITEM, "amxl")


def test_class_b_names_its_pay_first_share_and_class_c_that_nothing_is_paid() -> None:
    assert class_in_words(ITEM)[0] == "乙类：先由个人自付 10%（先行自付），其余部分再按规定报销。"
    assert class_in_words(dataclasses.replace(ITEM, cls="03"))[0].startswith("丙类：不在医保支付范围")
    assert class_in_words(dataclasses.replace(ITEM, cls="01"))[0].startswith("甲类")


def test_limits_name_the_conditions_sex_age_and_level_in_words() -> None:
    levels = {"3": ("三级", "level 3")}
    assert limits_in_words(ITEM, levels) == [
        (
            "限以下病种使用（限适应症），其他情况医保不支付：流行性感冒和肺炎、真菌病",
            "only for these conditions, otherwise not paid: influenza and pneumonia, mycoses",
        )
    ]
    strict = dataclasses.replace(ITEM, sex="F", min_age=18, max_age=60, min_level="3", indications=())
    assert limits_in_words(strict, levels) == [
        ("限女性使用", "for women only"),
        ("限 18–60 岁使用", "for ages 18–60"),
        ("限三级及以上定点医疗机构使用", "only at level 3 institutions and above"),
    ]
