// Package loupehttp instruments net/http servers and clients with
// OpenTelemetry traces, metrics and W3C context propagation.
//
// The server side, [Middleware] and [Handler], is written by hand because it
// sits on every request a service serves: it produces the same spans, span
// attributes and http.server.request.duration histogram as otelhttp
// (go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp, checked span
// for span by this package's tests) at a fraction of the cost (figures in
// BENCHMARKS.md). It leaves out otelhttp's two body-size histograms
// (http.server.request.body.size and http.server.response.body.size, still in
// development in the conventions); the span carries both sizes. Spans are
// named "{method} {route}" after the routing handler (such as
// [http.ServeMux]) has set [http.Request.Pattern]; a request no route matched
// keeps the method alone as its name, never the raw path. Panics are recorded
// on the span as errors and re-panicked.
//
// The client side, [NewTransport] and [NewClient], wraps otelhttp's transport:
// a client span per request, the context injected into the outgoing headers
// and the http.client.request.duration histogram.
//
// Every constructor takes [WithTracerProvider], [WithMeterProvider] and
// [WithPropagators]; each defaults to the OpenTelemetry global, read when the
// constructor is called. The attributes follow the semantic conventions
// go.opentelemetry.io/otel/semconv/v1.43.0.
package loupehttp
