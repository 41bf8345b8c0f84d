#!/usr/bin/env bash
# Smart audit: the settlement engine without / with the in-event hook, then the whole rule library and the
# anomaly models over a cached synthetic region of about LINES fee lines (audit.full elapsed + throughput).
# Usage: benchmarks/audit.sh [LINES]   (default 10000000)
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/yibao bench audit --lines "${1:-10000000}"
