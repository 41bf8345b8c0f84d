"""Building blocks shared by ``yibao demo`` and the portal's seeded test database: ledger person records
from a synthetic region, and the order in which demo logins are handed out."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence

import polars as pl

from yibao.ledger import PersonRecord


def person_records(people: pl.DataFrame, admdvs: str, year: int) -> list[PersonRecord]:
    """``persons.parquet`` rows → ledger person records (identities valid from 1 January of ``year``;
    the family link of 家庭共济 as the payer's ``psn_no``).  Names are placeholders built from the last
    four digits of the certificate number: synthetic people have no names."""
    psn_no = dict(zip(people["psn_id"].to_list(), people["psn_no"].to_list(), strict=True))
    jan1 = dt.date(year, 1, 1)
    return [
        PersonRecord(
            psn_no=r["psn_no"],
            name=f"参保人{r['certno'][-4:]}",
            certno=r["certno"],
            gender=r["gender"],
            birth_date=r["birth_date"],
            insutype=r["insutype"],
            psn_type=r["psn_type"],
            insuplc_admdvs=admdvs,
            account_balance=r["account_balance"],
            identities=[(c, jan1, None) for c in r["identities"].split("|") if c],
            family=[psn_no[r["family_payer_id"]]] if r["family_payer_id"] >= 0 else [],
        )
        for r in people.iter_rows(named=True)
    ]


def login_order(
    records: Sequence[PersonRecord], visits_per_person: Counter[str], prefer: frozenset[str] = frozenset()
) -> list[PersonRecord]:
    """Records reordered so that the first two (the ``insured`` login and the person it acts for, see
    :func:`yibao.demo.logins.seed_demo_users`) are the two persons with the most settled visits, taken
    first from ``prefer`` (e.g. persons with a hospital stay the fund paid for, so the portal has a
    telling explanation to show)."""
    ranked = sorted(visits_per_person, key=lambda p: (p not in prefer, -visits_per_person[p], p))[:2]
    if len(ranked) < 2:
        raise ValueError(
            "演示年度已结算的参保人少于两名，请结算更多就诊 the demo year has fewer than two persons with settled visits; settle more visits"
        )
    by_no = {r.psn_no: r for r in records}
    first, second = by_no[ranked[0]], by_no[ranked[1]]
    return [first, second, *[r for r in records if r.psn_no not in (first.psn_no, second.psn_no)]]
