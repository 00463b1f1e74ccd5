// Package loupegrpc instruments gRPC servers and clients with OpenTelemetry
// traces, metrics and context propagation through otelgrpc's stats handlers
// (go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc).
//
// Add [ServerOption] to grpc.NewServer and [DialOption] to grpc.NewClient:
// each RPC gets a span (kind Server or Client) named after its full method,
// with the rpc.* attributes and rpc.response.status_code of the semantic
// conventions go.opentelemetry.io/otel/semconv/v1.43.0, and a measurement in
// rpc.server.call.duration or rpc.client.call.duration. The client injects the
// span context into the outgoing metadata; the server continues it, so an
// HTTP → gRPC call chain is one trace.
//
// Every constructor takes [WithTracerProvider], [WithMeterProvider] and
// [WithPropagators], each defaulting to the OpenTelemetry global at
// construction time. Spans and metrics report otelgrpc's instrumentation
// scope; [ScopeName] names this package.
package loupegrpc
