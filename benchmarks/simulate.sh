#!/usr/bin/env bash
# A two-policy what-if on a generated year: prints wall seconds and peak RSS as JSON lines.
set -euo pipefail
cd "$(dirname "$0")/.."
persons="${1:-1000000}"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
.venv/bin/yibao synth generate --persons "$persons" --seed 5 --out "$dir/year" >/dev/null

/usr/bin/env python3 - "$dir" <<'PY'
import json, resource, subprocess, sys, time
d = sys.argv[1]
t0 = time.perf_counter()
subprocess.run([".venv/bin/yibao", "simulate", "--baseline", "xian", "--candidate", "xian-lower-deductible",
                "--visits", f"{d}/year", "--out", f"{d}/r.html", "--json", f"{d}/r.json"], check=True,
               stdout=subprocess.DEVNULL)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({"bench": "simulate.two_policy", "metric": "wall", "value": round(wall, 2), "unit": "s"}))
print(json.dumps({"bench": "simulate.two_policy", "metric": "peak_memory", "value": round(peak, 1), "unit": "MB"}))
PY
