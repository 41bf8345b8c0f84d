#!/usr/bin/env bash
# 2207 settlements through HTTP on PostgreSQL: uvicorn workers + a separate load process on loopback.
# Prints JSON lines (api.settle.8 throughput / p99). PostgreSQL must be running locally.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -c 'from yibao.bench.api import bench_api_cmd; import typer; typer.run(bench_api_cmd)' "$@"
