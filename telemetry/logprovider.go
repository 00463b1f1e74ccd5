package telemetry

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/log/embedded"
)

// LoggerProvider returns an OpenTelemetry LoggerProvider for log bridges
// (zap, logr, …) that follows Setup and Shutdown the way scopes do: loggers
// taken from it before Setup send to the Setup in force at each record.
func LoggerProvider() log.LoggerProvider { return followingProvider{} }

type followingProvider struct{ embedded.LoggerProvider }

func (followingProvider) Logger(name string, opts ...log.LoggerOption) log.Logger {
	return &followingLogger{name: name, opts: opts}
}

type followingLogger struct {
	embedded.Logger
	name  string
	opts  []log.LoggerOption
	cache atomic.Pointer[resolvedLogger]
}

type resolvedLogger struct {
	st *state
	l  log.Logger
}

func (f *followingLogger) resolve() log.Logger {
	st := loadState()
	if r := f.cache.Load(); r != nil && r.st == st {
		return r.l
	}
	l := st.lp.Logger(f.name, f.opts...)
	f.cache.Store(&resolvedLogger{st: st, l: l})
	return l
}

func (f *followingLogger) Emit(ctx context.Context, r log.Record) { f.resolve().Emit(ctx, r) }

func (f *followingLogger) Enabled(ctx context.Context, p log.EnabledParameters) bool {
	return f.resolve().Enabled(ctx, p)
}
