package telemetryzap

import (
	"context"

	"go.opentelemetry.io/contrib/bridges/otelzap"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/loupe-dev/loupe/telemetry"
)

// NewCore returns a zapcore.Core that writes each entry to local with
// trace_id and span_id added, and sends it over OTLP through the official
// otelzap bridge, to the Setup in force when it is written. Pass the
// context as a field, zap.Any("context", ctx) or [Context](ctx):
//
//	core := telemetryzap.NewCore("checkout", zapcore.NewCore(zapcore.NewJSONEncoder(cfg), os.Stderr, zap.InfoLevel))
//	log := zap.New(core)
//	log.Info("order placed", telemetryzap.Context(ctx), zap.String("order.id", id))
//
// Both destinations share local's level. trace_id and span_id take the
// context field's place, so pass it before any zap.Namespace to keep them at
// the top level of the entry, where log pipelines look for them (zap cannot
// close a namespace once a field opened it).
func NewCore(name string, local zapcore.Core) zapcore.Core {
	bridge := otelzap.NewCore(name, otelzap.WithLoggerProvider(telemetry.LoggerProvider()), otelzap.WithSchemaURL(telemetry.SchemaURL))
	return zapcore.NewTee(&correlated{Core: local}, &leveled{Core: bridge, level: local})
}

// leveled filters a core by another's level.
type leveled struct {
	zapcore.Core
	level zapcore.LevelEnabler
}

func (l *leveled) Enabled(lvl zapcore.Level) bool { return l.level.Enabled(lvl) && l.Core.Enabled(lvl) }

func (l *leveled) With(fields []zapcore.Field) zapcore.Core {
	return &leveled{Core: l.Core.With(fields), level: l.level}
}

func (l *leveled) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if l.level.Enabled(e.Level) {
		return l.Core.Check(e, ce)
	}
	return ce
}

// Context wraps ctx as the field the bridge reads the trace context from.
func Context(ctx context.Context) zap.Field { return zap.Any("context", ctx) }

// correlated replaces a context field by the trace_id and span_id of its span.
type correlated struct{ zapcore.Core }

func (c *correlated) With(fields []zapcore.Field) zapcore.Core {
	return &correlated{Core: c.Core.With(withIDs(fields))}
}

func (c *correlated) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *correlated) Write(e zapcore.Entry, fields []zapcore.Field) error {
	return c.Core.Write(e, withIDs(fields))
}

func withIDs(fields []zapcore.Field) []zapcore.Field {
	for i, f := range fields {
		ctx, ok := f.Interface.(context.Context)
		if !ok {
			continue
		}
		out := make([]zapcore.Field, 0, len(fields)+1)
		out = append(out, fields[:i]...)
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			out = append(out, zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String()))
		}
		return append(out, fields[i+1:]...)
	}
	return fields
}
