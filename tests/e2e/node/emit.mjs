// Emit the records of otel_spec.json through the Node.js OpenTelemetry SDK, then flush and exit.
//
//   node emit.mjs <otel_spec.json> <run id>
//
// The protocol comes from OTEL_EXPORTER_OTLP_PROTOCOL (grpc | http/protobuf | http/json) and
// picks the exporter package; endpoint, headers, compression and metric temporality are read
// by the exporters themselves from the standard OTEL_EXPORTER_OTLP_* variables, exactly as an
// instrumented application would. Exits 0 only when every export succeeded, so a test sees a
// failed export as a failed client rather than as a silently missing record.
import { readFileSync } from "node:fs";

import { context, diag, DiagLogLevel, SpanStatusCode, trace } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider } from "@opentelemetry/sdk-logs";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";

const EXPORTER_PACKAGES = {
  grpc: ["exporter-logs-otlp-grpc", "exporter-metrics-otlp-grpc", "exporter-trace-otlp-grpc"],
  "http/protobuf": [
    "exporter-logs-otlp-proto",
    "exporter-metrics-otlp-proto",
    "exporter-trace-otlp-proto",
  ],
  "http/json": ["exporter-logs-otlp-http", "exporter-metrics-otlp-http", "exporter-trace-otlp-http"],
};

const [specPath, runId] = process.argv.slice(2);
if (!specPath || !runId) {
  console.error("usage: node emit.mjs <otel_spec.json> <run id>");
  process.exit(2);
}
const protocol = process.env.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf";
const packages = EXPORTER_PACKAGES[protocol];
if (!packages) {
  console.error(`unsupported OTEL_EXPORTER_OTLP_PROTOCOL=${protocol}`);
  process.exit(2);
}

// Export failures are reported through diag; count them so the exit code tells.
let exportErrors = 0;
diag.setLogger(
  {
    error: (...args) => {
      exportErrors += 1;
      console.error("otel error:", ...args);
    },
    warn: (...args) => console.error("otel warn:", ...args),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  },
  DiagLogLevel.WARN,
);

const spec = JSON.parse(readFileSync(specPath, "utf8"));
const [logsPkg, metricsPkg, tracesPkg] = await Promise.all(
  packages.map((name) => import(`@opentelemetry/${name}`)),
);
const resource = resourceFromAttributes({
  "service.name": "e2e-node",
  "e2e.run.id": runId,
  "e2e.client": "node",
});

const loggerProvider = new LoggerProvider({
  resource,
  processors: [new BatchLogRecordProcessor(new logsPkg.OTLPLogExporter())],
});
const meterProvider = new MeterProvider({
  resource,
  // Only the shutdown flush exports: one interval never elapses in a run this short.
  readers: [
    new PeriodicExportingMetricReader({
      exporter: new metricsPkg.OTLPMetricExporter(),
      exportIntervalMillis: 600000,
    }),
  ],
});
const tracerProvider = new BasicTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(new tracesPkg.OTLPTraceExporter())],
});

const logger = loggerProvider.getLogger("e2e.client");
for (const record of spec.logs) {
  logger.emit({
    body: record.body,
    severityText: record.severity_text,
    severityNumber: record.severity_number,
    attributes: record.attributes,
  });
}

const meter = meterProvider.getMeter("e2e.client");
const counter = meter.createCounter(spec.counter.name, {
  unit: spec.counter.unit,
  description: spec.counter.description,
});
for (const [value, attributes] of spec.counter.adds) counter.add(value, attributes);
const histogram = meter.createHistogram(spec.histogram.name, {
  unit: spec.histogram.unit,
  description: spec.histogram.description,
});
for (const [value, attributes] of spec.histogram.records) histogram.record(value, attributes);

const tracer = tracerProvider.getTracer("e2e.client");
for (const parentSpec of spec.spans) {
  const parent = tracer.startSpan(parentSpec.name, { attributes: parentSpec.attributes });
  const parentContext = trace.setSpan(context.active(), parent);
  for (const childSpec of parentSpec.children) {
    const child = tracer.startSpan(childSpec.name, { attributes: childSpec.attributes }, parentContext);
    for (const eventName of childSpec.events ?? []) child.addEvent(eventName);
    if (childSpec.error) child.setStatus({ code: SpanStatusCode.ERROR, message: childSpec.error });
    child.end();
  }
  parent.end();
}

await Promise.all([loggerProvider.shutdown(), meterProvider.shutdown(), tracerProvider.shutdown()]);
process.exit(exportErrors === 0 ? 0 : 1);
