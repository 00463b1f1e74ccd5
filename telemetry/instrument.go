package telemetry

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
)

// Counter is an int64 counter that follows Setup and Shutdown: declared once,
// at package level if you like, it records into the MeterProvider of the Setup
// in force, and into the OpenTelemetry global (a no-op unless something
// installed one) when there is none. Get one with [Scope.Counter]; the zero
// value is not usable.
//
// It implements [metric.Int64Counter], so it goes wherever the SDK's
// instrument goes. Add costs what the SDK's own Add costs, plus one load.
type Counter struct {
	embedded.Int64Counter
	follower[metric.Int64Counter]
}

// Add records incr, with the attributes of opts (prefer
// [metric.WithAttributeSet] with a set built once), into the current Setup.
func (c *Counter) Add(ctx context.Context, incr int64, opts ...metric.AddOption) {
	c.cur.Load().inst.Add(ctx, incr, opts...)
}

// FloatCounter is a float64 counter that follows Setup, like [Counter].
type FloatCounter struct {
	embedded.Float64Counter
	follower[metric.Float64Counter]
}

// Add records incr into the current Setup.
func (c *FloatCounter) Add(ctx context.Context, incr float64, opts ...metric.AddOption) {
	c.cur.Load().inst.Add(ctx, incr, opts...)
}

// UpDownCounter is an int64 up-down counter that follows Setup, like [Counter].
type UpDownCounter struct {
	embedded.Int64UpDownCounter
	follower[metric.Int64UpDownCounter]
}

// Add records incr, which may be negative, into the current Setup.
func (c *UpDownCounter) Add(ctx context.Context, incr int64, opts ...metric.AddOption) {
	c.cur.Load().inst.Add(ctx, incr, opts...)
}

// Histogram is a float64 histogram that follows Setup, like [Counter]; the
// options it was declared with (unit, bucket boundaries) apply in every Setup.
type Histogram struct {
	embedded.Float64Histogram
	follower[metric.Float64Histogram]
}

// Record records v into the current Setup.
func (h *Histogram) Record(ctx context.Context, v float64, opts ...metric.RecordOption) {
	h.cur.Load().inst.Record(ctx, v, opts...)
}

// IntHistogram is an int64 histogram that follows Setup, like [Counter].
type IntHistogram struct {
	embedded.Int64Histogram
	follower[metric.Int64Histogram]
}

// Record records v into the current Setup.
func (h *IntHistogram) Record(ctx context.Context, v int64, opts ...metric.RecordOption) {
	h.cur.Load().inst.Record(ctx, v, opts...)
}

// Gauge is a synchronous float64 gauge that follows Setup, like [Counter].
type Gauge struct {
	embedded.Float64Gauge
	follower[metric.Float64Gauge]
}

// Record records v into the current Setup.
func (g *Gauge) Record(ctx context.Context, v float64, opts ...metric.RecordOption) {
	g.cur.Load().inst.Record(ctx, v, opts...)
}

// The handles implement the OpenTelemetry instrument interfaces.
var (
	_ metric.Int64Counter       = (*Counter)(nil)
	_ metric.Float64Counter     = (*FloatCounter)(nil)
	_ metric.Int64UpDownCounter = (*UpDownCounter)(nil)
	_ metric.Float64Histogram   = (*Histogram)(nil)
	_ metric.Int64Histogram     = (*IntHistogram)(nil)
	_ metric.Float64Gauge       = (*Gauge)(nil)
)

// follower holds the SDK instrument of one Setup for a handle. Setup and
// Shutdown mark every handle stale (staleHandles, after changing the state):
// a stale slot holds the handle's resolver, which makes the instrument in
// the state now in force, with the options the handle was declared with,
// installs it and forwards the call. Every other call goes straight to the
// SDK's instrument: one atomic load (a plain load on amd64 and arm64), no
// check, no lock, no allocation, and the handle's method is small enough to
// be inlined.
type follower[T interface{ Enabled(context.Context) bool }] struct {
	cur      atomic.Pointer[slot[T]]
	scope    *Scope
	name     string
	create   func(metric.Meter) (T, error)
	resolver T // the handle seen through its resolving type
}

