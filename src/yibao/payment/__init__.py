"""DRG and DIP hospital payment (按疾病诊断相关分组付费 / 按病种分值付费): policy as data, a pure core.

    from yibao.payment import load_policy, pay_drg, pay_dip
    pay = pay_drg(grouped_claims, load_policy("demo"), history=earlier_claims)
    pay.hospitals   # annual clearing per hospital; pay.monthly: monthly pre-settlement; pay.cases

See docs/PAYMENT.md.
"""

from yibao.payment.core import ClaimsError, Payment
from yibao.payment.dip import DipCatalogue, build_dip_catalogue, pay_dip, score_dip_cases
from yibao.payment.drg import DrgWeights, calibrate_drg_weights, pay_drg, score_drg_cases
from yibao.payment.policy import PaymentPolicy, PaymentPolicyError, load_policy, parse_policy

__all__ = [
    "ClaimsError",
    "DipCatalogue",
    "DrgWeights",
    "Payment",
    "PaymentPolicy",
    "PaymentPolicyError",
    "build_dip_catalogue",
    "calibrate_drg_weights",
    "load_policy",
    "parse_policy",
    "pay_dip",
    "pay_drg",
    "score_dip_cases",
    "score_drg_cases",
]
