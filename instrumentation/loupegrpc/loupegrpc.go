package loupegrpc

import (
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// ScopeName names this package. The telemetry itself reports otelgrpc's
// scope (otelgrpc.ScopeName), which produces it.
const ScopeName = "github.com/loupe-dev/loupe/instrumentation/loupegrpc"

// Version is this package's version.
const Version = "0.1.0"

// Option configures the stats handlers.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagators    propagation.TextMapPropagator
	skip           map[string]struct{}
}

// WithTracerProvider sets the tracer provider (default: the global one at
// construction time).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tracerProvider = tp })
}

// WithMeterProvider sets the meter provider (default: the global one at
// construction time).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithPropagators sets the propagators that inject (client) and extract
// (server) the context in gRPC metadata (default: the global propagator at
// construction time).
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) { c.propagators = p })
}

// WithoutMethods leaves RPCs to the given full method names (such as
// "/grpc.health.v1.Health/Check") untraced and unmeasured.
func WithoutMethods(fullMethods ...string) Option {
	return optionFunc(func(c *config) {
		if c.skip == nil {
			c.skip = make(map[string]struct{}, len(fullMethods))
		}
		for _, m := range fullMethods {
			c.skip[m] = struct{}{}
		}
	})
}

// otelgrpcOptions applies opts over the defaults (the globals, no filter).
func otelgrpcOptions(opts []Option) []otelgrpc.Option {
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
	oo := []otelgrpc.Option{
		otelgrpc.WithTracerProvider(c.tracerProvider),
		otelgrpc.WithMeterProvider(c.meterProvider),
		otelgrpc.WithPropagators(c.propagators),
	}
	if len(c.skip) > 0 {
		skip := c.skip
		oo = append(oo, otelgrpc.WithFilter(func(info *stats.RPCTagInfo) bool {
			_, ok := skip[info.FullMethodName]
			return !ok
		}))
	}
	return oo
}

// NewServerHandler returns otelgrpc's server stats handler configured by
// opts, for servers that compose several handlers.
func NewServerHandler(opts ...Option) stats.Handler {
	return otelgrpc.NewServerHandler(otelgrpcOptions(opts)...)
}

// NewClientHandler returns otelgrpc's client stats handler configured by
// opts.
func NewClientHandler(opts ...Option) stats.Handler {
	return otelgrpc.NewClientHandler(otelgrpcOptions(opts)...)
}

// ServerOption instruments a gRPC server: pass it to grpc.NewServer.
func ServerOption(opts ...Option) grpc.ServerOption {
	return grpc.StatsHandler(NewServerHandler(opts...))
}

// DialOption instruments a gRPC client connection: pass it to grpc.NewClient.
func DialOption(opts ...Option) grpc.DialOption {
	return grpc.WithStatsHandler(NewClientHandler(opts...))
}
