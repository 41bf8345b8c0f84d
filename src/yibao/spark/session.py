"""A SparkSession for yibao: local mode on one machine, a cluster by master URL.

Nothing downloads at run time: no ``spark.jars.packages`` (which would fetch from Maven through
Ivy), only the jars that ship inside the PySpark wheel.  Java comes from ``JAVA_HOME`` or ``java`` on
the PATH (Debian's ``openjdk-17-jre-headless``).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from yibao.errors import FieldError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULTS: dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
}


def java_home() -> str | None:
    """The Java installation Spark will use: ``JAVA_HOME`` if set, else the one ``java`` on the PATH is in."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java is None:
        return None
    return os.path.dirname(os.path.dirname(os.path.realpath(java)))


def spark_session(
    master: str = "local[2]",
    *,
    app_name: str = "yibao",
    shuffle_partitions: int | None = None,
    driver_memory: str | None = None,
    conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """Start (or reuse) a SparkSession.  ``master``: ``local[N]`` on this machine, or a cluster URL
    (``spark://host:7077``, ``yarn``, ``k8s://…``).  On a local master the executors' Python is this
    interpreter, so the workers see the same packages."""
    home = java_home()
    if home is None:
        raise FieldError(
            "spark.java", "找不到 Java（安装 openjdk-17-jre-headless）no Java found: install Java 17"
        )
    os.environ.setdefault("JAVA_HOME", home)
    from pyspark.sql import SparkSession

    b = SparkSession.builder.master(master).appName(app_name)
    settings = dict(DEFAULTS)
    if master.startswith("local"):
        # the executors are child processes here: the same interpreter, so the same packages
        os.environ["PYSPARK_PYTHON"] = sys.executable
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        settings["spark.sql.shuffle.partitions"] = "8"
    if shuffle_partitions:
        settings["spark.sql.shuffle.partitions"] = str(shuffle_partitions)
    if driver_memory:
        settings["spark.driver.memory"] = driver_memory
    settings.update(conf or {})
    for k, v in settings.items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark
