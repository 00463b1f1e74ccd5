package telemetry

import (
	"context"
	"io"
	"log/slog"
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

func TestLogWorkerNeverBlocksAndCountsDrops(t *testing.T) {
	g := newGuard(newWarner(io.Discard))
	w := newLogWorker(g, 2)
	h := &blockingHandler{Handler: slog.DiscardHandler, release: make(chan struct{}), handled: make(chan string, 100)}

	rec := func(msg string) slog.Record { return slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0) }
	w.enqueue(context.Background(), h, rec("first"))
	for deadline := time.Now().Add(5 * time.Second); len(w.ch) > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond) // until the worker holds the first record
	}
	start := time.Now()
	for i := range 9 {
		w.enqueue(context.Background(), h, rec(string(rune('a'+i))))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("enqueue blocked for %v", d)
	}
	// One record is held by the handler, two wait in the queue: seven dropped.
	if got := g.logs.dropped.Load(); got != 7 {
		t.Errorf("dropped %d, want 7", got)
	}
	close(h.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(h.handled); n != 3 {
		t.Errorf("handled %d records, want the 3 accepted", n)
	}
	w.enqueue(context.Background(), h, rec("late"))
	if got := g.logs.dropped.Load(); got != 8 {
		t.Errorf("a record after stop was not counted as dropped (%d)", got)
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
