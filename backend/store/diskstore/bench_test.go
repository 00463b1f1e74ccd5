package diskstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/store/diskstore"
)

func batch(seq, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := range n {
		id := seq*n + i + 1
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID{1, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id / 8)})
		s.SetSpanID(pcommon.SpanID{2, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)})
		s.SetName("GET /api/cart/{id}")
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(time.Unix(1795316400, 0)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(time.Unix(1795316400, 3e6)))
		s.Attributes().PutStr("http.route", "/api/cart/{id}")
		s.Attributes().PutStr("url.path", fmt.Sprintf("/api/cart/%d", id))
		s.Attributes().PutInt("http.response.status_code", 200)
	}
	return td
}

// BenchmarkWriteTraces appends 500-span batches: by default (fsync within a
// second) and with an fsync before every acknowledgement.
func BenchmarkWriteTraces(b *testing.B) {
	for _, syncEach := range []bool{false, true} {
		b.Run(fmt.Sprintf("syncEveryWrite=%v", syncEach), func(b *testing.B) {
			s, err := diskstore.Open(b.TempDir(), quiet, diskstore.WithSyncEveryWrite(syncEach))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			batches := make([]ptrace.Traces, 16)
			for i := range batches {
				batches[i] = batch(i, 500)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := s.WriteTraces(context.Background(), batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*500)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

// BenchmarkReopen measures Open's replay of 100k spans.
func BenchmarkReopen(b *testing.B) {
	dir := b.TempDir()
	s, err := diskstore.Open(dir, quiet)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 200 {
		if _, err := s.WriteTraces(context.Background(), batch(i, 500)); err != nil {
			b.Fatal(err)
		}
	}
	_ = s.Close()
	b.ReportAllocs()
	for b.Loop() {
		s, err := diskstore.Open(dir, quiet)
		if err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
	}
}
