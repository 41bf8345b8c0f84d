"""The voucher as a QR code: an SVG drawn locally with ``segno`` (no network, no image service)."""

from __future__ import annotations

import io

import segno


def qr_svg(token: str, *, scale: int = 4, title: str = "医保电子凭证") -> str:
    """An SVG element (no XML declaration) encoding ``token`` at error-correction level M."""
    buf = io.BytesIO()
    segno.make(token, error="m", micro=False).save(
        buf, kind="svg", scale=scale, border=2, xmldecl=False, svgns=True, title=title
    )
    return buf.getvalue().decode("utf-8")
