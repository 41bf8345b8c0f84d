"""The one shape of a refused request: which input (``field``), why (``reason``), a stable ``code``."""

from __future__ import annotations


class FieldError(ValueError):
    """Base of every error that names the offending input; nothing was written when it is raised."""

    def __init__(self, field: str, reason: str, code: str = "invalid") -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason, self.code = field, reason, code
