"""Remote consultation (远程会诊) payment as pure functions: the fee by the consultant's level and its split
between the consulting hospital and the requesting grass-roots clinic (分级支付 + 资源共享, 《医联体背景下互联网医院支付资源下沉策略》)."""

from __future__ import annotations

from yibao.care.policy import CareError, CareParams
from yibao.money import apply_ratio


def consult_fee(params: CareParams, consultant_level: str) -> int:
    """The fee (fen) for one consultation given by a hospital of ``consultant_level``."""
    fee = params.remote_fee_by_level.get(consultant_level)
    if fee is None:
        raise CareError(
            "consultant",
            f"该级别医院无会诊收费标准 no consultation fee for level {consultant_level!r}",
            "no_fee",
        )
    return fee


def split_fee(params: CareParams, fee: int) -> tuple[int, int]:
    """(consultant's share, requester's share) of ``fee``; the two add up to the fee exactly."""
    consultant = apply_ratio(fee, params.remote_consultant_share)
    return consultant, fee - consultant
