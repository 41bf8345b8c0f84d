"""Synthetic pooling-region generator: a seeded, calibrated year of persons, visits and fee lines.

``generate(region_path, out_dir, persons, year, seed, inject=())`` writes persons / institutions /
visits / lines Parquet files and ``manifest.json``; ``read_visits_as_engine_inputs`` reads them back as
the real-time engine's (Person, Visit) pairs.  See docs/SYNTH.md.
"""

from yibao.synth.generator import (
    INSTITUTIONS_SCHEMA,
    LINES_SCHEMA,
    PERSONS_SCHEMA,
    PHYSICIANS_SCHEMA,
    VISITS_SCHEMA,
    Manifest,
    generate,
)
from yibao.synth.inject import DuplicateCharging, Injector, get_injector, injector_names, register_injector
from yibao.synth.reader import read_persons, read_visits_as_engine_inputs

__all__ = [
    "INSTITUTIONS_SCHEMA",
    "LINES_SCHEMA",
    "PERSONS_SCHEMA",
    "PHYSICIANS_SCHEMA",
    "VISITS_SCHEMA",
    "DuplicateCharging",
    "Injector",
    "Manifest",
    "generate",
    "get_injector",
    "injector_names",
    "read_persons",
    "read_visits_as_engine_inputs",
    "register_injector",
]
