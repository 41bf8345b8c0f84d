"""The one shape of a refused request: which input (``field``), why (``reason``), a stable ``code``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


class FieldError(ValueError):
    """Base of every error that names the offending input; nothing was written when it is raised."""

    def __init__(self, field: str, reason: str, code: str = "invalid") -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.code = field, reason, code


_CJK = re.compile(r"[\u4e00-\u9fff]")
# pydantic error types → the Chinese reason written before pydantic's English message
_VALIDATION_ZH = {
    "missing": "缺少必填项",
    "extra_forbidden": "未知的键",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "string_pattern_mismatch": "格式不符",
    "string_type": "须为文字",
    "too_short": "内容过少",
    "too_long": "内容过多",
    "int_parsing": "须为整数",
    "int_type": "须为整数",
    "int_from_float": "须为整数",
    "float_parsing": "须为数字",
    "float_type": "须为数字",
    "bool_parsing": "须为 true 或 false",
    "bool_type": "须为 true 或 false",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "date_from_datetime_parsing": "日期格式错误",
    "date_parsing": "日期格式错误",
    "date_type": "日期格式错误",
    "list_type": "须为列表",
    "dict_type": "须为映射表",
    "model_type": "须为映射表",
}


def validation_reason(err: Mapping[str, Any]) -> str:
    """One pydantic error (``ValidationError.errors()[i]``) as a reason: Chinese first, then pydantic's
    English message ("Value error, " dropped; a message already in Chinese is kept as it is)."""
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if _CJK.search(msg):
        return msg
    return f"{_VALIDATION_ZH.get(str(err.get('type')), '取值无效')} {msg}"
