#!/usr/bin/env bash
# Smart audit: the settlement engine without / with the in-event hook, then the whole rule library and the
# anomaly models over a cached synthetic region of about LINES fee lines (audit.full elapsed + throughput).
# Usage: benchmarks/audit.sh [LINES]   (default 10000000)
# Polars' allocator (jemalloc) keeps the pages it frees for reuse instead of handing them back to the
# kernel and faulting them in again: on 10.3M lines the default cost 19 s of system time (5.1M page
# faults) of 71 CPU s.  A batch process that ends after the audit loses nothing by it; see docs/AUDIT_EVALUATION.md.
export _RJEM_MALLOC_CONF="${_RJEM_MALLOC_CONF:-dirty_decay_ms:-1,muzzy_decay_ms:-1}"
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/yibao bench audit --lines "${1:-10000000}"
