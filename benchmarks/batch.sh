#!/usr/bin/env bash
# Synthetic-year generation and batch settlement throughput / peak memory (JSON lines).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/yibao bench batch --persons "${1:-400000}"
