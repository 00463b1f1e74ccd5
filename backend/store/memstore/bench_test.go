package memstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
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

// realisticLogs is n log records of one request each, as slog through the
// OpenTelemetry bridge writes them: a sentence of a body and five
// attributes, in a trace.
func realisticLogs(seq, n int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "checkout")
	rl.Resource().Attributes().PutStr("service.version", "1.4.2")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName("checkout/cart")
	tiers := [...]string{"free", "silver", "gold"}
	for i := range n {
		id := seq*n + i + 1
		r := sl.LogRecords().AppendEmpty()
		r.SetTimestamp(pcommon.NewTimestampFromTime(storetest.Base.Add(time.Duration(id) * time.Millisecond)))
		r.SetSeverityNumber(plog.SeverityNumberInfo)
		r.SetSeverityText("INFO")
		r.SetTraceID(pcommon.TraceID{1, byte(id >> 16), byte(id >> 8), byte(id / 8)})
		r.SetSpanID(pcommon.SpanID{2, byte(id >> 16), byte(id >> 8), byte(id)})
		r.Body().SetStr(fmt.Sprintf("Cart %d loaded with %d items in %d ms", id, id%7, id%40))
		a := r.Attributes()
		a.PutStr("cart.id", fmt.Sprintf("c-%08d", id))
		a.PutStr("user.tier", tiers[id%3])
		a.PutInt("items", int64(id%7))
		a.PutStr("http.route", "/api/cart/{id}")
		a.PutStr("code.function", "github.com/acme/checkout/cart.(*Service).Load")
	}
	return ld
}

// BenchmarkFindLogs searches a full store (DefaultMaxBytes of the records
// of realisticLogs) for text that no record holds, which reads every
// record, and for an attribute's key=value.
func BenchmarkFindLogs(b *testing.B) {
	s := memstore.New()
	defer s.Close()
	ctx := context.Background()
	for i, last := 0, int64(-1); s.Bytes() > last; i++ { // until writes evict
		last = s.Bytes()
		if _, err := s.WriteLogs(ctx, realisticLogs(i, 1000)); err != nil {
			b.Fatal(err)
		}
	}
	held := 0
	for range s.FindLogs(ctx, store.LogQuery{Limit: 1 << 30}) {
		held++
	}
	b.Logf("%d records held in %d MiB", held, s.Bytes()>>20)
	for _, q := range []string{"no such text", "user.tier=gold", ""} {
		b.Run(q, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, err := range s.FindLogs(ctx, store.LogQuery{Text: q, Limit: 100}) {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
