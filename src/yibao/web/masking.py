"""Masking of personal data (身份证号, 姓名, 手机号) for logs and list responses.

Rules follow the common display convention of GB/T 35273 style de-identification (keep enough to
recognise, not enough to identify): an ID number keeps its first 6 (region) and last 4 characters, a
name its first character, a phone its first 3 and last 4 digits.
"""

from __future__ import annotations

import logging
import re

# 18-character resident ID (17 digits + digit/X) or the old 15-digit form, not inside a longer number.
_CERTNO = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8}|\d{5})(\d{3}[\dXx]|\d{1})(?![0-9A-Za-z])")
# mainland mobile numbers: 1[3-9] + 9 digits
_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_certno(certno: str) -> str:
    """``610101199001011234`` → ``610101********1234``; short values are masked whole."""
    if len(certno) <= 10:
        return "*" * len(certno)
    return certno[:6] + "*" * (len(certno) - 10) + certno[-4:]


def mask_name(name: str) -> str:
    """``张三丰`` → ``张**``; ``Li Lei`` → ``L*****``."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def mask_phone(phone: str) -> str:
    """``13912345678`` → ``139****5678``."""
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_text(text: str) -> str:
    """Mask every ID number and mobile number found inside free text (log lines)."""
    text = _CERTNO.sub(lambda m: mask_certno(m.group(0)), text)
    return _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


class MaskingFilter(logging.Filter):
    """A logging filter that masks ID and phone numbers in the formatted message (names cannot be
    found reliably in free text: code must not log them — use :func:`mask_name`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            # keep the args tuple (uvicorn's access formatter unpacks it), masking each text argument
            record.args = tuple(mask_text(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str) and not record.args:
            record.msg = mask_text(record.msg)
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            # the traceback text (with the exception's message, which may quote an ID number) is
            # formatted here once, masked; handlers then use it as it is
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        return True


def install_log_masking(*logger_names: str) -> None:
    """Attach :class:`MaskingFilter` to the handlers of the named loggers (default: uvicorn's and yibao's)."""
    names = logger_names or ("uvicorn", "uvicorn.access", "uvicorn.error", "yibao")
    f = MaskingFilter()
    for name in names:
        logger = logging.getLogger(name)
        for target in (logger, *logger.handlers):
            if not any(isinstance(x, MaskingFilter) for x in target.filters):
                target.addFilter(f)
