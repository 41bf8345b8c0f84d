"""The labelled fraud scenarios, as injectors for the synth hook (``yibao.synth.inject``).

Each injector takes one chunk (persons, visits, lines as Arrow tables), changes or adds rows in the
shape the fraud has in real claims, writes its name into ``scenario`` on every visit and line it
touches and nothing else a detector could read as a marker, and hands the chunk to
:func:`~yibao.audit.scenarios.base.finish` to restore the schema invariants.  Rates and ranges are
in ``params.yaml``.  Provider-level habits (upcoding, phantom billing) pick their providers on the
first chunk of a run and keep them for the rest of it, so a fraudulent provider is fraudulent all
year, as in reality.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa  # type: ignore[import-untyped]

from yibao.audit.scenarios.base import (
    NEW_SN,
    catalogue,
    finish,
    frames,
    label_visits,
    new_ids,
    params,
    persons_frame,
    year_bounds,
)
from yibao.money import QTY_ONE

PER_DAY_PREFIXES = ("001109", "001201")  # bed (床位费) and nursing (护理费) items, charged per day


def _cfg(name: str) -> dict[str, Any]:
    cfg = params()[name]
    assert isinstance(cfg, dict)
    return cfg


def _stochastic_round(rng: np.random.Generator, x: float) -> int:
    base = int(np.floor(x))
    return base + int(rng.random() < x - base)


def _first_id(v: pl.DataFrame) -> int:
    lo = v["visit_id"].min()
    return int(lo) if isinstance(lo, int) else 0


@dataclass
class _ProviderHabit:
    """Which providers have a habit: drawn on a run's first chunk (visit ids start at 0), then kept."""

    chosen: set[str] = field(default_factory=set)

    def providers(self, rng: np.random.Generator, v: pl.DataFrame, share: float) -> set[str]:
        if _first_id(v) == 0:
            codes = sorted(
                set(v.filter(pl.col("fixmedins_code").str.starts_with("H"))["fixmedins_code"].to_list())
            )
            n = max(1, round(share * len(codes))) if codes else 0
            self.chosen = set(rng.choice(np.array(codes), size=n, replace=False).tolist()) if n else set()
        return self.chosen


