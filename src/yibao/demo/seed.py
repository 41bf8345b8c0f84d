"""A small seeded database for trying the portal and dashboard (tests, and the lead's ``yibao demo``):
a synthetic region year settled through the ledger, demo logins, and a few cases and ratings.

The demo persons are chosen so that the ``insured`` login has visits to look at and acts for a second
person (亲情账户) who has visits too."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from yibao.audit.knowledge.limits import prescribing_limits
from yibao.demo.region import login_order, person_records
from yibao.ledger import Ledger
from yibao.policy.book import NoPolicyVersion, PolicyBook
from yibao.policy.loader import example_path, load_region
from yibao.settlement.model import SettlementError
from yibao.synth import generate, read_visits_as_engine_inputs


@dataclass(frozen=True)
class Seeded:
    url: str
    data_dir: Path
    settled: int
    insured_psn_no: str
    family_psn_no: str
    password: str


def seed_demo_db(
    db_path: Path,
    *,
    region: str = "xian",
    persons: int = 200,
    visits: int | None = None,
    year: int = 2025,
    seed: int = 7,
) -> Seeded:
    """Create (replacing) a SQLite database at ``db_path`` with settled visits and the demo logins."""
    from yibao.demo.logins import DEMO_PASSWORD, seed_demo_users
    from yibao.demo.run import msgid_for

    path = example_path(region) if not Path(region).exists() else Path(region)
    loaded = load_region(path)
    book = PolicyBook(loaded)
    admdvs = loaded.region.region.admdvs
    if db_path.exists():
        db_path.unlink()
    db_path.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{db_path}"
    data_dir = db_path.parent / f"{db_path.stem}-data"
    generate(path, data_dir, persons=persons, year=year, seed=seed, limits=prescribing_limits())
    people = pl.read_parquet(data_dir / "persons.parquet")
    records = person_records(people, admdvs, year)
    ledger = Ledger.open(url)
    per_person: Counter[str] = Counter()
    settled = 0
    try:
        ledger.migrate()
        ledger.add_persons(records)
        for k, (_p, visit) in enumerate(read_visits_as_engine_inputs(data_dir, limit=visits)):
            try:
                ledger.settle(book, visit, msgid_for(visit, k))
            except (SettlementError, NoPolicyVersion):
                continue
            per_person[visit.psn_no] += 1
            settled += 1
    finally:
        ledger.close()
    ordered = login_order(records, per_person)
    first, second = ordered[0], ordered[1]
    seed_demo_users(url, ordered)
    return Seeded(url, data_dir, settled, first.psn_no, second.psn_no, DEMO_PASSWORD)
