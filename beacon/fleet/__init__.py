"""The fleet view: many runs' uploaded ``runtime.jsonl`` and ``result.json``, queried with DuckDB.

``source`` lists and fetches the objects (a local tree, ``s3://`` or ``gs://``) into a
local cache; ``views`` opens DuckDB over them (``events``, ``runs``); ``figures``
computes the report; ``render`` prints it. Nothing here imports the collector or the
pipeline: the runtime lines are the only input.
"""
