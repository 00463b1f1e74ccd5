package memstore_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

// BenchmarkWriteTraces stores 500-span batches; spans/s = 500 × batches/s.
func BenchmarkWriteTraces(b *testing.B) {
	s := memstore.New(memstore.WithMaxBytes(256 << 20))
	defer s.Close()
	batches := make([]ptrace.Traces, 64)
	for i := range batches {
		batches[i] = realisticBatch(i, 500)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.WriteTraces(context.Background(), batches[i%len(batches)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "spans/s")
}

// BenchmarkQueries runs trace-by-id and a service+operation search over
// 100k stored spans.
func BenchmarkQueries(b *testing.B) {
	s := memstore.New(memstore.WithMaxBytes(1 << 30))
	defer s.Close()
	for i := range 200 {
		if _, err := s.WriteTraces(context.Background(), realisticBatch(i, 500)); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("TraceByID", func(b *testing.B) {
		b.ReportAllocs()
		id := store.TraceID{1, 0, 0, 1} // realisticBatch's spans 8-15
		for b.Loop() {
			if _, err := s.Trace(context.Background(), id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SearchServiceOperation", func(b *testing.B) {
		b.ReportAllocs()
		q := store.TraceQuery{Service: "checkout", Operation: "GET /api/cart/{id}", Limit: 20}
		for b.Loop() {
			for _, err := range s.FindTraces(context.Background(), q) {
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
