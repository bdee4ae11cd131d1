"""beacon: capture the OpenTelemetry telemetry of AI coding agents in CI."""

__version__ = "0.1.0"
