#!/usr/bin/env bash
# Side-by-side benchmark of two checkouts of yibao in ONE run, interleaved A B A B … so that the load
# of a shared machine falls on both alike.  Prints the JSON lines of every bench, each tagged with the
# checkout ("tree") and the round.  Asserts nothing.
#   benchmarks/compare.sh BEFORE_DIR AFTER_DIR [ROUNDS]
# Both checkouts run with the same virtualenv (VENV, default .venv of this checkout); each is put first
# on PYTHONPATH so that its own src/ is imported.
set -euo pipefail
before="$(cd "$1" && pwd)"; after="$(cd "$2" && pwd)"; rounds="${3:-2}"
venv="${VENV:-$(cd "$(dirname "$0")/.." && pwd)/.venv}"
run() {  # tree round bench args...
  local dir="$1" round="$2"; shift 2
  PYTHONPATH="$dir/src" "$venv/bin/yibao" bench "$@" 2>/dev/null \
    | "$venv/bin/python" -c '
import json, sys
tree, rnd = sys.argv[1], int(sys.argv[2])
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        row = json.loads(line); row["tree"] = tree; row["round"] = rnd
        print(json.dumps(row, ensure_ascii=False), flush=True)
' "$(basename "$dir")" "$round"
}
for ((r = 1; r <= rounds; r++)); do
  for dir in "$before" "$after"; do
    run "$dir" "$r" settle --visits "${SETTLE_VISITS:-30000}" --db-visits "${DB_VISITS:-2000}"
    run "$dir" "$r" batch --persons "${BATCH_PERSONS:-100000}"
    run "$dir" "$r" drg --cases "${DRG_CASES:-200000}" --workers 1
    run "$dir" "$r" audit --lines "${AUDIT_LINES:-2000000}" --settle-visits "${AUDIT_VISITS:-20000}"
  done
done
