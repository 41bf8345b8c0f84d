"""The demo's national reconciliations (3201 总账对账, 3202 明细对账) of the synthetic year, kept where the
national interface keeps them (``enc_reconciliation``) so that the assessment computes each institution's
reconciliation break rate from them.

The demo settles its synthetic year straight through the ledger today, so a settlement's ledger time is not
its visit's date: the periods here are the quarters of the visits' end dates, and both sides come from the
ledger's active settlements of the year (what ``settled`` holds).  The hospital side is the ledger's
figures, except where a hospital's own books are made to differ on purpose: the first institution leaves
one settlement out of a quarter (a 3201 break, its 3202 detail naming the settlement, then a corrected 3201
that agrees — the period still counts as a break, by its first answer), the second declares one yuan less
of fund payment in one quarter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import polars as pl
import sqlalchemy as sa

from yibao.encounter.core import Figures, Reconciliation, clr_type
from yibao.encounter.store import EncounterStore


@dataclass(frozen=True)
class DemoReconciliations:
    kept: int  # outcomes stored (3201 and 3202)
    breaks: int  # of them, not agreed
    institutions: tuple[str, ...]  # institutions that reconciled
    with_break: tuple[str, ...]  # institutions with at least one break


def _figures(rows: pl.DataFrame) -> Figures:
    return Figures(
        int(rows["medfee_sumamt"].sum()),
        int(rows["fund_pay_sumamt"].sum()),
        int(rows["acct_pay"].sum()),
        rows.height,
    )


def demo_reconciliations(
    engine: sa.Engine, settled: pl.DataFrame, codes: Sequence[str], year: int, optins: str
) -> DemoReconciliations:
    """3201 per institution × 险种 × 清算类别 × quarter for ``codes`` (in order), with the two differing
    hospitals described in the module; returns what was kept."""
    store = EncounterStore(engine)
    s = settled.filter(pl.col("fixmedins_code").is_in(list(codes))).with_columns(
        pl.col("med_type").map_elements(clr_type, return_dtype=pl.String).alias("_clr"),
        ((pl.col("end_date").dt.month() - 1) // 3 + 1).alias("_q"),
    )
    quarters = {1: ("01-01", "03-31"), 2: ("04-01", "06-30"), 3: ("07-01", "09-30"), 4: ("10-01", "12-31")}
    kept = breaks = 0
    seen: list[str] = []
    broke: list[str] = []
    for k, code in enumerate(codes):
        mine = s.filter(pl.col("fixmedins_code") == code)
        if not mine.height:
            continue
        seen.append(code)
        groups = mine.partition_by("insutype", "_clr", "_q", as_dict=True, maintain_order=True)
        first = True
        for key in sorted(groups, key=lambda t: (str(t[0]), str(t[1]), int(str(t[2])))):
            insutype, clr, q = str(key[0]), str(key[1]), int(str(key[2]))
            rows = groups[key].sort("setl_id")
            b, e = quarters[q]
            ledger = _figures(rows)
            msg = f"DEMO{code}{q}{insutype}{clr}"

            agreed = Reconciliation(
                "3201", msg + "A", code, f"{year}-{b}", f"{year}-{e}", insutype, clr, optins, ledger, ledger
            )
            out: list[Reconciliation] = []
            if k == 0 and first and rows.height > 1:  # one settlement missing from the hospital's books
                hosp = _figures(rows.head(rows.height - 1))
                out.append(replace(agreed, hospital=hosp))
                out.append(
                    replace(
                        agreed,
                        infno="3202",
                        msgid=msg + "D",
                        insutype="",
                        hospital=hosp,
                        rows_checked=rows.height,
                        unmatched=(str(rows["setl_id"][-1]),),
                    )
                )
                out.append(replace(agreed, msgid=msg + "B"))  # corrected: agrees, the period stays a break
                first = False
            elif k == 1 and first:  # one yuan less of fund payment declared
                out.append(
                    replace(agreed, hospital=replace(ledger, fund_pay_sumamt=ledger.fund_pay_sumamt - 100))
                )
                first = False
            else:
                out.append(agreed)
            for r in out:
                store.add_reconciliation(r)
                kept += 1
                if not r.agreed:
                    breaks += 1
                    if code not in broke:
                        broke.append(code)
    return DemoReconciliations(kept, breaks, tuple(seen), tuple(broke))
