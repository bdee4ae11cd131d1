"""Performance benchmarks: ``nox -s bench`` (full) or ``python -m benchmarks --smoke``."""
