// Package apiv3 serves Jaeger's api_v3 over HTTP from a Loupe store, as the
// Jaeger UI (2.15 and later) and other api_v3 clients call it:
//
//	GET /api/v3/services
//	GET /api/v3/operations?service=S&span_kind=server
//	GET /api/v3/traces?query.service_name=S&query.start_time_min=T&query.start_time_max=T…
//	GET /api/v3/traces/{trace_id}
//	GET /api/v3/trace-summaries?… (the same parameters; Jaeger 2.19's shape)
//
// Traces come back as {"result": TracesData} in OTLP JSON, errors as
// {"error":{"httpCode":…,"message":…}}, like Jaeger's gRPC gateway. Besides
// Jaeger's parameters, query.attributes takes a JSON object of attribute
// values to match.
package apiv3
