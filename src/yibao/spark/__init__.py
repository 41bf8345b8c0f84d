"""Apache Spark as a third executor of the one settlement semantics (docs/SCALE.md).

``settle_spark`` partitions visits and lines by person component and settles each partition with
the batch kernel (:mod:`yibao.batch`) over Arrow; ``yibao.spark.simulate`` and ``yibao.spark.audit``
run the what-if simulator and the after-the-fact audit on top of it.  Local mode on one machine, a
cluster by master URL: the same code.
"""

from yibao.spark.partition import settle_partition
from yibao.spark.session import spark_session
from yibao.spark.settle import SparkInputs, closing_accumulators, field_errors, read_inputs, settle_spark

__all__ = [
    "SparkInputs",
    "closing_accumulators",
    "field_errors",
    "read_inputs",
    "settle_partition",
    "settle_spark",
    "spark_session",
]
