"""The batch path (chunks in forked workers) gives exactly the per-case result, row for row."""

from __future__ import annotations

import polars as pl
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from yibao.drg import Case, group_case, group_frame, load_scheme
from yibao.drg.cases import random_cases
from yibao.drg.formula import split_codes
from yibao.drg.frame import PARALLEL_MIN


def per_case(scheme_id: str, df: pl.DataFrame) -> list[tuple[str, str, str, str, str]]:
    """Every row of ``df`` grouped on its own by :func:`group_case` (code lists split as the CLI input
    contract splits them; the optional columns when ``df`` has them)."""
    cs = load_scheme(scheme_id)
    out = []
    for r in df.iter_rows(named=True):
        g = group_case(
            cs,
            Case(
                r["case_id"],
                int(r["age"]),
                r["sex"],
                r["discharge_status"],
                r["pdx"],
                split_codes(r["sdx"]),
                split_codes(r["sdx_poa"]),
                split_codes(r["procedures"]),
                r.get("age_days"),
                r.get("weight_g"),
                r.get("los_days"),
            ),
        )
        out.append((g.mdc, g.adrg, g.drg, g.severity, g.trace))
    return out


def test_parallel_batch_equals_per_case_on_a_large_seeded_batch() -> None:
    df = random_cases(load_scheme("chs-drg-demo"), PARALLEL_MIN + 1_234, seed=5)
    out = group_frame(load_scheme("chs-drg-demo"), df, workers=2)
    assert out["case_id"].to_list() == df["case_id"].to_list()
    assert list(out.select("mdc", "adrg", "drg", "severity", "trace").iter_rows()) == per_case(
        "chs-drg-demo", df
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 300))
def test_batch_equals_per_case_for_any_seed(seed: int, n: int) -> None:
    df = random_cases(load_scheme("chs-drg-demo"), n, seed=seed)
    out = group_frame(load_scheme("chs-drg-demo"), df, workers=1)
    assert list(out.select("mdc", "adrg", "drg", "severity", "trace").iter_rows()) == per_case(
        "chs-drg-demo", df
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_every_result_is_a_drg_of_the_scheme_and_the_trace_ends_with_it(seed: int) -> None:
    cs = load_scheme("chs-drg-demo")
    df = random_cases(cs, 200, seed=seed)
    out = group_frame(cs, df, workers=1)
    known = {d for a in cs.scheme.adrgs for d in a.drg.values()} | {cs.scheme.ungroupable.drg}
    for mdc, drg, trace in out.select("mdc", "drg", "trace").iter_rows():
        assert drg in known or drg == f"{mdc}QY"
        assert trace.endswith(f"DRG={drg}")


# no shrinking: a failing seed is reported as it is (shrinking a whole suite takes minutes)
@settings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(seed=st.integers(0, 10_000))
def test_msdrg_batch_equals_per_case_on_conformance_cases(seed: int) -> None:
    """The formula program's fast path and general path agree with each other, and the batch with the
    per-case function, on every kind of case of the conformance suite (both mixes)."""
    from yibao.drg.conformance import HOLDOUT, TUNING, build_suite

    cs = load_scheme("ms-drg-v43")
    df = build_suite(cs, 400, seed=seed, mix=TUNING if seed % 2 else HOLDOUT).with_columns(
        pl.lit(None, dtype=pl.Int64).alias("age_days"),
        pl.lit(None, dtype=pl.Int64).alias("weight_g"),
        pl.lit(None, dtype=pl.Int64).alias("los_days"),
    )
    out = group_frame(cs, df, workers=1)
    assert list(out.select("mdc", "adrg", "drg", "severity", "trace").iter_rows()) == per_case(
        "ms-drg-v43", df
    )


@settings(max_examples=6, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(seed=st.integers(0, 10_000))
def test_msdrg_fast_path_equals_general_path(seed: int) -> None:
    from yibao.drg.conformance import HOLDOUT, TUNING, build_suite

    cs = load_scheme("ms-drg-v43")
    prog = cs.program
    assert prog is not None
    df = build_suite(cs, 500, seed=seed, mix=HOLDOUT if seed % 2 else TUNING)

    for r in df.iter_rows(named=True):
        args = (
            r["pdx"],
            split_codes(r["sdx"]),
            split_codes(r["sdx_poa"]),
            split_codes(r["procedures"]),
            r["sex"],
            r["discharge_status"],
        )
        assert prog.group(*args) == prog.group_general(*args), r


@settings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(seed=st.integers(0, 10_000))
def test_msdrg_without_the_trace_equals_with_it(seed: int) -> None:
    """The lean path without the trace (shared results, level read from the marks' level bits) gives
    the same MDC, family, DRG and severity as the traced grouping, case for case, on both mixes."""
    from yibao.drg.conformance import HOLDOUT, TUNING, build_suite

    cs = load_scheme("ms-drg-v43")
    df = build_suite(cs, 500, seed=seed, mix=HOLDOUT if seed % 2 else TUNING)
    cols = ["case_id", "mdc", "adrg", "drg", "severity"]
    lean = group_frame(cs, df, workers=1, trace=False)
    traced = group_frame(cs, df, workers=1)
    assert lean.columns == cols
    assert lean.rows() == traced.select(cols).rows()
    assert traced["drg"].n_unique() > 20  # the suite spans many DRGs, not one path


def _perturb(df: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Conformance cases with the inputs the batch must split and look up as the per-case path does:
    blanks around codes, a secondary diagnosis listed twice, no POA list, empty lists, a code that is
    not ASCII, an unknown or missing principal diagnosis."""
    import random

    rnd = random.Random(seed)
    rows = df.to_dicts()
    for r in rows:
        k = rnd.randrange(9)
        sdx = r["sdx"].split("|") if r["sdx"] else []
        if k == 0 and sdx:
            r["sdx"] = " | ".join(sdx)
        elif k == 1 and sdx:
            r["sdx"] = "|".join([*sdx, sdx[0]])
            r["sdx_poa"] = "|".join([*r["sdx_poa"].split("|"), "N"]) if r["sdx_poa"] else ""
        elif k == 2:
            r["sdx_poa"] = ""
        elif k == 3:
            r["sdx"], r["sdx_poa"], r["procedures"] = "", "", ""
        elif k == 4:
            r["procedures"] = "|".join([*(r["procedures"].split("|") if r["procedures"] else []), "Ä12"])
        elif k == 5:
            r["pdx"] = rnd.choice(["", "ZZZ99", "ÄÖ1"])
        elif k == 6 and r["procedures"]:
            r["procedures"] = r["procedures"].replace("|", " |")
    return pl.DataFrame(rows, schema=df.schema)


@settings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(seed=st.integers(0, 10_000))
def test_msdrg_batch_equals_per_case_on_awkward_inputs(seed: int) -> None:
    """The batch lean path (with and without the trace) against the per-case function on cases whose
    code lists have blanks, repeats, no POA, nothing at all or codes that are not ASCII."""
    from yibao.drg.conformance import HOLDOUT, TUNING, build_suite

    cs = load_scheme("ms-drg-v43")
    base = build_suite(cs, 300, seed=seed, mix=TUNING if seed % 2 else HOLDOUT).with_columns(
        pl.lit(None, dtype=pl.Int64).alias("age_days"),
        pl.lit(None, dtype=pl.Int64).alias("weight_g"),
        pl.lit(None, dtype=pl.Int64).alias("los_days"),
    )
    df = _perturb(base, seed)
    want = per_case("ms-drg-v43", df)
    traced = group_frame(cs, df, workers=1)
    lean = group_frame(cs, df, workers=1, trace=False)
    assert list(traced.select("mdc", "adrg", "drg", "severity", "trace").iter_rows()) == want
    assert list(lean.select("mdc", "adrg", "drg", "severity").iter_rows()) == [w[:4] for w in want]
    assert sum(1 for w in want if w[2] == cs.scheme.ungroupable.drg) < len(want) // 2  # not one path
