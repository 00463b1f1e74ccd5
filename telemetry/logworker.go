package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// logWorker takes the OpenTelemetry half of each log record off the caller's
// path: converting a record for the SDK costs more than writing it as JSON
// (BENCHMARKS.md), so the caller only copies the record into a bounded queue
// and one goroutine hands it to the official bridge. When the queue is full
// the caller does that work itself: nothing is dropped, nothing waits.
//
// The goroutine wakes once per logLinger for whatever was queued meanwhile,
// not once per record: waking a goroutine (and, on an idle machine, a thread
// to run it) costs more CPU than the handing over itself, and the SDK
// batches the records for a second or more anyway (BENCHMARKS.md, "The demo
// platform").
type logWorker struct {
	mu      sync.Mutex
	pending []logItem
	size    int
	armed   bool        // the timer runs for what is pending
	timer   *time.Timer // fires logLinger after the first pending record

	flushReq chan chan struct{}
	quit     chan struct{}
	done     chan struct{}
	stopped  atomic.Bool
	stopOnce sync.Once
	g        *guard
}

// logLinger is how long a record may wait in the queue for others to be
// handed over with it.
const logLinger = 100 * time.Millisecond

type logItem struct {
	h  slog.Handler
	r  slog.Record
	sc trace.SpanContext
}

func newLogWorker(g *guard, size int) *logWorker {
	w := &logWorker{size: max(size, 1), timer: time.NewTimer(time.Hour), flushReq: make(chan chan struct{}),
		quit: make(chan struct{}), done: make(chan struct{}), g: g}
	w.timer.Stop()
	go w.run()
	return w
}

func (w *logWorker) run() {
	defer close(w.done)
	for {
		select {
		case <-w.timer.C:
			w.drain()
		case reached := <-w.flushReq:
			w.drain()
			close(reached)
		case <-w.quit:
			w.drain()
			return
		}
	}
}

// drain hands every queued record to the SDK, oldest first.
func (w *logWorker) drain() {
	w.mu.Lock()
	batch := w.pending
	w.pending = nil
	w.armed = false
	w.mu.Unlock()
	for i, it := range batch {
		ctx := context.Background()
		if it.sc.IsValid() {
			ctx = trace.ContextWithSpanContext(ctx, it.sc)
		}
		_ = it.h.Handle(ctx, it.r)
		batch[i] = logItem{}
	}
}

// queued is the number of records waiting for the goroutine.
func (w *logWorker) queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
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
	w.mu.Lock()
	if len(w.pending) >= w.size {
		w.mu.Unlock()
		return h.Handle(ctx, r)
	}
	w.pending = append(w.pending, logItem{h: h, r: r.Clone(), sc: trace.SpanContextFromContext(ctx)})
	arm := !w.armed
	w.armed = true
	w.mu.Unlock()
	if arm {
		w.timer.Reset(logLinger)
	}
	return nil
}

// flush waits until every record enqueued before it has reached the SDK.
func (w *logWorker) flush(ctx context.Context) error {
	if w.stopped.Load() {
		return nil
	}
	reached := make(chan struct{})
	select {
	case w.flushReq <- reached:
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-reached:
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
