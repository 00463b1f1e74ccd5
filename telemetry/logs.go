package telemetry

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"slices"
	"sync/atomic"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"
)

// logPipeline is one Setup's logging: the local handler shared by every
// scope and the logger provider for the exporters.
type logPipeline struct {
	defaultHandler bool         // before Setup: JSON to stderr at info
	local          slog.Handler // nil: no local output
	lp             log.LoggerProvider
	level          slog.Leveler
	worker         *logWorker // nil: hand records to the bridge synchronously
}

var fallbackLocal = slog.NewJSONHandler(os.Stderr, nil)

func newLocalHandler(w io.Writer, format string, level slog.Leveler) slog.Handler {
	if w == nil {
		return nil
	}
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.NewTextHandler(w, opts)
	}
	return slog.NewJSONHandler(w, opts)
}

// handler builds the scope's handler for this pipeline.
func (p *logPipeline) handler(scope string) slog.Handler {
	if p.defaultHandler {
		return &fanout{local: fallbackLocal, level: slog.LevelInfo}
	}
	f := &fanout{local: p.local, level: p.level, worker: p.worker}
	if p.lp != nil {
		f.otel = otelslog.NewHandler(scope, otelslog.WithLoggerProvider(p.lp), otelslog.WithSchemaURL(SchemaURL))
	}
	return f
}

// fanout sends each record to the local handler, with trace_id and span_id
// added at the top level, and to the OpenTelemetry bridge, which carries the
// trace context in the record itself.
type fanout struct {
	// local is the local handler with every WithAttrs and WithGroup applied;
	// ungrouped is it without the ops from the first WithGroup on, kept in
	// groupOps, so that a record in a group can still carry its trace ids at
	// the top level.
	local, ungrouped slog.Handler
	groupOps         []handlerOp
	otel             slog.Handler
	level            slog.Leveler
	worker           *logWorker
}

func (f *fanout) Enabled(_ context.Context, l slog.Level) bool {
	return l >= f.level.Level() && (f.local != nil || f.otel != nil)
}

func (f *fanout) Handle(ctx context.Context, r slog.Record) error {
	var err error
	switch {
	case f.otel == nil:
	case f.worker != nil:
		err = f.worker.enqueue(ctx, f.otel, r)
	default:
		err = f.otel.Handle(ctx, r)
	}
	if f.local == nil {
		return err
	}
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return errors.Join(err, f.local.Handle(ctx, r))
	}
	traceID, spanID := hexIDs(sc)
	ids := [2]slog.Attr{slog.String("trace_id", traceID), slog.String("span_id", spanID)}
	if len(f.groupOps) == 0 {
		// The bridge is done with r, or has a clone of it (clipped, so that
		// appending here cannot write into the clone's attributes).
		r.AddAttrs(ids[:]...)
		return errors.Join(err, f.local.Handle(ctx, r))
	}
	// Inside groups the ids would land in the innermost one: write the groups
	// as group attributes instead, which handlers render the same way.
	nr := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	nr.AddAttrs(nest(f.groupOps, r)...)
	nr.AddAttrs(ids[:]...)
	return errors.Join(err, f.ungrouped.Handle(ctx, nr))
}

// nest returns r's attributes inside the groups and attributes of ops, as
// the handler that ops were applied to would place them.
func nest(ops []handlerOp, r slog.Record) []slog.Attr {
	attrs := make([]slog.Attr, 0, r.NumAttrs())
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, a)
		return true
	})
	for i := len(ops) - 1; i >= 0; i-- {
		if op := ops[i]; op.attrs != nil {
			attrs = append(slices.Clip(op.attrs), attrs...)
		} else {
			attrs = []slog.Attr{{Key: op.group, Value: slog.GroupValue(attrs...)}}
		}
	}
	return attrs
}

// hexIDs formats the trace and span ids with one allocation instead of two.
func hexIDs(sc trace.SpanContext) (traceID, spanID string) {
	var buf [48]byte
	tid, sid := sc.TraceID(), sc.SpanID()
	hex.Encode(buf[:32], tid[:])
	hex.Encode(buf[32:], sid[:])
	s := string(buf[:])
	return s[:32], s[32:]
}

func (f *fanout) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := *f
	if n.local != nil {
		n.local = n.local.WithAttrs(attrs)
		if len(n.groupOps) > 0 {
			n.groupOps = append(slices.Clip(n.groupOps), handlerOp{attrs: attrs})
		}
	}
	if n.otel != nil {
		n.otel = n.otel.WithAttrs(attrs)
	}
	return &n
}

func (f *fanout) WithGroup(name string) slog.Handler {
	n := *f
	if n.local != nil {
		if len(n.groupOps) == 0 {
			n.ungrouped = n.local
		}
		n.local = n.local.WithGroup(name)
		n.groupOps = append(slices.Clip(n.groupOps), handlerOp{group: name})
	}
	if n.otel != nil {
		n.otel = n.otel.WithGroup(name)
	}
	return &n
}

// scopeHandler resolves the scope's handler through the current state on
// each record, replaying WithAttrs and WithGroup on it, so loggers made
// before Setup follow it.
type scopeHandler struct {
	scope *Scope
	ops   []handlerOp
	cache atomic.Pointer[resolvedHandler]
}

type handlerOp struct {
	attrs []slog.Attr
	group string
}

type resolvedHandler struct {
	st *state
	h  slog.Handler
}

func (h *scopeHandler) resolve() slog.Handler {
	st := loadState()
	if r := h.cache.Load(); r != nil && r.st == st {
		return r.h
	}
	base := st.logs.handler(h.scope.name)
	for _, op := range h.ops {
		if op.attrs != nil {
			base = base.WithAttrs(op.attrs)
		} else {
			base = base.WithGroup(op.group)
		}
	}
	h.cache.Store(&resolvedHandler{st: st, h: base})
	return base
}

func (h *scopeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.resolve().Enabled(ctx, l)
}

func (h *scopeHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.resolve().Handle(ctx, r)
}

func (h *scopeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(handlerOp{attrs: attrs})
}

func (h *scopeHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(handlerOp{group: name})
}

func (h *scopeHandler) with(op handlerOp) *scopeHandler {
	ops := make([]handlerOp, len(h.ops), len(h.ops)+1)
	copy(ops, h.ops)
	return &scopeHandler{scope: h.scope, ops: append(ops, op)}
}

// Err returns the attribute under which an error is logged: its text, as
// both slog handlers and the OpenTelemetry bridge render it.
func Err(err error) slog.Attr {
	if err == nil {
		return slog.String("error", "<nil>")
	}
	return slog.String("error", err.Error())
}

// ErrStack is [Err] with the error's type and the caller's stack, for the
// rare record worth the cost:
//
//	log.ErrorContext(ctx, "payment failed", telemetry.ErrStack(err))
func ErrStack(err error) slog.Attr {
	msg := "<nil>"
	if err != nil {
		msg = err.Error()
	}
	return slog.Group("error",
		slog.String("message", msg),
		slog.String("type", fmt.Sprintf("%T", err)),
		slog.String("stack", string(debug.Stack())),
	)
}
