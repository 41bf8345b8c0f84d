"""医保电子凭证 — the electronic insurance voucher: a signed, short-lived, single-use token bound to a person
(and to the family member who shows it), issued from the portal, shown as a QR code, verified at a hospital or
pharmacy counter (1101 / 2201).

Core (:mod:`yibao.voucher.core`): token format, claims, :func:`issue`, :func:`verify` with reasons in Chinese
and English.  Store (:mod:`yibao.voucher.store`): keys with rotation, issued vouchers, used nonces,
revocations.  QR (:mod:`yibao.voucher.qr`).
"""

from yibao.voucher.core import (
    REASONS,
    KeyRing,
    MemoryNonceStore,
    NonceStore,
    Revocations,
    SigningKey,
    VerifyKey,
    VoucherClaims,
    VoucherError,
    VoucherParams,
    issue,
    peek,
    verify,
)

__all__ = [
    "REASONS",
    "KeyRing",
    "MemoryNonceStore",
    "NonceStore",
    "Revocations",
    "SigningKey",
    "VerifyKey",
    "VoucherClaims",
    "VoucherError",
    "VoucherParams",
    "issue",
    "peek",
    "verify",
]
