"""Table-driven DRG grouper: one engine, schemes as data (CHS-DRG demonstration, MS-DRG v43).

from yibao.drg import load_scheme, scheme_ids, group_frame, cases_from_synth
scheme = load_scheme("chs-drg-demo")            # or "ms-drg-v43", or a scheme file path
out = group_frame(scheme, cases)                # case_id, mdc, adrg, drg, severity, trace
"""

from yibao.drg.engine import Case, Compiled, Grouping, compile_scheme, group_case
from yibao.drg.frame import CaseError, group_frame, validate_cases
from yibao.drg.loader import SchemeError, load_scheme, scheme_ids
from yibao.drg.synth import cases_from_synth

__all__ = [
    "Case",
    "CaseError",
    "Compiled",
    "Grouping",
    "SchemeError",
    "cases_from_synth",
    "compile_scheme",
    "group_case",
    "group_frame",
    "load_scheme",
    "scheme_ids",
    "validate_cases",
]
