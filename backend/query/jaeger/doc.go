// Package jaeger serves the Jaeger query API v1 (the JSON API that Jaeger UI
// and Grafana's Jaeger data source call) from a [store.Reader]:
//
//	GET /api/services
//	GET /api/services/{service}/operations
//	GET /api/operations?service=&spanKind=
//	GET /api/traces?service=&operation=&tags=&tag=&start=&end=&minDuration=&maxDuration=&limit=&lookback=&traceID=&spansOf=&compact=
//	GET /api/traces/{traceID}?compact=
//	GET /api/dependencies?endTs=&lookback=
//
// Responses have Jaeger's shapes: the {"data","total","limit","offset",
// "errors"} envelope; traces with their processes (p1, p2, … in order of
// first appearance); CHILD_OF references from parents and FOLLOWS_FROM from
// links; typed tags; span events as logs. OTLP data is shown the way Jaeger
// shows it after its OTLP translation: resource attributes (without
// service.name) as process tags, and span kind, status, scope and trace state
// as the tags span.kind, otel.status_code, error, otel.status_description,
// otel.scope.name, otel.scope.version and w3c.tracestate. Tags are sorted by
// key and log fields keep "event" first, as Jaeger's sort adjuster leaves
// them.
//
// Departures from Jaeger: the lookback parameter (such as "1h") is honoured
// when start is absent (Jaeger ignores it and uses 2 days); span flags are
// not shown; compact=true on a trace or a search leaves out what its spans
// repeat (each span's traceID, a reference's within the trace, the types of
// tags and log fields), and spansOf={service} on a search keeps only that
// service's spans of each trace found: the Loupe UI asks for both.
package jaeger