def _append_lines(ln: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    new = new.with_columns(
        (pl.int_range(0, pl.len(), dtype=pl.Int32) + NEW_SN).alias("feedetl_sn"),
        pl.lit(0, pl.Int64).alias("amount"),
    )
    if "prd_days" not in new.columns:  # an added item states no prescription days
        new = new.with_columns(pl.lit(None, pl.Int16).alias("prd_days"))
    if "fee_ocur_time" not in new.columns:  # dated on its visit's first day by finish()
        new = new.with_columns(pl.lit(None, pl.Date).alias("fee_ocur_time"))
    return pl.concat([ln, new.select(ln.columns).cast(ln.schema)])


class _Configured:
    name: str
    cfg: dict[str, Any] | None

    def config(self) -> dict[str, Any]:
        """The scenario's parameters: its ``params.yaml`` section, with ``cfg`` overriding."""
        return {**_cfg(self.name), **(self.cfg or {})}


@dataclass(frozen=True)
class SexAgeImpossible(_Configured):
    """An item the catalogue restricts by sex or age billed to a patient it cannot apply to."""

    name: str = "sex_age_impossible"
    cfg: dict[str, Any] | None = None  # overrides of the params.yaml section (tests, what-ifs)

    def __call__(
        self, rng: np.random.Generator, persons: pa.Table, visits: pa.Table, lines: pa.Table
    ) -> tuple[pa.Table, pa.Table]:
        v, ln = frames(visits, lines)
        cand = v.filter(pl.col("med_type").is_in(["11", "21"])).select("visit_id", "psn_id")
        pick = cand.filter(pl.Series(rng.random(cand.height) < self.config()["rate"]))
        if pick.height == 0:
            return visits, lines
        p = persons_frame(persons).select("psn_id", "gender", "age")
        cat = catalogue().filter(
            pl.col("sex").is_not_null() | pl.col("min_age").is_not_null() | pl.col("max_age").is_not_null()
        )
        pairs = (
            pick.join(p, on="psn_id")
            .join(cat, how="cross")
            .filter(
                (pl.col("sex").is_not_null() & (pl.col("sex") != pl.col("gender")))
                | (pl.col("min_age").is_not_null() & (pl.col("age") < pl.col("min_age")))
                | (pl.col("max_age").is_not_null() & (pl.col("age") > pl.col("max_age")))
            )
        )
        if pairs.height == 0:
            return visits, lines
        pairs = pairs.with_columns(pl.Series("u", rng.random(pairs.height))).sort("visit_id", "u")
        new = pairs.unique("visit_id", keep="first", maintain_order=True).select(
            "visit_id",
            "code",
            pl.lit(QTY_ONE, pl.Int64).alias("qty"),
            pl.col("unit_price").alias("price"),
            pl.lit(self.name).alias("scenario"),
        )
        ln = _append_lines(ln, new)
        v = label_visits(v, new["visit_id"], self.name)
        return finish(v, ln, _first_id(v))


@dataclass(frozen=True)
class Upcoding(_Configured):
    """高套收费: at a quarter of the providers, part of the visits bill a dearer variant of the same item
    (consultation grade, nursing grade, ward type) than the one given."""

    name: str = "upcoding"
    cfg: dict[str, Any] | None = None  # overrides of the params.yaml section (tests, what-ifs)
    habit: _ProviderHabit = field(default_factory=_ProviderHabit)

    def __call__(
        self, rng: np.random.Generator, persons: pa.Table, visits: pa.Table, lines: pa.Table
    ) -> tuple[pa.Table, pa.Table]:
        cfg = self.config()
        v, ln = frames(visits, lines)
        providers = self.habit.providers(rng, v, float(cfg["provider_share"]))
        steps: dict[str, list[str]] = {}
        for fam in cfg["families"]:
            for i, code in enumerate(fam[:-1]):
                steps[code] = fam[i + 1 :]
        prices = dict(catalogue().select("code", "unit_price").iter_rows())
        at = v.filter(pl.col("fixmedins_code").is_in(sorted(providers))).select("visit_id")
        elig = (
            ln.join(at, on="visit_id").filter(pl.col("code").is_in(sorted(steps)))["visit_id"].unique().sort()
        )
        chosen = elig.filter(pl.Series(rng.random(elig.len()) < float(cfg["visit_share"])))
        if chosen.len() == 0:
            return visits, lines
        hit = pl.col("visit_id").is_in(chosen.implode()) & pl.col("code").is_in(sorted(steps))
        rows = ln.with_row_index("_r").filter(hit)
        up_codes = []
        for code in rows["code"].to_list():
            options = steps[code]
            up_codes.append(options[min(len(options) - 1, int(rng.integers(0, 2)))])
        up = rows.select("_r").with_columns(
            pl.Series("_code", up_codes), pl.Series("_price", [prices[c] for c in up_codes], pl.Int64)
        )
        ln = (
            ln.with_row_index("_r")
            .join(up, on="_r", how="left")
            .with_columns(
                pl.coalesce("_code", "code").alias("code"),
                pl.coalesce("_price", "price").alias("price"),
                pl.when(pl.col("_code").is_not_null())
                .then(pl.lit(self.name))
                .otherwise(pl.col("scenario"))
                .alias("scenario"),
            )
            .drop("_r", "_code", "_price")
        )
        v = label_visits(v, chosen, self.name)
        return finish(v, ln, _first_id(v))


@dataclass(frozen=True)
class SplitAdmission(_Configured):
    """分解住院: one admission billed as two, the second starting a few days after the first ends,
    same hospital and diagnosis; per-day items are split by days, other lines spread between the two."""

    name: str = "split_admission"
    cfg: dict[str, Any] | None = None  # overrides of the params.yaml section (tests, what-ifs)

    def __call__(
        self, rng: np.random.Generator, persons: pa.Table, visits: pa.Table, lines: pa.Table
    ) -> tuple[pa.Table, pa.Table]:
        cfg = self.config()
        v, ln = frames(visits, lines)
        _, year_end = year_bounds(v)
        cand = v.filter(
            (pl.col("med_type") == "21")
            & ~pl.col("emergency")
            & (pl.col("los_days") >= 4)
            & (pl.col("end_date") <= year_end - dt.timedelta(days=int(cfg["max_gap_days"])))
        )
        pick = cand.filter(pl.Series(rng.random(cand.height) < float(cfg["rate"])))
        if pick.height == 0:
            return visits, lines
        los = pick["los_days"].to_numpy().astype(np.int64)
        first_days = np.array([int(rng.integers(max(1, x // 3), x - x // 3 + 1)) for x in los])
        first_days = np.clip(first_days, 1, los - 1)
        gap = rng.integers(1, int(cfg["max_gap_days"]) + 1, pick.height)
        new_id = new_ids(v, pick.height)
        plan = pick.select("visit_id").with_columns(
            pl.Series("k", first_days),
            pl.Series("los", los),
            pl.Series("gap", gap),
            pl.Series("new_id", new_id, pl.Int64),
        )
        second = (
            pick.join(plan, on="visit_id")
            .with_columns(
                (pl.col("begin_date") + pl.duration(days=pl.col("k") + pl.col("gap"))).alias("begin_date"),
                (pl.col("end_date") + pl.duration(days=pl.col("gap"))).alias("end_date"),
                (pl.col("los") - pl.col("k")).cast(pl.Int16).alias("los_days"),
                pl.col("new_id").alias("visit_id"),
            )
            .select(v.columns)
        )
        v = (
            v.join(plan.select("visit_id", "k"), on="visit_id", how="left")
            .with_columns(
                pl.when(pl.col("k").is_not_null())
                .then(pl.col("begin_date") + pl.duration(days=pl.col("k")))
                .otherwise(pl.col("end_date"))
                .alias("end_date"),
                pl.coalesce(pl.col("k").cast(pl.Int16), pl.col("los_days")).alias("los_days"),
                pl.when(pl.col("k").is_not_null())
                .then(pl.lit("1"))
                .otherwise(pl.col("discharge_status"))
                .alias("discharge_status"),
            )
            .drop("k")
        )
        v = pl.concat([v, second.cast(v.schema)])
        # lines: per-unit counts split by days (whole units), single-unit lines go to one part or the other
        mine = ln.join(plan, on="visit_id")
        units = mine["qty"].to_numpy() // QTY_ONE
        share = mine["k"].to_numpy() / mine["los"].to_numpy()
        q1_units = np.clip(np.rint(units * share), 1, np.maximum(units - 1, 1)).astype(np.int64)
        multi = units >= 2
        to_second = ~multi & (rng.random(mine.height) >= share)
        q1 = np.where(multi, q1_units * QTY_ONE, mine["qty"].to_numpy())
        q2 = np.where(multi, mine["qty"].to_numpy() - q1_units * QTY_ONE, mine["qty"].to_numpy())
        mine = mine.with_columns(
            pl.Series("_q1", q1),
            pl.Series("_q2", q2),
            pl.Series("_to2", to_second),
            pl.Series("_multi", multi),
        )
        part1 = mine.filter(pl.col("_multi") | ~pl.col("_to2")).with_columns(pl.col("_q1").alias("qty"))
        part2 = mine.filter(pl.col("_multi") | pl.col("_to2")).with_columns(
            pl.col("_q2").alias("qty"), pl.col("new_id").alias("visit_id")
        )
        labelled = pl.lit(self.name).alias("scenario")
        ln = pl.concat(
            [
                ln.join(plan.select("visit_id"), on="visit_id", how="anti"),
                part1.with_columns(labelled).select(ln.columns),
                part2.with_columns(labelled).select(ln.columns),
            ]
        )
        v = label_visits(v, plan["visit_id"].to_list() + new_id, self.name)
        return finish(v, ln, _first_id(v))


@dataclass(frozen=True)
class BedHanging(_Configured):
    """挂床住院: an admission stretched by days on which only bed and nursing are charged."""

    name: str = "bed_hanging"
    cfg: dict[str, Any] | None = None  # overrides of the params.yaml section (tests, what-ifs)

    def __call__(
        self, rng: np.random.Generator, persons: pa.Table, visits: pa.Table, lines: pa.Table
    ) -> tuple[pa.Table, pa.Table]:
        cfg = self.config()
        lo, hi = cfg["extra_days"]
        v, ln = frames(visits, lines)
        _, year_end = year_bounds(v)
        per_day = pl.col("code").str.starts_with(PER_DAY_PREFIXES[0]) | pl.col("code").str.starts_with(
            PER_DAY_PREFIXES[1]
        )
        with_bed = ln.filter(pl.col("code").str.starts_with(PER_DAY_PREFIXES[0]))["visit_id"].unique()
        cand = v.filter(
            (pl.col("med_type") == "21")
            & pl.col("visit_id").is_in(with_bed.implode())
            & (pl.col("end_date") <= year_end - dt.timedelta(days=int(hi)))
        )
        pick = cand.filter(pl.Series(rng.random(cand.height) < float(cfg["rate"])))
        if pick.height == 0:
            return visits, lines
        plan = pick.select("visit_id").with_columns(
            pl.Series("d", rng.integers(int(lo), int(hi) + 1, pick.height))
        )
        v = (
            v.join(plan, on="visit_id", how="left")
            .with_columns(
                (pl.col("end_date") + pl.duration(days=pl.col("d").fill_null(0))).alias("end_date"),
                (pl.col("los_days") + pl.col("d").fill_null(0)).cast(pl.Int16).alias("los_days"),
            )
            .drop("d")
        )
        # the empty days bill what the stay bills every day: one line a day of each bed and nursing item
        # (the item's last line of the stay, repeated on each added day after the old discharge day)
        ends = pick.select("visit_id", pl.col("end_date").alias("_end")).join(plan, on="visit_id")
        last = (
            ln.join(ends, on="visit_id")
            .filter(per_day)
            .sort("visit_id", "code", "fee_ocur_time", "feedetl_sn")
            .group_by("visit_id", "code", maintain_order=True)
            .last()
        )
        added = (
            last.with_columns(pl.int_ranges(1, pl.col("d") + 1).alias("_k"))
            .explode("_k")
            .with_columns(
                (pl.col("_end") + pl.duration(days=pl.col("_k"))).alias("fee_ocur_time"),
                pl.lit(QTY_ONE, pl.Int64).alias("qty"),
                pl.lit(self.name).alias("scenario"),
            )
            .drop("_end", "d", "_k", "feedetl_sn", "amount")
        )
        ln = _append_lines(ln, added)
        v = label_visits(v, plan["visit_id"], self.name)
        return finish(v, ln, _first_id(v))


@dataclass(frozen=True)
class OverPrescription(_Configured):
    """超量开药: one drug line of a pharmacy / chronic / outpatient visit with several times the supply.
    On a share ``rewrite_days`` of them the prescription's stated days (``prd_days``) are multiplied too,
    so the line is self-consistent; on the rest only the quantity is inflated."""

    name: str = "over_prescription"
    cfg: dict[str, Any] | None = None  # overrides of the params.yaml section (tests, what-ifs)

    def __call__(
        self, rng: np.random.Generator, persons: pa.Table, visits: pa.Table, lines: pa.Table
    ) -> tuple[pa.Table, pa.Table]:
        cfg = self.config()
        lo, hi = cfg["factor"]
        v, ln = frames(visits, lines)
        outp = v.filter(pl.col("med_type").is_in(["11", "14", "41"])).select("visit_id")
        drug = (
            ln.join(outp, on="visit_id")
            .filter(pl.col("code").str.contains("^[XZ]"))
            .group_by("visit_id")
            .agg(pl.col("feedetl_sn").min())
            .sort("visit_id")
        )
        pick = drug.filter(pl.Series(rng.random(drug.height) < float(cfg["rate"])))
        if pick.height == 0:
            return visits, lines
        pick = pick.with_columns(
            pl.Series("_f", rng.integers(int(lo), int(hi) + 1, pick.height)),
            pl.Series("_d", rng.random(pick.height) < float(cfg["rewrite_days"])),
        )
        ln = (
            ln.join(pick, on=["visit_id", "feedetl_sn"], how="left")
            .with_columns(
                (pl.col("qty") * pl.col("_f").fill_null(1)).alias("qty"),
                pl.when(pl.col("_d").fill_null(False))
                .then((pl.col("prd_days").cast(pl.Int64) * pl.col("_f")).clip(upper_bound=32_767))
                .otherwise(pl.col("prd_days"))
                .cast(pl.Int16)
                .alias("prd_days"),
                pl.when(pl.col("_f").is_not_null())
                .then(pl.lit(self.name))
                .otherwise(pl.col("scenario"))
                .alias("scenario"),
            )
            .drop("_f", "_d")
        )
        v = label_visits(v, pick["visit_id"], self.name)
        return finish(v, ln, _first_id(v))


def _clone_visits(
    rng: np.random.Generator,
    v: pl.DataFrame,
    ln: pl.DataFrame,
    templates: pl.DataFrame,
    psn: np.ndarray,
    dates: list[dt.date],
    qty_factor: np.ndarray | None,
    name: str,
    use_account: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """New visits copying ``templates`` row by row (same length as ``psn``/``dates``), with their lines;
    paid from the patient's own account when ``use_account``."""
    ids = new_ids(v, templates.height)
    newv = templates.with_columns(
        pl.Series("_src", templates["visit_id"]),
        pl.Series("visit_id", ids, pl.Int64),
        pl.Series("psn_id", psn, pl.Int64),
        pl.Series("begin_date", dates, pl.Date),
        pl.Series("end_date", dates, pl.Date),
        pl.lit(use_account).alias("use_account"),
        pl.lit(-1, pl.Int64).alias("account_payer_id"),
        pl.lit(name).alias("scenario"),
    )
    src = newv.select("_src", pl.col("visit_id").alias("_new"))
    if qty_factor is not None:
        src = src.with_columns(pl.Series("_f", qty_factor, pl.Int64))
    newl = ln.join(src, left_on="visit_id", right_on="_src")
    if qty_factor is not None:
        newl = newl.with_columns((pl.col("qty") * pl.col("_f")).alias("qty"))
    newl = newl.with_columns(pl.col("_new").alias("visit_id"), pl.lit(name).alias("scenario")).select(
        ln.columns
    )
    return (pl.concat([v, newv.select(v.columns).cast(v.schema)]), pl.concat([ln, newl.cast(ln.schema)]))


def _adults(persons: pa.Table, with_account: bool = False) -> np.ndarray:
    p = persons_frame(persons).filter((pl.col("age") >= 18) & (pl.col("age") <= 80))
    if with_account:  # resale is paid from personal accounts: the ring recruits employees and retirees
        p = p.filter(pl.col("account_balance") > 0)
    return p["psn_id"].to_numpy()


@dataclass(frozen=True)
class DrugResale(_Configured):
    """倒卖药品: rings of people buying the same dear drug at one or two pharmacies every week or so."""

    name: str = "drug_resale"
    cfg: dict[str, Any] | None = None  # overrides of the params.yaml section (tests, what-ifs)

    def __call__(
        self, rng: np.random.Generator, persons: pa.Table, visits: pa.Table, lines: pa.Table
    ) -> tuple[pa.Table, pa.Table]:
        cfg = self.config()
        v, ln = frames(visits, lines)
        n_rings = _stochastic_round(rng, float(cfg["rings_per_100k"]) * persons.num_rows / 100_000)
        rx = v.filter(pl.col("med_type") == "41").select("visit_id", "fixmedins_code")
        dear = ln.join(rx, on="visit_id").filter(
            pl.col("code").str.contains("^[XZ]") & (pl.col("price") >= int(cfg["min_unit_price_fen"]))
        )
        adults = _adults(persons, with_account=True)
        if n_rings == 0 or dear.height == 0 or adults.size == 0:
            return visits, lines
        year_start, year_end = year_bounds(v)
        for _ in range(n_rings):
            line = dear.row(int(rng.integers(0, dear.height)), named=True)
            code = line["code"]
            pharmacies = dear["fixmedins_code"].unique().sort().to_numpy()
            shops = rng.choice(pharmacies, size=min(2, pharmacies.size), replace=False)
            src_ids = dear.filter(pl.col("code") == code)["visit_id"].to_numpy()
            size = int(rng.integers(int(cfg["ring_size"][0]), int(cfg["ring_size"][1]) + 1))
            members = rng.choice(adults, size=min(size, adults.size), replace=False)
            psn: list[int] = []
            dates: list[dt.date] = []
            srcs: list[int] = []
            for m in members:
                day = year_start + dt.timedelta(days=int(rng.integers(0, 90)))
                while day <= year_end:
                    psn.append(int(m))
                    dates.append(day)
                    srcs.append(int(rng.choice(src_ids)))
                    day += dt.timedelta(
                        days=int(rng.integers(int(cfg["interval_days"][0]), int(cfg["interval_days"][1]) + 1))
                    )
            templates = (
                pl.DataFrame({"visit_id": srcs})
                .with_row_index("_o")
                .join(v, on="visit_id")
                .sort("_o")
                .drop("_o")
            )
            shop = rng.choice(shops, size=templates.height)
            templates = templates.with_columns(pl.Series("fixmedins_code", shop))
            # only the dear drug is bought: the template's other lines are not copied
            first_new = new_ids(v, 1)[0]
            only = ln.filter(pl.col("code") == code)
            v, with_new = _clone_visits(
                rng, v, only, templates, np.array(psn), dates, None, self.name, use_account=True
            )
            ln = pl.concat([ln, with_new.filter(pl.col("visit_id") >= first_new)])
        return finish(v, ln, _first_id(v))


@dataclass(frozen=True)
class CollusiveRing(_Configured):
    """A provider and a recruited group of insured persons who come in together on the same days,
    billed from the provider's ordinary visits with the quantities inflated (组团就医)."""

    name: str = "collusive_ring"
    cfg: dict[str, Any] | None = None  # overrides of the params.yaml section (tests, what-ifs)

    def __call__(
        self, rng: np.random.Generator, persons: pa.Table, visits: pa.Table, lines: pa.Table
    ) -> tuple[pa.Table, pa.Table]:
        cfg = self.config()
        v, ln = frames(visits, lines)
        n_rings = _stochastic_round(rng, float(cfg["rings_per_100k"]) * persons.num_rows / 100_000)
        op = v.filter((pl.col("med_type") == "11") & pl.col("fixmedins_code").str.starts_with("H"))
        busy = (
            op.group_by("fixmedins_code")
            .len()
            .filter(pl.col("len") >= 30)["fixmedins_code"]
            .sort()
            .to_numpy()
        )
        adults = _adults(persons)
        if n_rings == 0 or busy.size == 0 or adults.size == 0:
            return visits, lines
        year_start, year_end = year_bounds(v)
        n_days = (year_end - year_start).days + 1
        for _ in range(n_rings):
            provider = rng.choice(busy)
            pool = op.filter(pl.col("fixmedins_code") == provider)
            size = int(rng.integers(int(cfg["ring_size"][0]), int(cfg["ring_size"][1]) + 1))
            members = rng.choice(adults, size=min(size, adults.size), replace=False)
            days = np.sort(
                rng.choice(
                    n_days,
                    size=int(rng.integers(int(cfg["days"][0]), int(cfg["days"][1]) + 1)),
                    replace=False,
                )
            )
            psn: list[int] = []
            dates: list[dt.date] = []
            for d in days:
                share = rng.uniform(float(cfg["attend_share"][0]), float(cfg["attend_share"][1]))
                present = members[rng.random(members.size) < share]
                psn += [int(x) for x in present]
                dates += [year_start + dt.timedelta(days=int(d))] * present.size
            if not psn:
                continue
            templates = pool.sample(n=len(psn), with_replacement=True, seed=int(rng.integers(0, 2**31)))
            factor = rng.integers(1, 3, len(psn))
            v, ln = _clone_visits(rng, v, ln, templates, np.array(psn), dates, factor, self.name)
        return finish(v, ln, _first_id(v))


@dataclass(frozen=True)
class PhantomBilling(_Configured):
    """虚构诊疗: a few providers bill outpatient visits that never happened, on the cards of people who
    did not attend, filling them from a handful of reused templates."""

    name: str = "phantom_billing"
    cfg: dict[str, Any] | None = None  # overrides of the params.yaml section (tests, what-ifs)
    habit: _ProviderHabit = field(default_factory=_ProviderHabit)

    def __call__(
        self, rng: np.random.Generator, persons: pa.Table, visits: pa.Table, lines: pa.Table
    ) -> tuple[pa.Table, pa.Table]:
        cfg = self.config()
        v, ln = frames(visits, lines)
        providers = sorted(self.habit.providers(rng, v, float(cfg["provider_share"])))
        everyone = persons_frame(persons)["psn_id"].to_numpy()
        year_start, year_end = year_bounds(v)
        n_days = (year_end - year_start).days + 1
        changed = False
        for provider in providers:
            pool = v.filter(
                (pl.col("med_type") == "11")
                & (pl.col("fixmedins_code") == provider)
                & (pl.col("n_lines") >= 3)
            )
            if pool.height == 0 or everyone.size == 0:
                continue
            n_ghost = max(3, round(float(cfg["ghost_share"]) * pool.height))
            n_tmpl = int(rng.integers(int(cfg["templates"][0]), int(cfg["templates"][1]) + 1))
            tmpl = pool.sample(n=min(n_tmpl, pool.height), seed=int(rng.integers(0, 2**31)))
            which = rng.integers(0, tmpl.height, n_ghost)
            templates = tmpl.select(pl.all().gather(which))
            # a template's quantities are rewritten once and then reused as they are
            factor_by_tmpl = rng.integers(1, 3, tmpl.height)
            dates = [year_start + dt.timedelta(days=int(d)) for d in rng.integers(0, n_days, n_ghost)]
            psn = rng.choice(everyone, size=n_ghost, replace=False if everyone.size >= n_ghost else True)
            v, ln = _clone_visits(rng, v, ln, templates, psn, dates, factor_by_tmpl[which], self.name)
            changed = True
        if not changed:
            return visits, lines
        return finish(v, ln, _first_id(v))
