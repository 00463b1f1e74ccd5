package loupehttp

import (
	"net/http"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
)

// NewTransport wraps base (nil means [http.DefaultTransport]) so that every
// request gets a client span (kind Client, named by the method as the
// semantic conventions say), the span's context injected into the outgoing
// headers, and a measurement in http.client.request.duration. A request whose
// [Filter] returns false passes through untouched.
//
// It is otelhttp's transport (go.opentelemetry.io/contrib/instrumentation/
// net/http/otelhttp), so spans and metrics report otelhttp's scope name.
// Defaults: global tracer provider, meter provider and propagators.
func NewTransport(base http.RoundTripper, opts ...Option) http.RoundTripper {
	c := newConfig(opts)
	if base == nil {
		base = http.DefaultTransport
	}
	oo := []otelhttp.Option{
		otelhttp.WithTracerProvider(c.tracerProvider),
		otelhttp.WithMeterProvider(c.meterProvider),
		otelhttp.WithPropagators(c.propagators),
		// "{method}" as the semantic conventions name client spans without a
		// URL template; otelhttp's default is "HTTP {method}".
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			id, _ := lookupMethod(r.Method)
			return spanMethod(id)
		}),
	}
	for _, f := range c.filters {
		oo = append(oo, otelhttp.WithFilter(otelhttp.Filter(f)))
	}
	return otelhttp.NewTransport(base, oo...)
}

// NewClient returns an [http.Client] whose transport is
// NewTransport(http.DefaultTransport, opts...), with no timeout: bound each
// request with its context.
func NewClient(opts ...Option) *http.Client {
	return &http.Client{Transport: NewTransport(nil, opts...)}
}
