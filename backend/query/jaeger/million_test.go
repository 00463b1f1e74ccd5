package jaeger_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/store/storetest"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/query/jaeger"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

// millionBatches builds the data set of backend/peer's BenchmarkMillionSpans
// (storetest.LoadTraces), round-tripped through OTLP protobuf as the
// receiver decodes it.
func millionBatches(tb testing.TB, n int, start time.Time) []ptrace.Traces {
	tb.Helper()
	reqs, err := storetest.LoadRequests(n, start)
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]ptrace.Traces, n)
	for i, b := range reqs {
		req := ptraceotlp.NewExportRequest()
		if err := req.UnmarshalProto(b); err != nil {
			tb.Fatal(err)
		}
		out[i] = req.Traces()
	}
	return out
}

// BenchmarkMillionSpansSearch is backend/peer's search at 1M stored spans,
// in process: a service+operation search over the last hour, limit 20,
// through the handler and its JSON encoding. It reports the Go heap per
// stored span too.
func BenchmarkMillionSpansSearch(b *testing.B) {
	const total = 1_000_000
	n := (total + 511) / 512
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	data := millionBatches(b, n, time.Now())
	s := memstore.New(memstore.WithMaxBytes(16 << 30))
	defer s.Close()
	for i := range data {
		if _, err := s.WriteTraces(context.Background(), data[i]); err != nil {
			b.Fatal(err)
		}
		data[i] = ptrace.Traces{} // only the store's copy stays
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	mux := http.NewServeMux()
	jaeger.New(s).RegisterRoutes(mux)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		url := fmt.Sprintf("/api/traces?service=svc-%d&operation=op-%d&lookback=1h&limit=20", i%5, i%20)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", url, nil))
		if rec.Code != http.StatusOK || rec.Body.Len() < 1000 {
			b.Fatalf("%s: %d %s", url, rec.Code, rec.Body.String())
		}
	}
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/total, "heap-B/span")
}
