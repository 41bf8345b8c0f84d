"""``yibao bench his`` and the CI day: the HIS simulator (:mod:`hissim`) plays hospitals' days against a
running yibao over HTTP.

:func:`prepare` makes a database a simulated day can run against — the simulator's persons (ID number and
name, a social-security card each) insured in the ledger, the hospitals registered with their level, an
institution login per hospital — and writes the files the simulator reads (persons, institutions, the
region's catalogue with its prices).  :func:`serve` starts ``yibao serve`` on a free loopback port;
:func:`play` runs the day and returns hissim's result."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from yibao.bench.api import _free_port, _wait_ready

PASSWORD = "his-bench-password-1"
ADMVS = "610100"
HOSP_LV = "3"  # the simulated hospitals are level 3 (三级) in the region file's levels


@dataclass(frozen=True)
class Prepared:
    """What a day needs: the files for hissim and the login template."""

    persons_file: Path
    institutions_file: Path
    catalogue_file: Path
    username: str  # with {fixmedins_code}
    password: str


def _birth(certno: str) -> dt.date:
    return dt.date(int(certno[6:10]), int(certno[10:12]), int(certno[12:14]))


def prepare(
    db_url: str, workdir: Path, *, hospitals: int, persons: int, seed: int = 1, region: str = "xian"
) -> Prepared:
    """Migrate ``db_url`` and fill it for a day of ``hospitals`` hospitals and ``persons`` persons."""
    from hissim.scenario.data import default_institutions, synthetic_persons
    from yibao.access.store import ServiceStore
    from yibao.encounter.store import EncounterStore, Institution
    from yibao.ledger import Ledger, PersonRecord
    from yibao.policy.book import PolicyBook
    from yibao.policy.loader import example_path

    workdir.mkdir(parents=True, exist_ok=True)
    people = synthetic_persons(persons, seed, ADMVS)
    insts = default_institutions(hospitals, ADMVS)
    records, rows = [], []
    for i, p in enumerate(people):
        psn_no = f"P{seed:02d}{i:08d}"
        gender = "M" if int(p.certno[16]) % 2 else "F"  # GB 11643: the 17th digit is odd for men
        records.append(
            PersonRecord(
                psn_no, p.psn_name, p.certno, gender, _birth(p.certno), "310", "11", ADMVS, 200_000, [], []
            )
        )
        rows.append(
            {
                "psn_name": p.psn_name,
                "certno": p.certno,
                "card_no": f"SSC{seed:02d}{i:09d}",
                "card_sn": f"SN{i:06d}",
                "insutype": "310",
            }
        )
    with Ledger.open(db_url) as led:
        led.migrate()
        led.add_persons(records)
        sa_url = led.sa_url
    enc = EncounterStore.open(sa_url)
    try:
        for rec, row in zip(records, rows, strict=True):
            enc.add_card(row["card_no"], row["card_sn"], rec.psn_no)
        for inst in insts:
            enc.add_institution(Institution(inst.fixmedins_code, inst.fixmedins_name, HOSP_LV, ADMVS))
    finally:
        enc.close()
    store = ServiceStore(sa_url)
    try:
        have = {u.username for u in store.list_users()}
        for inst in insts:
            name = f"his-{inst.fixmedins_code}"
            if name not in have:
                store.create_user(
                    name, PASSWORD, "institution", inst.fixmedins_name, fixmedins_code=inst.fixmedins_code
                )
    finally:
        store.close()
    book = PolicyBook.from_file(example_path(region))
    catalogue = book.for_date(dt.date.today()).catalogue
    items = [
        {
            "med_list_codg": it.code,
            "medins_list_codg": "H" + it.code[-10:],
            "name": it.name,
            "pric": str(dt_price(it.unit_price)),
            "kind": it.kind,
            "max_cnt": 3,
        }
        for it in catalogue.values()
        if it.unit_price
        and not it.sex
        and it.min_age is None
        and it.max_age is None
        and not it.indications
        and not it.min_level
    ]
    files = (workdir / "persons.yaml", workdir / "institutions.yaml", workdir / "catalogue.yaml")
    files[0].write_text(yaml.safe_dump({"persons": rows}, allow_unicode=True), encoding="utf-8")
    files[1].write_text(
        yaml.safe_dump(
            {
                "institutions": [
                    {
                        "fixmedins_code": i.fixmedins_code,
                        "fixmedins_name": i.fixmedins_name,
                        "mdtrtarea_admvs": ADMVS,
                    }
                    for i in insts
                ]
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    files[2].write_text(yaml.safe_dump({"items": items[:120]}, allow_unicode=True), encoding="utf-8")
    return Prepared(*files, "his-{fixmedins_code}", PASSWORD)


def dt_price(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


@contextmanager
def serve(db_url: str, *, workers: int = 1, region: str = "xian") -> Iterator[str]:
    """``yibao serve`` on a free loopback port for the duration; yields the base URL."""
    port = _free_port()
    env = {**os.environ, "YIBAO_DATABASE_URL": db_url, "YIBAO_REGION": region, "YIBAO_MIGRATE": "0"}
    exe = Path(sys.executable).with_name("yibao")
    cmd = [str(exe), "serve", "--port", str(port), "--db", db_url, "--region", region, "--no-access-log"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc)
        yield base
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def play(
    base: str, prep: Prepared, *, hospitals: int, visits: int, seed: int = 1, check_every: int = 1
) -> Any:
    """Play the day with hissim (threads, one per hospital); returns (DayResult, DayConfig)."""
    from hissim.scenario.data import load_institutions, load_items, load_persons
    from hissim.scenario.day import DayConfig, run_day

    cfg = DayConfig(
        url=base,
        institutions=tuple(load_institutions(prep.institutions_file)[:hospitals]),
        persons=tuple(load_persons(prep.persons_file)),
        items=tuple(load_items(prep.catalogue_file)),
        visits=visits,
        seed=seed,
        business_date=dt.date.today(),
        run_id=dt.datetime.now().strftime("%H%M%S"),
        transport="stdlib",
        check_every=check_every,
        login=("/auth/login", prep.username, prep.password),
        clearing=True,
        treatment_check=True,
    )
    return run_day(cfg), cfg


def bench_his(
    hospitals: int = 8, visits: int = 40, url: str | None = None, workers: int = 2
) -> list[dict[str, Any]]:
    """8 hospitals in parallel against PostgreSQL (a scratch database); hissim's JSON lines."""
    import uuid

    import psycopg

    from hissim.scenario.day import bench_lines
    from yibao.bench.settle_db import DEFAULT_ADMIN_URL

    admin = (url or os.environ.get("YIBAO_TEST_PG_URL") or DEFAULT_ADMIN_URL).replace(
        "postgresql+psycopg://", "postgresql://"
    )
    name = "yibao_bench_his_" + uuid.uuid4().hex[:10]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = f"{admin.rsplit('/', 1)[0]}/{name}"
    try:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            prep = prepare(db_url, Path(tmp), hospitals=hospitals, persons=max(hospitals * 30, 60))
            with serve(db_url, workers=workers) as base:
                result, cfg = play(base, prep, hospitals=hospitals, visits=visits)
        lines = bench_lines(result, cfg)
        for ln in lines:
            ln.update(backend="postgresql", server_workers=workers)
        lines.append(
            {
                "bench": "his.day",
                "metric": "failure_samples",
                "value": [f.as_dict() for f in result.failures[:5]],
            }
        )
        return lines
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
