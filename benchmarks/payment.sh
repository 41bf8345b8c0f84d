#!/usr/bin/env bash
# DRG and DIP payment of a generated region: CASES discharges a year over four years (payment.drg / payment.dip).
# Usage: benchmarks/payment.sh [CASES]   (default 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/yibao bench payment --cases "${1:-1000000}"
