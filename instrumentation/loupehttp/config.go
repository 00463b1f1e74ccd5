package loupehttp

import (
	"net/http"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope name of the server middleware's
// tracer and meter. The client transport reports under otelhttp's scope.
const ScopeName = "github.com/loupe-dev/loupe/instrumentation/loupehttp"

// Version is the instrumentation scope version.
const Version = "0.1.0"

// Filter decides whether a request is traced and measured: it returns false
// for requests to pass through untouched, such as health checks.
type Filter func(*http.Request) bool

// Option configures the server middleware or the client transport.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagators    propagation.TextMapPropagator
	filters        []Filter
	serverName     string
}

// newConfig applies opts over the defaults: the global tracer provider, meter
// provider and propagators, no filter and no server name.
func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.tracerProvider == nil {
		c.tracerProvider = otel.GetTracerProvider()
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	if c.propagators == nil {
		c.propagators = otel.GetTextMapPropagator()
	}
	return c
}

// WithTracerProvider sets the tracer provider. The default is the global one
// ([otel.GetTracerProvider]) at construction time. A nil provider keeps the
// default.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tracerProvider = tp })
}

// WithMeterProvider sets the meter provider. The default is the global one
// ([otel.GetMeterProvider]) at construction time. A nil provider keeps the
// default.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithPropagators sets the propagators that extract the incoming context
// (server) or inject the outgoing one (client). The default is the global
// propagator ([otel.GetTextMapPropagator]) at construction time.
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) { c.propagators = p })
}

// WithFilter adds a filter. A request is traced and measured only when every
// filter returns true.
func WithFilter(f Filter) Option {
	return optionFunc(func(c *config) {
		if f != nil {
			c.filters = append(c.filters, f)
		}
	})
}

// WithoutPaths is a filter option that skips requests whose URL path is one of
// paths exactly, such as "/healthz" and "/metrics".
func WithoutPaths(paths ...string) Option {
	skip := make(map[string]struct{}, len(paths))
	for _, p := range paths {
		skip[p] = struct{}{}
	}
	return WithFilter(func(r *http.Request) bool {
		_, ok := skip[r.URL.Path]
		return !ok
	})
}

// WithServerName sets the primary server name ("host" or "host:port") the
// server.address and server.port attributes report. By default they come from
// each request's Host header, as in otelhttp.
func WithServerName(name string) Option {
	return optionFunc(func(c *config) { c.serverName = name })
}