type slot[T any] struct {
	inst  T
	stale bool // inst is the resolver
}

// Enabled reports whether the current Setup processes measurements of this
// instrument.
func (f *follower[T]) Enabled(ctx context.Context) bool {
	return f.resolve().Enabled(ctx)
}

func (f *follower[T]) init(s *Scope, name string, create func(metric.Meter) (T, error), resolver T) {
	f.scope, f.name, f.create, f.resolver = s, name, create, resolver
	f.stale()
}

// stale makes the next call resolve. Each call stores a new slot, so that a
// resolution that began before it cannot install its instrument after it.
func (f *follower[T]) stale() { f.cur.Store(&slot[T]{inst: f.resolver, stale: true}) }

// resolve returns the instrument of the state in force, making it if the
// handle is stale. A concurrent Setup or Shutdown marks the handle stale
// again after changing the state, so an instrument made for the state it
// replaced is used for this call at most.
func (f *follower[T]) resolve() T {
	old := f.cur.Load()
	if !old.stale {
		return old.inst
	}
	c := f.scope.cache()
	inst, err := f.create(c.meter)
	if testHookResolved != nil {
		testHookResolved()
	}
	if err != nil {
		// The SDK still returns a usable no-op instrument: keep it, so the
		// hot path never fails, and say so once per Setup.
		c.st.warn.Once("instrument:"+f.name, "telemetry: instrument %q: %v", f.name, err)
	}
	f.cur.CompareAndSwap(old, &slot[T]{inst: inst})
	return inst
}

// testHookResolved, when set by a test, runs between making an instrument and
// installing it.
var testHookResolved func()

// The resolving types: a handle's stale slot holds the handle converted to
// one of them, whose methods resolve and forward.
type (
	counterResolver       Counter
	floatCounterResolver  FloatCounter
	upDownCounterResolver UpDownCounter
	histogramResolver     Histogram
	intHistogramResolver  IntHistogram
	gaugeResolver         Gauge
)

func (r *counterResolver) Add(ctx context.Context, incr int64, opts ...metric.AddOption) {
	r.resolve().Add(ctx, incr, opts...)
}

func (r *floatCounterResolver) Add(ctx context.Context, incr float64, opts ...metric.AddOption) {
	r.resolve().Add(ctx, incr, opts...)
}

func (r *upDownCounterResolver) Add(ctx context.Context, incr int64, opts ...metric.AddOption) {
	r.resolve().Add(ctx, incr, opts...)
}

func (r *histogramResolver) Record(ctx context.Context, v float64, opts ...metric.RecordOption) {
	r.resolve().Record(ctx, v, opts...)
}

func (r *intHistogramResolver) Record(ctx context.Context, v int64, opts ...metric.RecordOption) {
	r.resolve().Record(ctx, v, opts...)
}

func (r *gaugeResolver) Record(ctx context.Context, v float64, opts ...metric.RecordOption) {
	r.resolve().Record(ctx, v, opts...)
}

// staleHandles marks every instrument handle of every scope stale; the state
// has changed. A handle made concurrently is either seen here or made after
// the change, and its first call resolves in the new state.
func staleHandles() {
	scopes.Range(func(_, v any) bool {
		s := v.(*Scope)
		staleAll(&s.counters)
		staleAll(&s.floatCounters)
		staleAll(&s.upDownCounters)
		staleAll(&s.histograms)
		staleAll(&s.intHistograms)
		staleAll(&s.gauges)
		return true
	})
}

func staleAll[H interface{ stale() }](slot *atomic.Pointer[map[string]H]) {
	if m := slot.Load(); m != nil {
		for _, h := range *m {
			h.stale()
		}
	}
}
