"""Table definitions for Athena and BigQuery over uploaded runs, generated from the shipped schema.

The same objects DuckDB reads in place can be queried by Athena (JSON SerDe) or
BigQuery (external tables) once a fleet outgrows one machine. Generating the
column list from the schema keeps the three engines on one set of types.
"""

from __future__ import annotations

from typing import Any

from beacon.errors import UsageError
from beacon.fleet.columns import runtime_schema

ENGINES = ("athena", "bigquery")
LAYOUTS = ("default", "hive")
_ATHENA_SCALARS = {
    "string": "string",
    "integer": "bigint",
    "number": "double",
    "boolean": "boolean",
}
_BQ_SCALARS = {"string": "STRING", "integer": "INT64", "number": "FLOAT64", "boolean": "BOOL"}


def athena_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if "enum" in schema or kind in _ATHENA_SCALARS:
        return _ATHENA_SCALARS.get(str(kind), "string")
    if kind == "array":
        return f"array<{athena_type(schema.get('items', {}))}>"
    if kind == "object":
        properties = schema.get("properties")
        if properties:
            members = ",".join(f"{n}:{athena_type(c)}" for n, c in sorted(properties.items()))
            return f"struct<{members}>"
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and values.get("type") in _ATHENA_SCALARS:
            return f"map<string,{_ATHENA_SCALARS[values['type']]}>"
    return "string"


def bigquery_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if "enum" in schema or "const" in schema or kind in _BQ_SCALARS:
        return _BQ_SCALARS.get(str(kind), "STRING")
    if kind == "array":
        return f"ARRAY<{bigquery_type(schema.get('items', {}))}>"
    properties = schema.get("properties") if kind == "object" else None
    if properties:
        members = ", ".join(f"`{n}` {bigquery_type(c)}" for n, c in sorted(properties.items()))
        return f"STRUCT<{members}>"
    # Maps of counters (redactions, summary counts) and ``raw`` stay JSON.
    return "JSON"


def athena_ddl(*, layout: str, location: str, table: str = "beacon_events") -> str:
    columns = ",\n".join(
        f"  `{name}` {athena_type(child)}"
        for name, child in sorted(runtime_schema()["properties"].items())
    )
    location = location.rstrip("/") + "/"
    lines = [f"CREATE EXTERNAL TABLE IF NOT EXISTS {table} (", columns, ")"]
    properties = ["'ignore.malformed.json' = 'true'"]
    if layout == "hive":
        # Only the date is a partition: repository and run come from the lines' own
        # ``run`` fields, and projecting them ("injected") would force every query to
        # name one.
        lines.append("PARTITIONED BY (dt string)")
    lines += [
        "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'",
        "WITH SERDEPROPERTIES (" + ", ".join(properties) + ")",
        f"LOCATION '{location}'",
    ]
    if layout == "hive":
        template = location + "dt=${dt}/"
        lines.append(
            "TBLPROPERTIES (\n"
            "  'projection.enabled' = 'true',\n"
            "  'projection.dt.type' = 'date',\n"
            "  'projection.dt.format' = 'yyyy-MM-dd',\n"
            "  'projection.dt.range' = '2026-01-01,NOW',\n"
            f"  'storage.location.template' = '{template}'\n"
            ")"
        )
    return "\n".join(lines) + ";\n"


def bigquery_ddl(*, layout: str, location: str, table: str = "beacon.events") -> str:
    uri = location.rstrip("/")
    options = [
        "format = 'NEWLINE_DELIMITED_JSON'",
        "ignore_unknown_values = true",
        "max_bad_records = 1000",
        f"uris = ['{uri}/*runtime.jsonl']",
    ]
    columns = ",\n".join(
        f"  `{name}` {bigquery_type(child)}"
        for name, child in sorted(runtime_schema()["properties"].items())
    )
    head = f"CREATE EXTERNAL TABLE `{table}` (\n{columns}\n)"
    if layout == "hive":
        # AUTO mode: BigQuery reads the keys (dt, provider, repo, run) from the paths.
        head += "\nWITH PARTITION COLUMNS"
        options.append(f"hive_partition_uri_prefix = '{uri}'")
        options.append("require_hive_partition_filter = false")
    return head + "\nOPTIONS (\n  " + ",\n  ".join(options) + "\n);\n"


def table_definition(*, engine: str, layout: str, location: str) -> str:
    if engine not in ENGINES:
        raise UsageError(f"unknown --engine {engine!r}", hint="athena or bigquery")
    if layout not in LAYOUTS:
        raise UsageError(f"unknown --layout {layout!r}", hint="default or hive")
    if engine == "athena":
        if not location.startswith("s3://"):
            raise UsageError("Athena reads s3:// locations", hint="--location s3://bucket/prefix")
        return athena_ddl(layout=layout, location=location)
    if not location.startswith("gs://"):
        raise UsageError("BigQuery reads gs:// locations", hint="--location gs://bucket/prefix")
    return bigquery_ddl(layout=layout, location=location)
