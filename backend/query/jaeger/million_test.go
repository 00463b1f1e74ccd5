package jaeger_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/query/jaeger"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

// millionBatches builds the data set of backend/peer's BenchmarkMillionSpans:
// 512-span batches of 5 services, 20 operations, 8-span traces, 3
// attributes, round-tripped through OTLP protobuf as the receiver decodes it.
func millionBatches(tb testing.TB, n int, start time.Time) []ptrace.Traces {
	tb.Helper()
	const batchSpans, spansPerTrace, services, operations = 512, 8, 5, 20
	out := make([]ptrace.Traces, n)
	var seq uint64
	for i := range out {
		td := ptrace.NewTraces()
		for s := range services {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", s))
			rs.Resource().Attributes().PutStr("host.name", "bench-host")
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("bench")
			per := batchSpans / services
			if s == services-1 {
				per = batchSpans - per*(services-1)
			}
			var tid pcommon.TraceID
			var root pcommon.SpanID
			for k := range per {
				seq++
				if k%spansPerTrace == 0 {
					binary.BigEndian.PutUint64(tid[:8], uint64(i)+1)
					binary.BigEndian.PutUint64(tid[8:], seq)
				}
				var sid pcommon.SpanID
				binary.BigEndian.PutUint64(sid[:], seq)
				sp := ss.Spans().AppendEmpty()
				sp.SetTraceID(tid)
				sp.SetSpanID(sid)
				if k%spansPerTrace == 0 {
					root = sid
				} else {
					sp.SetParentSpanID(root)
				}
				sp.SetName(fmt.Sprintf("op-%d", seq%operations))
				sp.SetKind(ptrace.SpanKindServer)
				end := start.Add(-time.Duration(n-i) * time.Millisecond)
				sp.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-time.Duration(1+seq%50) * time.Millisecond)))
				sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
				sp.Attributes().PutStr("http.request.method", "GET")
				sp.Attributes().PutInt("http.response.status_code", 200)
				sp.Attributes().PutStr("url.path", "/api/items/"+strconv.FormatUint(seq%1000, 10))
			}
		}
		b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			tb.Fatal(err)
		}
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
