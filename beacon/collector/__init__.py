"""beacon's OTLP collector: receivers (HTTP always, gRPC on demand) in front of one spool.

``Collector`` is the entry point; ``grpc`` is imported only when a collector
with the gRPC receiver starts.
"""

from __future__ import annotations

from beacon.collector.config import CollectorConfig
from beacon.collector.daemon import Collector, DrainResult

__all__ = ["Collector", "CollectorConfig", "DrainResult"]
