"""Small vectorised helpers: fixed-width digit strings straight into Arrow buffers, round half up."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]

I64 = npt.NDArray[np.int64]


def digits(values: npt.NDArray[np.integer], width: int) -> npt.NDArray[np.uint8]:
    """``values`` (non-negative) as a (n, width) matrix of ASCII digits, zero padded."""
    v = np.asarray(values, dtype=np.int64)
    pows = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((v[:, None] // pows[None, :]) % 10 + 48).astype(np.uint8)


def fixed_strings(matrix: npt.NDArray[np.uint8]) -> pa.StringArray:
    """Rows of an ASCII byte matrix as an Arrow string array, built from buffers (no Python loop)."""
    n, w = matrix.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32)
    data = np.ascontiguousarray(matrix).tobytes()
    arr = pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))
    return arr


def prefixed_digits(prefix: str, values: npt.NDArray[np.integer], width: int) -> pa.StringArray:
    """``prefix`` followed by ``values`` zero-padded to ``width`` digits."""
    d = digits(values, width)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    mat = np.empty((d.shape[0], len(head) + width), dtype=np.uint8)
    mat[:, : len(head)] = head
    mat[:, len(head) :] = d
    return fixed_strings(mat)
