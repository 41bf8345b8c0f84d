#!/usr/bin/env bash
# DRG grouping throughput (JSON lines: drg.group throughput in cases/s) for every shipped scheme.
# Usage: benchmarks/drg.sh [CASES] [WORKERS]   (defaults 1000000 cases, 2 workers)
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -c 'from yibao.drg.bench import bench_drg_cmd; import typer; typer.run(bench_drg_cmd)' \
  --cases "${1:-1000000}" --workers "${2:-2}" --all-schemes
