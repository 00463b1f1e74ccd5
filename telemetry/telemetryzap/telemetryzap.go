package telemetryzap

import (
	"context"
	"slices"

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
// Both destinations share local's level. trace_id and span_id stay at the
// top level of the entry, where log pipelines look for them, also when the
// context comes after a zap.Namespace.
func NewCore(name string, local zapcore.Core) zapcore.Core {
	bridge := otelzap.NewCore(name, otelzap.WithLoggerProvider(telemetry.LoggerProvider()), otelzap.WithSchemaURL(telemetry.SchemaURL))
	return zapcore.NewTee(&correlated{Core: local, base: local}, &leveled{Core: bridge, level: local})
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

// correlated replaces a context field by the trace_id and span_id of its
// span, at the top level of the entry: a zap.Namespace cannot be closed, so
// once With has opened one, entries carrying ids are written through base
// (the core before the namespace) with the ids first and the fields With
// added since (pending) replayed after them.
type correlated struct {
	zapcore.Core                 // every With field applied
	base         zapcore.Core    // the fields before the first namespace applied
	pending      []zapcore.Field // the With fields from that namespace on, context removed
	ids          []zapcore.Field // of a context given to With inside a namespace
}

func (c *correlated) With(fields []zapcore.Field) zapcore.Core {
	n := *c
	core := c.Core
	if len(c.pending) == 0 { // base is Core
		ns := namespaceAt(fields)
		n.base = c.base.With(withIDs(fields[:ns]))
		if ns == len(fields) {
			n.Core = n.base
			return &n
		}
		core, fields = n.base, fields[ns:]
	}
	ids, rest := splitContext(fields)
	if ids != nil {
		n.ids = ids
	}
	n.pending = append(slices.Clip(c.pending), rest...)
	n.Core = core.With(rest)
	return &n
}

func (c *correlated) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *correlated) Write(e zapcore.Entry, fields []zapcore.Field) error {
	ids, rest := splitContext(fields)
	if ids == nil {
		ids = c.ids
	}
	if ids == nil || len(c.pending) == 0 && namespaceAt(fields) == len(fields) {
		return c.Core.Write(e, withIDs(fields))
	}
	all := make([]zapcore.Field, 0, len(ids)+len(c.pending)+len(rest))
	all = append(append(append(all, ids...), c.pending...), rest...)
	return c.base.Write(e, all)
}

// namespaceAt is the index of the first zap.Namespace in fields, or
// len(fields).
func namespaceAt(fields []zapcore.Field) int {
	for i, f := range fields {
		if f.Type == zapcore.NamespaceType {
			return i
		}
	}
	return len(fields)
}

// splitContext returns the trace_id and span_id fields of the first context
// field's span (nil when there is none, or no span) and fields without that
// context field.
func splitContext(fields []zapcore.Field) (ids, rest []zapcore.Field) {
	for i, f := range fields {
		ctx, ok := f.Interface.(context.Context)
		if !ok {
			continue
		}
		rest = append(slices.Clip(fields[:i]), fields[i+1:]...)
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			ids = []zapcore.Field{zap.String("trace_id", sc.TraceID().String()), zap.String("span_id", sc.SpanID().String())}
		}
		return ids, rest
	}
	return nil, fields
}

// withIDs replaces the first context field by its span's ids, in place.
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
