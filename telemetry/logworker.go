package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/trace"
)

// logWorker takes the OpenTelemetry half of each log record off the caller's
// path: converting a record for the SDK costs more than writing it as JSON
// (BENCHMARKS.md), so the caller only copies the record into a bounded queue
// and one goroutine hands it to the official bridge. When the queue is full
// the caller does that work itself: nothing is dropped, nothing waits.
type logWorker struct {
	ch       chan logItem
	quit     chan struct{}
	done     chan struct{}
	stopped  atomic.Bool
	stopOnce sync.Once
	g        *guard
}

type logItem struct {
	h     slog.Handler
	r     slog.Record
	sc    trace.SpanContext
	flush chan struct{} // non-nil: a flush marker, closed when reached
}

func newLogWorker(g *guard, size int) *logWorker {
	w := &logWorker{ch: make(chan logItem, size), quit: make(chan struct{}), done: make(chan struct{}), g: g}
	go w.run()
	return w
}

func (w *logWorker) run() {
	defer close(w.done)
	for {
		select {
		case it := <-w.ch:
			w.handle(it)
		case <-w.quit:
			for {
				select {
				case it := <-w.ch:
					w.handle(it)
				default:
					return
				}
			}
		}
	}
}

func (w *logWorker) handle(it logItem) {
	if it.flush != nil {
		close(it.flush)
		return
	}
	ctx := context.Background()
	if it.sc.IsValid() {
		ctx = trace.ContextWithSpanContext(ctx, it.sc)
	}
	_ = it.h.Handle(ctx, it.r)
}

// enqueue never blocks and loses nothing: with the queue full, the caller
// hands the record to the SDK itself, as it would without the worker
// ("caller runs"), so a flood of records costs the caller time, not data or
// memory. Records handled that way may reach the SDK before older queued
// ones; their timestamps keep the true order.
func (w *logWorker) enqueue(ctx context.Context, h slog.Handler, r slog.Record) error {
	if w.stopped.Load() {
		w.g.logs.dropped.Add(1)
		return nil
	}
	select {
	case w.ch <- logItem{h: h, r: r.Clone(), sc: trace.SpanContextFromContext(ctx)}:
		return nil
	default:
		return h.Handle(ctx, r)
	}
}

// flush waits until every record enqueued before it has reached the SDK.
func (w *logWorker) flush(ctx context.Context) error {
	if w.stopped.Load() {
		return nil
	}
	marker := make(chan struct{})
	select {
	case w.ch <- logItem{flush: marker}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-marker:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop hands what is queued to the SDK and ends the goroutine, bounded by ctx.
func (w *logWorker) stop(ctx context.Context) error {
	w.stopOnce.Do(func() {
		w.stopped.Store(true)
		close(w.quit)
	})
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
