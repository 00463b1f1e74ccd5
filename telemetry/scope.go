package telemetry

import (
	"context"
	"log/slog"
	"maps"
	"sync"
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

	// One copy-on-write map per kind of instrument handle: a lookup by name
	// is an atomic load and a map read, with no lock, no composite key and
	// no type assertion.
	mu             sync.Mutex // serialises handle creation
	counters       atomic.Pointer[map[string]*Counter]
	floatCounters  atomic.Pointer[map[string]*FloatCounter]
	upDownCounters atomic.Pointer[map[string]*UpDownCounter]
	histograms     atomic.Pointer[map[string]*Histogram]
	intHistograms  atomic.Pointer[map[string]*IntHistogram]
	gauges         atomic.Pointer[map[string]*Gauge]
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

// Counter returns the int64 counter of that name, made on first use. Later
// calls return the same *Counter and ignore opts. The counter follows Setup
// and Shutdown, so it may be declared at package level, before Setup:
//
//	var jobs = telemetry.Get("worker").Counter("worker.jobs", metric.WithUnit("{job}"))
//
// A lookup by name costs a map read; holding the *Counter costs nothing.
func (s *Scope) Counter(name string, opts ...metric.Int64CounterOption) *Counter {
	return handle(s, &s.counters, name, func(c *Counter) {
		c.init(s, name, func(m metric.Meter) (metric.Int64Counter, error) { return m.Int64Counter(name, opts...) }, (*counterResolver)(c))
	})
}

// FloatCounter returns the float64 counter of that name, like [Scope.Counter].
func (s *Scope) FloatCounter(name string, opts ...metric.Float64CounterOption) *FloatCounter {
	return handle(s, &s.floatCounters, name, func(c *FloatCounter) {
		c.init(s, name, func(m metric.Meter) (metric.Float64Counter, error) { return m.Float64Counter(name, opts...) }, (*floatCounterResolver)(c))
	})
}

// UpDownCounter returns the int64 up-down counter of that name, like
// [Scope.Counter].
func (s *Scope) UpDownCounter(name string, opts ...metric.Int64UpDownCounterOption) *UpDownCounter {
	return handle(s, &s.upDownCounters, name, func(c *UpDownCounter) {
		c.init(s, name, func(m metric.Meter) (metric.Int64UpDownCounter, error) { return m.Int64UpDownCounter(name, opts...) }, (*upDownCounterResolver)(c))
	})
}

// Histogram returns the float64 histogram of that name, like [Scope.Counter].
// Give bucket boundaries with metric.WithExplicitBucketBoundaries on first
// use; they apply in every Setup.
func (s *Scope) Histogram(name string, opts ...metric.Float64HistogramOption) *Histogram {
	return handle(s, &s.histograms, name, func(h *Histogram) {
		h.init(s, name, func(m metric.Meter) (metric.Float64Histogram, error) { return m.Float64Histogram(name, opts...) }, (*histogramResolver)(h))
	})
}

// IntHistogram returns the int64 histogram of that name, like [Scope.Counter].
func (s *Scope) IntHistogram(name string, opts ...metric.Int64HistogramOption) *IntHistogram {
	return handle(s, &s.intHistograms, name, func(h *IntHistogram) {
		h.init(s, name, func(m metric.Meter) (metric.Int64Histogram, error) { return m.Int64Histogram(name, opts...) }, (*intHistogramResolver)(h))
	})
}

// Gauge returns the synchronous float64 gauge of that name, like
// [Scope.Counter].
func (s *Scope) Gauge(name string, opts ...metric.Float64GaugeOption) *Gauge {
	return handle(s, &s.gauges, name, func(g *Gauge) {
		g.init(s, name, func(m metric.Meter) (metric.Float64Gauge, error) { return m.Float64Gauge(name, opts...) }, (*gaugeResolver)(g))
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

// handle returns the scope's instrument handle of that kind and name, making
// it once. Handles live as long as the scope and follow every Setup by
// themselves, so this map is the only cache of instruments: nothing here
// depends on the Setup in force.
func handle[H any](s *Scope, slot *atomic.Pointer[map[string]*H], name string, init func(*H)) *H {
	if m := slot.Load(); m != nil {
		if h, ok := (*m)[name]; ok {
			return h
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := slot.Load()
	if old != nil {
		if h, ok := (*old)[name]; ok {
			return h
		}
	}
	h := new(H)
	init(h)
	next := make(map[string]*H, 1)
	if old != nil {
		maps.Copy(next, *old)
	}
	next[name] = h
	slot.Store(&next)
	return h
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
