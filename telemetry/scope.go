package telemetry

import (
	"context"
	"log/slog"
	"maps"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// SchemaURL is the semantic-conventions schema every Loupe package follows
// (semconv v1.43.0, the version OTel Go v1.47.0 and contrib v0.72.0 use).
const SchemaURL = semconv.SchemaURL

// Scope is a named source of spans, metrics and logs (the instrumentation
// scope of OpenTelemetry). Get one with [Get]; the zero value is not usable.
type Scope struct {
	name string
	c    atomic.Pointer[scopeCache]
	log  atomic.Pointer[slog.Logger]
}

// Name returns the scope's name.
func (s *Scope) Name() string { return s.name }

// Tracer returns the scope's tracer from the current Setup, for full control
// of span options (kind, links, timestamps).
func (s *Scope) Tracer() trace.Tracer { return s.cache().tracer }

// Meter returns the scope's meter from the current Setup.
func (s *Scope) Meter() metric.Meter { return s.cache().meter }

// disabledSpan is returned when telemetry is disabled: boxed once, so
// starting a span allocates nothing and the context comes back unchanged.
var disabledSpan trace.Span = noop.Span{}

// Start starts a span with attributes as a child of any span in ctx. End it
// with span.End, or with [End] to record an error.
func (s *Scope) Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	c := s.cache()
	if c.st.disabled {
		return ctx, disabledSpan
	}
	if len(attrs) == 0 {
		return c.tracer.Start(ctx, name)
	}
	return c.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}

// StartSpan starts a span with raw OpenTelemetry options (kind, links,
// timestamps, attributes).
func (s *Scope) StartSpan(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	c := s.cache()
	if c.st.disabled {
		return ctx, disabledSpan
	}
	return c.tracer.Start(ctx, name, opts...)
}

// Counter returns the int64 counter of that name, creating it on first use.
// Later calls return the cached instrument and ignore opts.
func (s *Scope) Counter(name string, opts ...metric.Int64CounterOption) metric.Int64Counter {
	c := s.cache()
	return instrument(c, &c.counters, name, func(m metric.Meter) (metric.Int64Counter, error) {
		return m.Int64Counter(name, opts...)
	})
}

// FloatCounter returns the float64 counter of that name, cached like [Scope.Counter].
func (s *Scope) FloatCounter(name string, opts ...metric.Float64CounterOption) metric.Float64Counter {
	c := s.cache()
	return instrument(c, &c.floatCounters, name, func(m metric.Meter) (metric.Float64Counter, error) {
		return m.Float64Counter(name, opts...)
	})
}

// UpDownCounter returns the int64 up-down counter of that name, cached.
func (s *Scope) UpDownCounter(name string, opts ...metric.Int64UpDownCounterOption) metric.Int64UpDownCounter {
	c := s.cache()
	return instrument(c, &c.upDownCounters, name, func(m metric.Meter) (metric.Int64UpDownCounter, error) {
		return m.Int64UpDownCounter(name, opts...)
	})
}

// Histogram returns the float64 histogram of that name, cached. Give bucket
// boundaries with metric.WithExplicitBucketBoundaries on first use.
func (s *Scope) Histogram(name string, opts ...metric.Float64HistogramOption) metric.Float64Histogram {
	c := s.cache()
	return instrument(c, &c.histograms, name, func(m metric.Meter) (metric.Float64Histogram, error) {
		return m.Float64Histogram(name, opts...)
	})
}

// IntHistogram returns the int64 histogram of that name, cached.
func (s *Scope) IntHistogram(name string, opts ...metric.Int64HistogramOption) metric.Int64Histogram {
	c := s.cache()
	return instrument(c, &c.intHistograms, name, func(m metric.Meter) (metric.Int64Histogram, error) {
		return m.Int64Histogram(name, opts...)
	})
}

// Gauge returns the synchronous float64 gauge of that name, cached.
func (s *Scope) Gauge(name string, opts ...metric.Float64GaugeOption) metric.Float64Gauge {
	c := s.cache()
	return instrument(c, &c.gauges, name, func(m metric.Meter) (metric.Float64Gauge, error) {
		return m.Float64Gauge(name, opts...)
	})
}

// ObservableGauge registers a gauge whose value callback reports at each
// collection. It is registered with the current Setup only: call it after
// Setup (the returned registration's Unregister removes it). Observable
// instruments are not cached: each call registers a new callback.
func (s *Scope) ObservableGauge(name string, callback func(context.Context) (float64, []attribute.KeyValue), opts ...metric.Float64ObservableGaugeOption) (metric.Registration, error) {
	m := s.cache().meter
	g, err := m.Float64ObservableGauge(name, opts...)
	if err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		v, attrs := callback(ctx)
		o.ObserveFloat64(g, v, metric.WithAttributes(attrs...))
		return nil
	}, g)
}

// instrument returns the cached instrument of that kind and name, creating it
// once. A creation error (an invalid name, a conflicting kind) is reported
// once as a warning; the SDK's returned no-op instrument is cached anyway so
// that the hot path never fails.
func instrument[T any](c *scopeCache, slot *atomic.Pointer[map[string]T], name string, create func(metric.Meter) (T, error)) T {
	if m := slot.Load(); m != nil {
		if v, ok := (*m)[name]; ok {
			return v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := slot.Load()
	if old != nil {
		if v, ok := (*old)[name]; ok {
			return v
		}
	}
	inst, err := create(c.meter)
	if err != nil {
		c.st.warn.Once("instrument:"+name, "telemetry: instrument %q: %v", name, err)
	}
	next := make(map[string]T, 1)
	if old != nil {
		maps.Copy(next, *old)
	}
	next[name] = inst
	slot.Store(&next)
	return inst
}

// Logger returns the scope's *slog.Logger. Records go to the local handler
// (JSON or text, with trace_id and span_id from the context) and, when a logs
// exporter is configured, over OTLP with the trace context attached. The
// logger follows Setup and Shutdown like the rest of the scope.
func (s *Scope) Logger() *slog.Logger {
	if l := s.log.Load(); l != nil {
		return l
	}
	l := slog.New(&scopeHandler{scope: s})
	if s.log.CompareAndSwap(nil, l) {
		return l
	}
	return s.log.Load()
}
