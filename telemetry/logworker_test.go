package telemetry

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// blockingHandler holds every record until released.
type blockingHandler struct {
	slog.Handler
	release chan struct{}
	handled chan string
}

func (h *blockingHandler) Handle(_ context.Context, r slog.Record) error {
	<-h.release
	h.handled <- r.Message
	return nil
}

// countingHandler counts the records it handles and on which goroutine
// kind: held until released when block is set.
type countingHandler struct {
	slog.Handler
	release chan struct{}
	mu      sync.Mutex
	handled []string
}

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if h.release != nil && r.Message == "first" {
		<-h.release
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.handled = append(h.handled, r.Message)
	return nil
}

func (h *countingHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.handled)
}

func TestLogWorkerFullQueueCallerRunsLosesNothing(t *testing.T) {
	g := newGuard(newWarner(io.Discard))
	w := newLogWorker(g, 2)
	h := &countingHandler{Handler: slog.DiscardHandler, release: make(chan struct{})}
	rec := func(msg string) slog.Record { return slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0) }

	// The worker holds "first"; two records fill the queue; the other seven
	// are handled by the caller at once.
	if err := w.enqueue(context.Background(), h, rec("first")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); w.queued() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	for i := range 9 {
		if err := w.enqueue(context.Background(), h, rec(string(rune('a'+i)))); err != nil {
			t.Fatal(err)
		}
	}
	if n := h.count(); n != 7 {
		t.Errorf("caller handled %d records itself, want 7 (queue of 2 full, one held)", n)
	}
	close(h.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.count(); n != 10 {
		t.Errorf("handled %d records in all, want every one of the 10", n)
	}
	if d := g.logs.dropped.Load(); d != 0 {
		t.Errorf("dropped %d records", d)
	}
	_ = w.enqueue(context.Background(), h, rec("late"))
	if d := g.logs.dropped.Load(); d != 1 {
		t.Errorf("a record after stop was not counted as dropped (%d)", d)
	}
}

func TestLogWorkerFlushAndStopAreBounded(t *testing.T) {
	g := newGuard(newWarner(io.Discard))
	w := newLogWorker(g, 4)
	h := &blockingHandler{Handler: slog.DiscardHandler, release: make(chan struct{}), handled: make(chan string, 10)}
	w.enqueue(context.Background(), h, slog.NewRecord(time.Now(), slog.LevelInfo, "held", 0))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.flush(ctx); err == nil {
		t.Error("flush returned before the held record was handled")
	}
	if err := w.stop(ctx); err == nil {
		t.Error("stop returned nil past its deadline with a record still held")
	}
	close(h.release)
	<-w.done
}
