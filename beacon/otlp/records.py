"""beacon's own lifecycle records, written into the spool like any OTLP log record.

Shape (docs/architecture.md, "beacon's lifecycle records"): resource
``service.name=beacon``, ``service.version``, ``beacon.session.id``; scope
``beacon``; body ``beacon.<name>``; attributes ``event.name=<name>`` plus the
caller's. Putting them in the spool gives the pipeline one ordered source.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from beacon import __version__

SCOPE_NAME = "beacon"
SERVICE_NAME = "beacon"
#: OTLP SeverityNumber INFO: lifecycle records are informational.
_SEVERITY_INFO = 9

AttributeValue = str | int | bool | float


def _any_value(value: AttributeValue) -> AnyValue:
    # bool before int: bool is a subclass of int.
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    raise TypeError(
        f"lifecycle attribute values are str/int/bool/float, got {type(value).__name__}"
    )


def _key_values(pairs: Mapping[str, AttributeValue]) -> list[KeyValue]:
    return [KeyValue(key=k, value=_any_value(v)) for k, v in pairs.items()]


def lifecycle_request(
    name: str,
    attributes: Mapping[str, AttributeValue],
    session_id: str,
    *,
    time_unix_nano: int | None = None,
) -> ExportLogsServiceRequest:
    """One log record ``beacon.<name>`` under scope ``beacon``, as an export request."""
    now = time.time_ns() if time_unix_nano is None else time_unix_nano
    req = ExportLogsServiceRequest()
    resource_logs = req.resource_logs.add()
    resource_logs.resource.attributes.extend(
        _key_values(
            {
                "service.name": SERVICE_NAME,
                "service.version": __version__,
                "beacon.session.id": session_id,
            }
        )
    )
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = SCOPE_NAME
    scope_logs.scope.version = __version__
    record = scope_logs.log_records.add()
    record.time_unix_nano = now
    record.observed_time_unix_nano = now
    record.severity_number = _SEVERITY_INFO  # type: ignore[assignment]
    record.severity_text = "INFO"
    record.body.string_value = f"beacon.{name}"
    record.event_name = name
    record.attributes.extend(_key_values({"event.name": name, **attributes}))
    return req
