"""The batch settlement as a ``spark-submit`` job (docs/SCALE.md has the recipe).

    spark-submit --master yarn … yibao/spark/job.py --policy region.yaml --source s3a://bucket/2025 \
        --out s3a://bucket/2025-settled [--opening s3a://bucket/2025-opening] [--partitions 1000]

Reads persons / visits / lines Parquet under ``--source``, settles every visit, writes one row per
visit (visit_id and the 2207 money fields) under ``<out>/visits`` (Parquet partitioned by
``bucket`` = visit_id mod partitions) and the closing accumulators (psn_id, year, counter, value —
the next period's ``--opening``; opening rows of person-years without visits carried over) under
``<out>/accumulators`` (partitioned by year).  The master and resources come from spark-submit.
"""

from __future__ import annotations

import argparse
import sys

from yibao.policy.book import PolicyBook
from yibao.spark.settle import closing_accumulators, field_errors, read_inputs, settle_spark


def main(argv: list[str] | None = None) -> int:
    """Run the job; returns the process exit code (2 for input a person must fix, naming the field)."""
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    ap = argparse.ArgumentParser(prog="yibao-spark-settle", description="批量结算 batch settlement on Spark")
    ap.add_argument("--policy", required=True, help="region policy file (YAML), readable by the driver")
    ap.add_argument("--source", required=True, help="directory or URL with persons/visits/lines Parquet")
    ap.add_argument("--out", required=True, help="directory or URL for the results")
    ap.add_argument("--opening", help="Parquet of accumulators at the start of the period")
    ap.add_argument("--partitions", type=int, help="settlement partitions (about 1M lines each)")
    args = ap.parse_args(argv)
    spark = SparkSession.builder.appName("yibao-settle").getOrCreate()
    n = args.partitions or int(spark.conf.get("spark.sql.shuffle.partitions") or 200)
    out = args.out.rstrip("/")
    try:
        with field_errors():
            book = PolicyBook.from_file(args.policy)
            inputs = read_inputs(spark, args.source)
            opening = spark.read.parquet(args.opening) if args.opening else None
            visits = settle_spark(spark, book, inputs, partitions=n, opening=opening)
            visits.withColumn("bucket", F.expr(f"pmod(visit_id, {n})")).write.mode("overwrite").partitionBy(
                "bucket"
            ).parquet(f"{out}/visits")
            acc = closing_accumulators(spark, book, inputs, partitions=n, opening=opening)
            if opening is not None:
                untouched = opening.join(
                    acc.select("psn_id", "year").distinct(), ["psn_id", "year"], "left_anti"
                )
                acc = acc.unionByName(untouched.select(*acc.columns))
            acc.write.mode("overwrite").partitionBy("year").parquet(f"{out}/accumulators")
    except (ValueError, FileNotFoundError) as exc:  # SettlementError / FieldError / PolicyError
        print(f"✗ {exc}", file=sys.stderr)
        return 2
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
