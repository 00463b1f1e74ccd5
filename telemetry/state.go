package telemetry

import (
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// state is what scopes resolve their tracer, meter and logger through. Setup
// installs a new one and Shutdown (or a test reset) puts the previous one
// back; scopes notice the swap by pointer and rebuild their caches, so a
// package-level `var s = telemetry.Get("x")` works before, during and after
// any number of Setups. The OTel globals cannot do this: they delegate once.
type state struct {
	disabled bool
	tp       trace.TracerProvider
	mp       metric.MeterProvider
	lp       log.LoggerProvider // nil: no logs exporter
	prop     propagation.TextMapPropagator
	logs     *logPipeline
	warn     *warner
}

var (
	current atomic.Pointer[state]

	// fallback is used before any Setup: the OTel globals (whatever another
	// library installed, else no-ops) and slog's default handler.
	fallbackOnce sync.Once
	fallback     *state
)

func loadState() *state {
	if st := current.Load(); st != nil {
		return st
	}
	fallbackOnce.Do(func() {
		fallback = &state{
			tp:   otel.GetTracerProvider(),
			mp:   otel.GetMeterProvider(),
			lp:   otel.GetLoggerProvider(),
			prop: otel.GetTextMapPropagator(),
			logs: &logPipeline{defaultHandler: true},
			warn: newWarner(nil),
		}
	})
	return fallback
}

// swapState installs st and returns a function that restores the previous
// state, in the manner of zap.ReplaceGlobals.
func swapState(st *state) (restore func()) {
	prev := current.Swap(st)
	staleHandles()
	return func() {
		if current.CompareAndSwap(st, prev) {
			staleHandles()
		}
	}
}

// scopes holds every Scope handed out, so Get(name) returns the same value
// (and the same instrument cache) each time.
var scopes sync.Map // string → *Scope

// Get returns the named scope: a tracer, a meter with cached instruments, and
// an slog logger, all resolved through the current Setup. It is safe to call
// at package initialisation, before Setup; the scope follows every later
// Setup and Shutdown.
func Get(name string) *Scope {
	if s, ok := scopes.Load(name); ok {
		return s.(*Scope)
	}
	s, _ := scopes.LoadOrStore(name, &Scope{name: name})
	return s.(*Scope)
}

// scopeCache is a scope's view of one state. Instruments are not cached
// here: each handle follows the state by itself (instrument.go).
type scopeCache struct {
	st     *state
	tracer trace.Tracer
	meter  metric.Meter
}

func (s *Scope) cache() *scopeCache {
	st := loadState()
	c := s.c.Load()
	if c != nil && c.st == st {
		return c
	}
	nc := &scopeCache{
		st:     st,
		tracer: st.tp.Tracer(s.name, trace.WithSchemaURL(SchemaURL)),
		meter:  st.mp.Meter(s.name, metric.WithSchemaURL(SchemaURL)),
	}
	if s.c.CompareAndSwap(c, nc) {
		return nc
	}
	if c = s.c.Load(); c != nil && c.st == st {
		return c
	}
	return nc
}
