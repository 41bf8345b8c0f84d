"""JSON responses serialised once with orjson; ``Decimal`` (money at the edge) is written as an exact JSON
number (``12.30``), never through float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from fastapi.responses import Response


def _default(o: object) -> Any:
    if isinstance(o, Decimal):
        return orjson.Fragment(str(o).encode("ascii"))
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default)


def json_response(obj: Any, status_code: int = 200, media_type: str = "application/json") -> Response:
    return Response(dumps(obj), status_code=status_code, media_type=media_type)
