package telemetry

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/loupe-dev/loupe/telemetry/internal/conf"
)

// batchRecorder records the size of each export call.
type batchRecorder struct {
	*tracetest.InMemoryExporter
	mu    sync.Mutex
	calls []int
}

func (r *batchRecorder) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	r.mu.Lock()
	r.calls = append(r.calls, len(spans))
	r.mu.Unlock()
	return r.InMemoryExporter.ExportSpans(ctx, spans)
}

func (r *batchRecorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.calls...)
}

func newBatchTest(t *testing.T, b conf.Batch) (*batchRecorder, *sdktrace.TracerProvider) {
	t.Helper()
	rec := &batchRecorder{InMemoryExporter: tracetest.NewInMemoryExporter()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(newSpanBatcher(rec, b)))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return rec, tp
}

func endSpans(tp *sdktrace.TracerProvider, n int) {
	tr := tp.Tracer("t")
	for range n {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
}

func TestSpanBatcher(t *testing.T) {
	t.Run("full batch exported before the delay", func(t *testing.T) {
		rec, tp := newBatchTest(t, conf.Batch{Delay: time.Hour, ExportTimeout: time.Second, MaxExportBatchSize: 4})
		endSpans(tp, 4)
		deadline := time.Now().Add(5 * time.Second)
		for len(rec.GetSpans()) < 4 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if got := rec.sizes(); len(got) != 1 || got[0] != 4 {
			t.Fatalf("exports = %v, want one of 4", got)
		}
	})
	t.Run("exported every delay", func(t *testing.T) {
		rec, tp := newBatchTest(t, conf.Batch{Delay: 20 * time.Millisecond, ExportTimeout: time.Second, MaxExportBatchSize: 512})
		endSpans(tp, 3)
		deadline := time.Now().Add(5 * time.Second)
		for len(rec.GetSpans()) < 3 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := len(rec.GetSpans()); n != 3 {
			t.Fatalf("%d spans exported, want 3", n)
		}
	})
	t.Run("flush splits into batches", func(t *testing.T) {
		rec, tp := newBatchTest(t, conf.Batch{Delay: time.Hour, ExportTimeout: time.Second, MaxExportBatchSize: 1000})
		endSpans(tp, 10)
		if err := tp.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := len(rec.GetSpans()); n != 10 {
			t.Fatalf("%d spans exported after ForceFlush, want 10", n)
		}
		// What is pending goes in calls of at most MaxExportBatchSize.
		rec2 := &batchRecorder{InMemoryExporter: tracetest.NewInMemoryExporter()}
		b := &spanBatcher{exp: rec2, batchSize: 4, timeout: time.Second}
		b.pending = append(b.pending, rec.GetSpans().Snapshots()...)
		if err := b.exportPending(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := rec2.sizes(); len(got) != 3 || got[0] != 4 || got[1] != 4 || got[2] != 2 {
			t.Fatalf("exports = %v, want [4 4 2]", got)
		}
	})
	t.Run("shutdown exports what is pending, then nothing", func(t *testing.T) {
		rec := &batchRecorder{InMemoryExporter: tracetest.NewInMemoryExporter()}
		b := newSpanBatcher(rec, conf.Batch{Delay: time.Hour, ExportTimeout: time.Second, MaxExportBatchSize: 512})
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
		endSpans(tp, 5)
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got := rec.sizes(); len(got) != 1 || got[0] != 5 {
			t.Fatalf("exports = %v, want [5]", got)
		}
		_, s := sdktrace.NewTracerProvider().Tracer("t").Start(context.Background(), "late")
		s.End()
		b.OnEnd(s.(sdktrace.ReadOnlySpan))
		if err := b.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := b.Shutdown(context.Background()); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
		if got := rec.sizes(); len(got) != 1 {
			t.Fatalf("exports = %v after Shutdown, want none more", got)
		}
	})
}

// BenchmarkSpanEnd is the cost of ending a sampled span with the SDK's batch
// processor and with spanBatcher, exports included (to a discarding
// exporter), in CPU time of the process (the wall time is the sleeps').
// Run with -cpu 2: the SDK's processor wakes its goroutine on each span.
func BenchmarkSpanEnd(b *testing.B) {
	cfg := conf.Batch{Delay: time.Second, ExportTimeout: time.Second, MaxQueueSize: 2048, MaxExportBatchSize: 512}
	for _, bc := range []struct {
		name string
		p    func() sdktrace.SpanProcessor
	}{
		{"sdk", func() sdktrace.SpanProcessor {
			return sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter(), sdktrace.WithBatchTimeout(cfg.Delay),
				sdktrace.WithMaxQueueSize(cfg.MaxQueueSize), sdktrace.WithMaxExportBatchSize(cfg.MaxExportBatchSize))
		}},
		{"loupe", func() sdktrace.SpanProcessor { return newSpanBatcher(tracetest.NewNoopExporter(), cfg) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(bc.p()))
			defer func() { _ = tp.Shutdown(context.Background()) }()
			tr := tp.Tracer("b")
			ctx := context.Background()
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				_, s := tr.Start(ctx, "s")
				s.End()
				// A request's spans are apart in time: the processor's
				// goroutine is parked again before the next one ends.
				time.Sleep(20 * time.Microsecond)
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
