#!/usr/bin/env bash
# Settlement engine and ledger throughput (JSON lines). PostgreSQL must be running locally.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/yibao bench settle "$@"
