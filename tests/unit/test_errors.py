"""Refusals read Chinese first: pydantic's English messages get the Chinese reason in front."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from yibao.errors import validation_reason


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: int

    @field_validator("days")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v < 0:
            raise ValueError("天数不得为负 days must not be negative")
        return v


def _first(data: dict[str, object]) -> str:
    with pytest.raises(ValidationError) as e:
        _M.model_validate(data)
    return validation_reason(e.value.errors()[0])


def test_pydantic_wording_gets_the_chinese_reason_first() -> None:
    assert _first({}) == "缺少必填项 Field required"
    assert _first({"days": "x"}).startswith("须为整数 Input should be a valid integer")
    assert _first({"days": 1, "colour": "red"}).startswith("未知的键 Extra inputs are not permitted")


def test_a_reason_already_in_chinese_is_kept_without_the_value_error_prefix() -> None:
    assert _first({"days": -1}) == "天数不得为负 days must not be negative"
