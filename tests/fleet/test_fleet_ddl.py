"""`beacon fleet ddl`: Athena and BigQuery table definitions, checked for syntax only.

No Athena or BigQuery is reachable here: sqlglot parses the statements (in strict
mode) in each engine's dialect; BigQuery's ``WITH PARTITION COLUMNS`` clause, which
sqlglot does not know, is checked as text and the rest of the statement parsed.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import sqlglot

from beacon.fleet.columns import runtime_schema


def ddl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "beacon", "fleet", "ddl", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def parse(statement: str, dialect: str) -> sqlglot.Expression:
    return sqlglot.parse_one(
        statement.strip().rstrip(";"), read=dialect, error_level=sqlglot.ErrorLevel.RAISE
    )


@pytest.mark.parametrize("layout", ["default", "hive"])
def test_athena_ddl_parses_and_has_every_field(layout: str) -> None:
    done = ddl("--engine", "athena", "--layout", layout, "--location", "s3://bucket/beacon")
    assert done.returncode == 0, done.stderr
    expression = parse(done.stdout, "athena")
    assert isinstance(expression, sqlglot.exp.Create)
    for name in runtime_schema()["properties"]:
        assert f"`{name}` " in done.stdout
    assert ("PARTITIONED BY (dt string)" in done.stdout) == (layout == "hive")
    if layout == "hive":
        assert "'storage.location.template' = 's3://bucket/beacon/dt=${dt}/'" in done.stdout


@pytest.mark.parametrize("layout", ["default", "hive"])
def test_bigquery_ddl_parses_and_has_every_field(layout: str) -> None:
    done = ddl("--engine", "bigquery", "--layout", layout, "--location", "gs://bucket/beacon")
    assert done.returncode == 0, done.stderr
    statement = done.stdout
    if layout == "hive":
        assert "\nWITH PARTITION COLUMNS\n" in statement
        assert "hive_partition_uri_prefix = 'gs://bucket/beacon'" in statement
        statement = statement.replace("\nWITH PARTITION COLUMNS\n", "\n")
        statement = statement.replace(",\n  hive_partition_uri_prefix = 'gs://bucket/beacon'", "")
        statement = statement.replace(",\n  require_hive_partition_filter = false", "")
    expression = parse(statement, "bigquery")
    assert isinstance(expression, sqlglot.exp.Create)
    # Constant-valued fields are strings, not JSON.
    assert "`vendor` STRING" in expression.sql("bigquery")
    for name in runtime_schema()["properties"]:
        assert f"`{name}` " in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--engine", "presto", "--location", "s3://b"), "unknown --engine"),
        (("--engine", "athena", "--location", "gs://b"), "Athena reads s3://"),
        (("--engine", "bigquery", "--location", "s3://b"), "BigQuery reads gs://"),
        (("--layout", "flat", "--location", "s3://b"), "unknown --layout"),
        ((), "--location is required"),
    ],
)
def test_bad_ddl_usage_exits_2(args: tuple[str, ...], message: str) -> None:
    done = ddl(*args)
    assert done.returncode == 2
    assert message in done.stderr
