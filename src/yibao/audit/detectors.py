"""The anomaly models' names by code (Chinese, English), importable without loading the models themselves
(pages name a model's flags without importing scikit-learn)."""

from __future__ import annotations

MODEL_CODES: dict[str, tuple[str, str]] = {  # code → (zh, en)
    "MX-PEER-001": ("次均费用（病种组调整）同级异常", "case-mix adjusted cost per case vs peers"),
    "MX-PEER-002": ("药占比同级异常", "drug share vs peers"),
    "MX-PEER-003": ("住院天数异常且日均诊疗少（挂床）", "long stay with little care per day"),
    "MX-PEER-004": ("同一机构重复就诊", "repeat visits to one provider"),
    "MX-PEER-005": ("项目构成同级异常（高套）", "item mix vs peers (upcoding)"),
    "MX-PEER-006": ("模板化收费（虚构诊疗）", "templated bills (phantom billing)"),
    "MX-PEER-007": ("医师重复同一收费（虚构诊疗）", "one physician's identical bills (phantom billing)"),
    "MX-PEER-008": ("检查与诊断不符（虚构检查）", "exams rare for the diagnosis (phantom exams)"),
    "MX-PAT-002": ("多头就医", "doctor shopping"),
    "MX-PAT-003": ("多药店购同一药品", "pharmacy shopping"),
    "MX-PAT-004": ("贵重药品频繁购药（倒卖）", "early refills of dear drugs (resale)"),
    "MX-PAT-005": ("单次药量异常（超量开药）", "excess quantity on a line"),
    "MX-NET-001": ("同日结伴就诊团体（串通）", "co-visit ring (collusion)"),
    "MX-IF-001": ("孤立森林多维异常", "isolation forest outlier"),
}
