package genai

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope name of the spans and metrics.
const ScopeName = "github.com/loupe-dev/loupe/genai"

// Version is the instrumentation scope version.
const Version = "0.1.0"

// Option configures an [Instrumenter].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	captureContent bool
}

// WithTracerProvider sets the tracer provider (default: the global one when
// [New] is called).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tracerProvider = tp })
}

// WithMeterProvider sets the meter provider (default: the global one when
// [New] is called).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithContentCapture records message contents, system instructions and tool
// arguments and results on spans when on. The default is off: they may hold
// personal data.
func WithContentCapture(on bool) Option {
	return optionFunc(func(c *config) { c.captureContent = on })
}

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
	return c
}
