"""``yibao bench voucher``: issue and verify electronic insurance vouchers, JSON lines; nothing asserted.

* ``voucher.verify`` ``throughput`` — :func:`yibao.voucher.core.verify` on one core: format, key ring of three
  keys (one signing, two still verifying after rotations), Ed25519 signature, time and region rules, revocation
  list, single use in the in-memory nonce store; every token distinct, as at a busy counter;
* ``voucher.verify.replay`` — the same tokens shown again, refused by the nonce cache;
* ``voucher.issue`` ``throughput`` — signing;
* ``voucher.verify.sqlite`` — the store's verify with the nonce table on a SQLite file (each verify one
  INSERT transaction);
* then the records of :mod:`yibao.bench.care` (``care.followup.engine``: an online follow-up settled with
  commercial cover, the engine part) when ``visits`` is not zero.

Every throughput record carries the CPU seconds of this process and the 1-minute load average beside the
wall-clock figure: on a shared machine the wall clock moves with everyone else's work.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from yibao.voucher.core import (
    KeyRing,
    MemoryNonceStore,
    Revocations,
    VerifyKey,
    VoucherError,
    issue,
    verify,
)
from yibao.voucher.store import load_params, new_signing_key


def record(bench: str, metric: str, value: float, unit: str, **extra: Any) -> dict[str, Any]:
    return {"bench": bench, "metric": metric, "value": round(value, 3), "unit": unit, **extra}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def run(tokens: int = 50_000, db_tokens: int = 2_000, visits: int = 100_000) -> Iterator[dict[str, Any]]:
    """Yield the records described in the module docstring."""
    params = load_params()
    now = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)
    old1, old2, key = new_signing_key("k1"), new_signing_key("k2"), new_signing_key("k3")
    ring = KeyRing.of(
        [
            VerifyKey("k1", "Ed25519", old1.private.public_key(), "verify", int(now.timestamp()) - 60),
            VerifyKey("k2", "Ed25519", old2.private.public_key(), "verify", int(now.timestamp()) - 30),
            VerifyKey("k3", "Ed25519", key.private.public_key(), "signing"),
        ]
    )
    revoked = Revocations(frozenset(secrets.token_urlsafe(16) for _ in range(100)), {"P-REVOKED": 0})
    psns = [f"P{i:08d}" for i in range(1000)]

    t0 = time.perf_counter()
    batch = [
        issue(
            psn_no=psns[i % 1000],
            holder=psns[i % 1000],
            now=now,
            key=key,
            nonce=secrets.token_bytes(16),
            params=params,
        )
        for i in range(tokens)
    ]
    el = time.perf_counter() - t0
    yield record("voucher.issue", "throughput", tokens / el, "vouchers/s", tokens=tokens)

    store = MemoryNonceStore(prune_at=tokens * 2)
    at = now + dt.timedelta(seconds=5)
    t0, c0 = time.perf_counter(), time.process_time()
    for tok in batch:
        verify(tok, at, ring, store, params=params, revocations=revoked)
    el, cpu = time.perf_counter() - t0, time.process_time() - c0
    load = {"load_avg_1m": _load(), "cpu_s": round(cpu, 3), "wall_s": round(el, 3)}
    yield record("voucher.verify", "throughput", tokens / el, "vouchers/s", tokens=tokens, cores=1, **load)
    # per CPU-second: what one core does when it is not shared (the machine may be busy with others)
    yield record("voucher.verify", "throughput_cpu", tokens / cpu, "vouchers/cpu-s", tokens=tokens, **load)
    yield record("voucher.verify", "latency_mean", el / tokens * 1e6, "us")

    refused = 0
    t0 = time.perf_counter()
    for tok in batch:
        try:
            verify(tok, at, ring, store, params=params, revocations=revoked)
        except VoucherError:
            refused += 1
    el = time.perf_counter() - t0
    yield record("voucher.verify.replay", "throughput", tokens / el, "vouchers/s", refused=refused)

    yield from _sqlite(db_tokens, now)
    if visits:
        from yibao.bench.care import run as care_run

        yield from care_run(visits)


def _sqlite(n: int, now: dt.datetime) -> Iterator[dict[str, Any]]:
    import sqlalchemy as sa

    from yibao.db.migrate import upgrade
    from yibao.voucher.store import VoucherStore

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'voucher.db'}"
        upgrade(url, "voucher@head")
        engine = sa.create_engine(url)
        try:
            vs = VoucherStore(engine, load_params())
            vs.rotate(now - dt.timedelta(minutes=1))
            toks = [
                vs.issue(psn_no=f"P{i:06d}", holder=f"P{i:06d}", issued_by="bench", now=now).token
                for i in range(n)
            ]
            at = now + dt.timedelta(seconds=5)
            t0 = time.perf_counter()
            for tok in toks:
                vs.verify(tok, now=at, fixmedins_code="H61010000001")
            el = time.perf_counter() - t0
            yield record("voucher.verify.sqlite", "throughput", n / el, "vouchers/s", tokens=n)
        finally:
            engine.dispose()
