"""The synth → grouper → payment adapter: grouper output joined onto its cases as payment claims."""

from __future__ import annotations

import datetime as dt

import polars as pl

from yibao.demo.payment import claims_from_grouped


def test_grouped_cases_become_payment_claims() -> None:
    cases = pl.DataFrame(
        {
            "case_id": ["m1", "m2"],
            "discharge_date": ["2025-03-04", "2025-12-31"],
            "pdx": ["K358", "J189"],
            "procedures": ["4701|5459", ""],
            "fixmedins_code": ["H1", "H2"],
            "hosp_lv": ["3", "1"],
            "medfee_sumamt": [1_234_567, 89_000],
            "los_days": [6, 3],
            "age": [40, 70],
        }
    )
    grouped = pl.DataFrame(
        {
            "case_id": ["m2", "m1"],
            "mdc": ["E", "G"],
            "adrg": ["ES3", "GB1"],
            "drg": ["ES35", "GB13"],
            "severity": ["5", "3"],
            "trace": ["…", "…"],
        }
    )
    out = claims_from_grouped(cases, grouped, "2025-")
    assert out.to_dicts() == [
        {
            "case_id": "2025-m1",
            "fixmedins_code": "H1",
            "hosp_lv": "3",
            "drg": "GB13",
            "adrg": "GB1",
            "mdc": "G",
            "pdx": "K358",
            "main_procedure": "4701",
            "medfee_sumamt": 1_234_567,
            "los_days": 6,
            "discharge_date": dt.date(2025, 3, 4),
        },
        {
            "case_id": "2025-m2",
            "fixmedins_code": "H2",
            "hosp_lv": "1",
            "drg": "ES35",
            "adrg": "ES3",
            "mdc": "E",
            "pdx": "J189",
            "main_procedure": "",
            "medfee_sumamt": 89_000,
            "los_days": 3,
            "discharge_date": dt.date(2025, 12, 31),
        },
    ]
