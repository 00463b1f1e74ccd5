// Package peer compares Loupe's backend with the real peers it stands in
// for: the same OTLP input, produced by telemetrygen and fanned out by a real
// OpenTelemetry Collector, goes to Jaeger v2 and to Loupe (through the
// Collector's gRPC and HTTP OTLP exporters), and the Jaeger query API
// answers of both must agree. The peers are built by scripts/install-peers;
// without them the tests skip, except under CI=true, where they fail.
package peer
