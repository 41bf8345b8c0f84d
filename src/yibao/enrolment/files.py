"""Reading and validating the two bulk files (adapter: files in, typed frames or row errors out).

* The tax authority's resident premium collection file (居民医保征缴明细) — :func:`read_collection`.
* An employer's monthly roster (单位月度申报) — :func:`read_roster`.

Formats (CSV, UTF-8, header row; or Parquet with the same columns) are documented in docs/ENROLMENT.md §4.
Validation is vectorised with Polars so a 5-million-row collection file is checked in seconds; every bad
row is reported with its line number (header = line 1), the column and the reason, Chinese then English.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from yibao.enrolment.contributions import parse_month
from yibao.enrolment.model import EnrolmentError, ImportRejected, RowError
from yibao.enrolment.policy import EnrolmentPolicy
from yibao.enrolment.roster import ACTIONS, RosterRow
from yibao.money import apply_ratio

COLLECTION_COLUMNS = (
    "psn_no",
    "certno",
    "psn_name",
    "year",
    "paid_on",
    "individual",
    "assistance",
    "identity",
    "kind",
    "household_no",
    "district",
)
COLLECTION_REQUIRED = ("psn_no", "certno", "psn_name", "year", "paid_on", "individual")
ROSTER_COLUMNS = (
    "emp_no",
    "emp_name",
    "month",
    "psn_no",
    "certno",
    "psn_name",
    "wage",
    "action",
    "paid_on",
    "effective",
    "psn_type",
    "district",
)
ROSTER_REQUIRED = ("emp_no", "emp_name", "month", "psn_no", "certno", "psn_name", "wage", "action")
MAX_REPORTED = 1000
_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # GB 11643 check-digit weights


@dataclass(frozen=True)
class CollectionFile:
    """A validated collection file: one row per premium, typed; ``row`` is the file line."""

    frame: pl.DataFrame  # row, psn_no, certno, psn_name, gender, birth_date, year, paid_on, individual_fen,
    #                      assistance_fen, subsidy_fen, identity, kind, household_no, district
    rows: int


def _read_strings(path: Path, columns: Sequence[str], required: Sequence[str]) -> pl.DataFrame:
    try:
        if path.suffix.lower() == ".parquet":
            df = pl.read_parquet(path)
            df = df.with_columns(pl.col(c).cast(pl.String) for c in df.columns)
        else:
            df = pl.read_csv(path, infer_schema=False, encoding="utf8", truncate_ragged_lines=False)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise EnrolmentError("file", f"无法读取文件 cannot read {path.name}: {exc}") from exc
    df = df.rename({c: c.strip().lstrip("\ufeff") for c in df.columns})
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise EnrolmentError(
            "file", f"缺少必需的列 missing required column(s): {', '.join(missing)}", "missing_column"
        )
    unknown = [c for c in df.columns if c not in columns]
    if unknown:
        raise EnrolmentError("file", f"未知的列 unknown column(s): {', '.join(unknown)}", "unknown_column")
    for c in columns:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    # cells are taken as written (an empty cell is missing); a value padded with spaces fails its own check
    return df.select(
        pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias("row"),
        *[pl.col(c).replace("", None).alias(c) if df.schema[c] == pl.String else pl.col(c) for c in columns],
    )


def _fen(col: str) -> pl.Expr:
    """Decimal 元 text (``400``, ``400.5``, ``400.50``) → fen; null when not such a number."""
    c = pl.col(col)
    ok = c.str.contains(r"^\d{1,12}(\.\d{1,2})?$")
    whole = c.str.extract(r"^(\d+)", 1).cast(pl.Int64, strict=False)
    frac = c.str.extract(r"\.(\d{1,2})$", 1).fill_null("").str.pad_end(2, "0").cast(pl.Int64, strict=False)
    return pl.when(ok).then(whole * 100 + frac).otherwise(None)


def certno_valid(certno: pl.Series) -> npt.NDArray[np.bool_]:
    """Which IDs are 18 characters (17 digits, then a digit or X) with the GB 11643 check digit — computed
    on the Arrow bytes with numpy (a few milliseconds per million)."""
    shape = certno.str.contains(r"^\d{17}[\dX]$").fill_null(False).to_numpy()
    idx = np.flatnonzero(shape)
    out = np.zeros(len(certno), dtype=bool)
    if len(idx) == 0:
        return out
    arr = certno.gather(idx).to_arrow(compat_level=pl.CompatLevel.oldest())
    arr = arr.combine_chunks() if hasattr(arr, "combine_chunks") else arr
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    mat = data[offsets[0] : offsets[-1]].reshape(-1, 18)  # every value is 18 ASCII bytes
    total = (mat[:, :17].astype(np.int64) - 48) @ np.array(_W, dtype=np.int64)
    out[idx] = np.frombuffer(b"10X98765432", dtype=np.uint8)[total % 11] == mat[:, 17]
    return out


def _certno_ok() -> pl.Expr:
    return pl.col("_cert_ok")


def _errors(df: pl.DataFrame, checks: Sequence[tuple[pl.Expr, str, str]]) -> list[RowError]:
    """Row errors where a check's expression is False (null counts as bad), in row order.  All checks are
    evaluated in one pass; the failing rows are only gathered when there are any."""
    ok = df.select(
        pl.col("row"), *[expr.fill_null(False).alias(f"_c{i}") for i, (expr, _, _) in enumerate(checks)]
    )
    failing = [i for i, v in enumerate(ok.select(pl.all().exclude("row").all()).row(0)) if not v]
    if not failing:
        return []
    frames = [
        ok.filter(~pl.col(f"_c{i}")).select(
            "row", pl.lit(checks[i][1]).alias("field"), pl.lit(checks[i][2]).alias("reason")
        )
        for i in failing
    ]
    allbad = pl.concat(frames).sort("row", maintain_order=True)
    return [RowError(int(r), str(f), str(x)) for r, f, x in allbad.iter_rows()]


def read_collection(path: str | Path, policy: EnrolmentPolicy) -> CollectionFile:
    """Read and validate a collection file; raises :class:`ImportRejected` with every bad row (nothing is
    returned half-valid).  Rules: required columns filled; ``certno`` an 18-character ID with a valid
    GB 11643 check digit and birth date; ``year`` a benefit year of the policy file; ``paid_on`` a date
    from the collection opening up to the end of the benefit year (``kind`` annual) or after the year
    (``kind`` repair, 缴费修复); ``individual`` + ``assistance`` = the year's individual premium;
    ``assistance`` = the share of the identity's assistance rule (资助参保); one row per person and year;
    one certno per person."""
    frame, errors = validate_collection(read_collection_strings(path), policy)
    if errors:
        raise ImportRejected(errors[:MAX_REPORTED], len(errors))
    return CollectionFile(frame, frame.height)


def read_collection_strings(path: str | Path) -> pl.DataFrame:
    """A collection file's cells as written (strings, an empty cell null) with its line numbers (``row``);
    the columns checked, nothing else."""
    return _read_strings(Path(path), COLLECTION_COLUMNS, COLLECTION_REQUIRED)


def certno_shared(df: pl.DataFrame) -> list[RowError]:
    """Rows whose certno appears with another psn_no anywhere in the file (one certno, one person)."""
    if not df.select(pl.col("certno").is_duplicated().any()).item():
        return []
    bad = df.filter(pl.col("certno").is_not_null() & (pl.col("psn_no").n_unique().over("certno") > 1))
    return [
        RowError(int(r), "psn_no", "同一身份证号对应多个人员编号 one certno with different psn_no")
        for r in bad["row"].to_list()
    ]


def validate_collection(
    df: pl.DataFrame, policy: EnrolmentPolicy, *, certno_across_rows: bool = True
) -> tuple[pl.DataFrame, list[RowError]]:
    """The typed frame of a collection file's rows (``df`` from :func:`read_collection_strings`, or a part
    of it holding all rows of each of its persons) and every row error, in row order.
    ``certno_across_rows=False``: the one-certno-one-person check is left to :func:`certno_shared` over the
    whole file (the caller validates the file in parts)."""
    years = pl.DataFrame(
        {
            "year": list(policy.resident_years),
            "_std": [y.individual_fen for y in policy.resident_years.values()],
            "_sub": [y.fiscal_subsidy_fen for y in policy.resident_years.values()],
            "_opens": [y.collection.opens for y in policy.resident_years.values()],
        },
        schema={"year": pl.Int32, "_std": pl.Int64, "_sub": pl.Int64, "_opens": pl.Date},
    )
    shares = {code: policy.assistance_share({code}) for code in policy.identity_codes}
    assist = pl.DataFrame(
        {
            "year": [y for y in policy.resident_years for _ in ["", *shares]],
            "identity": [c for _ in policy.resident_years for c in ["", *shares]],
            "_exp_assist": [
                apply_ratio(ry.individual_fen, shares[c][0]) if c else 0
                for ry in policy.resident_years.values()
                for c in ["", *shares]
            ],
        },
        schema={"year": pl.Int32, "identity": pl.String, "_exp_assist": pl.Int64},
    )
    t = df.with_columns(
        pl.Series("_cert_ok", certno_valid(df["certno"])),
        pl.col("year").cast(pl.Int32, strict=False).alias("_year"),
        pl.col("paid_on").str.to_date("%Y-%m-%d", strict=False).alias("_paid"),
        _fen("individual").alias("_ind"),
        pl.when(pl.col("assistance").is_null())
        .then(pl.lit(0, pl.Int64))
        .otherwise(_fen("assistance"))
        .alias("_asst"),
        pl.col("kind").fill_null("annual").alias("_kind"),
        pl.col("identity").fill_null("").alias("_ident"),
        pl.col("certno").str.slice(6, 8).str.to_date("%Y%m%d", strict=False).alias("_birth"),
    )
    t = t.join(years.rename({"year": "_year"}), on="_year", how="left", maintain_order="left").join(
        assist.rename({"year": "_year", "identity": "_ident"}),
        on=["_year", "_ident"],
        how="left",
        maintain_order="left",
    )
    year_end = pl.date(pl.col("_year"), 12, 31)
    # the window checks only where a key repeats at all (usually one row per person: two hash passes)
    psn = t["psn_no"]
    if psn.null_count() == 0 and psn.is_sorted():  # the usual file, in psn_no order: one comparison pass
        psn_repeats = bool((psn.slice(1) == psn.slice(0, max(len(psn) - 1, 0))).any())
    else:
        psn_repeats = bool(t.select(pl.col("psn_no").is_duplicated().any()).item())
    cert_repeats = certno_across_rows and bool(t.select(pl.col("certno").is_duplicated().any()).item())
    dup_year = pl.struct("psn_no", "_year").is_first_distinct() if psn_repeats else pl.lit(True)
    certs_per_psn = pl.col("certno").n_unique().over("psn_no") if psn_repeats else pl.lit(1)
    psns_per_cert = pl.col("psn_no").n_unique().over("certno") if cert_repeats else pl.lit(1)
    known_idents = sorted(policy.identity_codes)
    checks: list[tuple[pl.Expr, str, str]] = [
        (pl.col("psn_no").is_not_null(), "psn_no", "人员编号不能为空 psn_no is required"),
        (pl.col("psn_no").str.len_chars() <= 40, "psn_no", "人员编号过长（最多40位） psn_no longer than 40"),
        (pl.col("psn_name").is_not_null(), "psn_name", "姓名不能为空 psn_name is required"),
        (pl.col("certno").is_not_null(), "certno", "身份证号不能为空 certno is required"),
        (
            pl.col("certno").is_null() | _certno_ok(),
            "certno",
            "身份证号格式或校验位错误 certno is not a valid 18-character ID (check digit)",
        ),
        (
            ~_certno_ok().fill_null(False) | pl.col("_birth").is_not_null(),
            "certno",
            "身份证号中的出生日期无效 the birth date inside certno is invalid",
        ),
        (pl.col("_year").is_not_null(), "year", "缴费年度须为四位年份 year must be a 4-digit year"),
        (
            pl.col("_year").is_null() | pl.col("_std").is_not_null(),
            "year",
            "政策文件没有该年度的缴费标准 the policy file has no premium for this year",
        ),
        (
            pl.col("_paid").is_not_null(),
            "paid_on",
            "缴费日期须为YYYY-MM-DD paid_on must be a date YYYY-MM-DD",
        ),
        (
            pl.col("_ind").is_not_null(),
            "individual",
            "个人缴费须为不超过两位小数的非负金额（元） individual must be yuan",
        ),
        (
            pl.col("_asst").is_not_null(),
            "assistance",
            "资助金额须为不超过两位小数的非负金额（元） assistance must be yuan",
        ),
        (
            pl.col("_kind").is_in(["annual", "repair"]),
            "kind",
            "缴费类型须为annual或repair kind must be annual or repair",
        ),
        (
            (pl.col("_ident") == "") | pl.col("_ident").is_in(known_idents),
            "identity",
            f"未知的资助身份（可用：{', '.join(known_idents)}） unknown identity",
        ),
        (
            pl.col("_std").is_null()
            | pl.col("_ind").is_null()
            | pl.col("_asst").is_null()
            | (pl.col("_ind") + pl.col("_asst") == pl.col("_std")),
            "individual",
            "个人缴费与资助之和不等于该年度个人缴费标准 individual + assistance must equal the year's premium",
        ),
        (
            pl.col("_exp_assist").is_null()
            | pl.col("_asst").is_null()
            | (pl.col("_asst") == pl.col("_exp_assist")),
            "assistance",
            "资助金额与该身份的资助标准不符 assistance does not match the identity's assistance share",
        ),
        (
            pl.col("_paid").is_null()
            | pl.col("_opens").is_null()
            | (pl.col("_kind") != "annual")
            | ((pl.col("_paid") >= pl.col("_opens")) & (pl.col("_paid") <= year_end)),
            "paid_on",
            "年度缴费须在征缴期开始后、该年度结束前 an annual premium is paid from the collection opening to the year's end",
        ),
        (
            pl.col("_paid").is_null() | (pl.col("_kind") != "repair") | (pl.col("_paid") > year_end),
            "paid_on",
            "修复补缴只能在该年度结束后 a repair premium is paid after its year ended",
        ),
        (dup_year, "year", "同一人员同一年度在文件中重复 the person and year appear twice in the file"),
        (certs_per_psn == 1, "certno", "同一人员编号对应多个身份证号 one psn_no with different certno"),
        (psns_per_cert == 1, "psn_no", "同一身份证号对应多个人员编号 one certno with different psn_no"),
    ]
    errors = _errors(t, checks)
    if errors:
        return t.clear(), errors
    frame = t.select(
        "row",
        "psn_no",
        "certno",
        "psn_name",
        pl.when(pl.col("certno").str.slice(16, 1).cast(pl.Int32) % 2 == 1)
        .then(pl.lit("M"))
        .otherwise(pl.lit("F"))
        .alias("gender"),
        pl.col("_birth").alias("birth_date"),
        pl.col("_year").alias("year"),
        pl.col("_paid").alias("paid_on"),
        pl.col("_ind").alias("individual_fen"),
        pl.col("_asst").alias("assistance_fen"),
        pl.when(pl.col("_kind") == "repair")
        .then(pl.lit(0, pl.Int64))
        .otherwise(pl.col("_sub"))
        .alias("subsidy_fen"),
        pl.col("_ident").alias("identity"),
        pl.col("_kind").alias("kind"),
        pl.col("household_no").fill_null(""),
        pl.col("district").fill_null(""),
    )
    return frame, []


def read_roster(path: str | Path) -> list[RosterRow]:
    """Read and validate a roster file's shape (columns, dates, amounts); the business rules are applied by
    :func:`~yibao.enrolment.roster.apply_roster`.  Raises :class:`ImportRejected` with every bad row."""
    df = _read_strings(Path(path), ROSTER_COLUMNS, ROSTER_REQUIRED)
    t = df.with_columns(
        pl.Series("_cert_ok", certno_valid(df["certno"])),
        _fen("wage").alias("_wage"),
        pl.col("paid_on").str.to_date("%Y-%m-%d", strict=False).alias("_paid"),
        pl.col("effective").str.to_date("%Y-%m-%d", strict=False).alias("_eff"),
        pl.col("month").str.contains(r"^\d{4}-(0[1-9]|1[0-2])$").alias("_month_ok"),
    )
    checks: list[tuple[pl.Expr, str, str]] = [
        (pl.col(c).is_not_null(), c, f"{c}不能为空 {c} is required") for c in ROSTER_REQUIRED
    ]
    checks += [
        (
            pl.col("certno").is_null() | _certno_ok(),
            "certno",
            "身份证号格式或校验位错误 certno is not a valid 18-character ID (check digit)",
        ),
        (pl.col("month").is_null() | pl.col("_month_ok"), "month", "月份须为YYYY-MM month must be YYYY-MM"),
        (
            pl.col("wage").is_null() | pl.col("_wage").is_not_null(),
            "wage",
            "工资须为不超过两位小数的非负金额（元） wage must be yuan",
        ),
        (
            pl.col("action").is_null() | pl.col("action").is_in(list(ACTIONS)),
            "action",
            "申报类型须为add/keep/leave/retire unknown action",
        ),
        (
            pl.col("paid_on").is_null() | pl.col("_paid").is_not_null(),
            "paid_on",
            "缴费日期须为YYYY-MM-DD paid_on must be a date",
        ),
        (
            pl.col("effective").is_null() | pl.col("_eff").is_not_null(),
            "effective",
            "生效日期须为YYYY-MM-DD effective must be a date",
        ),
    ]
    errors = _errors(t, checks)
    if errors:
        raise ImportRejected(errors[:MAX_REPORTED], len(errors))
    out = []
    for r in t.iter_rows(named=True):
        m = parse_month(r["month"])
        eff = r["_eff"]
        if eff is not None and (eff.year, eff.month) != m:
            errors.append(
                RowError(r["row"], "effective", "生效日期须在申报月份内 effective must be in the month")
            )
            continue
        out.append(
            RosterRow(
                r["row"],
                r["emp_no"],
                r["emp_name"],
                m,
                r["psn_no"],
                r["certno"],
                r["psn_name"],
                r["_wage"],
                r["action"],
                r["_paid"],
                eff,
                r["psn_type"] or "",
            )
        )
    if errors:
        raise ImportRejected(errors[:MAX_REPORTED], len(errors))
    return out


def certno_birth_gender(certno: str) -> tuple[dt.date, str]:
    """Birth date and gender ('M' odd 17th digit, 'F' even) encoded in an 18-character ID."""
    return dt.date(int(certno[6:10]), int(certno[10:12]), int(certno[12:14])), (
        "M" if int(certno[16]) % 2 else "F"
    )
