#!/usr/bin/env bash
# Synthetic-year generation and batch settlement throughput / CPU / peak memory (JSON lines).
#   benchmarks/batch.sh [PERSONS]            generate PERSONS (400k ≈ 10M lines) and settle once
#   benchmarks/batch.sh --data DIR --repeat 3 [--compare OTHER/src]   settle a year already generated
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -gt 0 && $1 != -* ]]; then set -- --persons "$1" "${@:2}"; fi
exec .venv/bin/yibao bench batch "$@"
