package telemetry

import (
	"context"
	"errors"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/loupe-dev/loupe/telemetry/internal/conf"
)

// spanBatcher is the batching span processor in front of Setup's OTLP span
// exporters. It does what sdktrace.NewBatchSpanProcessor does with the same
// OTEL_BSP_* settings (export every Delay, or as soon as MaxExportBatchSize
// spans wait; at most MaxExportBatchSize a call; each call bounded by
// ExportTimeout), but an ended span is only appended to a slice under a
// mutex. The SDK's processor sends every span over a channel to its
// goroutine, which wakes that goroutine (and, on an otherwise idle machine,
// a thread to run it) once per span: in the demo's worker, at seven spans a
// job, those wake-ups cost more CPU than the spans themselves
// (BENCHMARKS.md, "The demo platform"). Here the goroutine wakes on its
// ticker, or when a batch is full.
//
// It keeps no bound of its own: the queueGate in front of it admits at most
// MaxQueueSize spans not yet exported, and counts the ones it refuses.
type spanBatcher struct {
	exp       sdktrace.SpanExporter
	delay     time.Duration
	timeout   time.Duration
	batchSize int

	mu      sync.Mutex
	pending []sdktrace.ReadOnlySpan
	stopped bool

	exportMu sync.Mutex    // one export at a time, in the order spans ended
	full     chan struct{} // a batch is ready; buffered, never blocks OnEnd
	quit     chan struct{}
	done     chan struct{} // closed when run returns
	stopOnce sync.Once
}

func newSpanBatcher(exp sdktrace.SpanExporter, b conf.Batch) *spanBatcher {
	s := &spanBatcher{exp: exp, delay: b.Delay, timeout: b.ExportTimeout, batchSize: max(b.MaxExportBatchSize, 1),
		full: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	if s.delay <= 0 {
		s.delay = 5 * time.Second
	}
	go s.run()
	return s
}

func (s *spanBatcher) run() {
	defer close(s.done)
	t := time.NewTicker(s.delay)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		case <-s.full:
		}
		_ = s.exportPending(context.Background())
	}
}

func (s *spanBatcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (s *spanBatcher) OnEnd(span sdktrace.ReadOnlySpan) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.pending = append(s.pending, span)
	n := len(s.pending)
	s.mu.Unlock()
	if n >= s.batchSize {
		select {
		case s.full <- struct{}{}:
		default: // already signalled
		}
	}
}

// exportPending exports every span ended so far, MaxExportBatchSize at a
// time.
func (s *spanBatcher) exportPending(ctx context.Context) error {
	s.exportMu.Lock()
	defer s.exportMu.Unlock()
	s.mu.Lock()
	batch := s.pending
	s.pending = nil
	s.mu.Unlock()
	var errs []error
	for len(batch) > 0 {
		n := min(len(batch), s.batchSize)
		ectx, cancel := ctx, context.CancelFunc(func() {})
		if s.timeout > 0 {
			ectx, cancel = context.WithTimeout(ctx, s.timeout)
		}
		errs = append(errs, s.exp.ExportSpans(ectx, batch[:n]))
		cancel()
		clear(batch[:n]) // let the spans go while the rest is exported
		batch = batch[n:]
	}
	return errors.Join(errs...)
}

// within runs f, returning early with ctx's error when ctx ends first.
func within(ctx context.Context, f func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ForceFlush exports every span ended so far.
func (s *spanBatcher) ForceFlush(ctx context.Context) error {
	return within(ctx, func() error { return s.exportPending(ctx) })
}

// Shutdown exports what is pending and shuts the exporter down; spans that
// end after it are not exported.
func (s *spanBatcher) Shutdown(ctx context.Context) error {
	first := false
	s.stopOnce.Do(func() {
		first = true
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		close(s.quit)
	})
	if !first {
		return nil
	}
	return within(ctx, func() error {
		<-s.done
		return errors.Join(s.exportPending(ctx), s.exp.Shutdown(ctx))
	})
}
