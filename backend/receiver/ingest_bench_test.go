package receiver_test

import (
	"bytes"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/receiver"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

// benchBatches pre-encodes n OTLP/protobuf trace requests of 512 spans
// shaped like backend/peer's load (5 services, 20 operations, 8-span
// traces, 3 attributes), every trace id unique.
func benchBatches(tb testing.TB, n int) [][]byte {
	tb.Helper()
	const spans, services, operations, perTrace = 512, 5, 20, 8
	out := make([][]byte, n)
	now := time.Now()
	var seq uint64
	for i := range out {
		td := ptrace.NewTraces()
		for s := range services {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", "svc-"+strconv.Itoa(s))
			rs.Resource().Attributes().PutStr("host.name", "bench-host")
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("bench")
			per := spans / services
			if s == services-1 {
				per = spans - per*(services-1)
			}
			var tid pcommon.TraceID
			var root pcommon.SpanID
			for k := range per {
				seq++
				if k%perTrace == 0 {
					binary.BigEndian.PutUint64(tid[:8], uint64(i)+1)
					binary.BigEndian.PutUint64(tid[8:], seq)
				}
				var sid pcommon.SpanID
				binary.BigEndian.PutUint64(sid[:], seq)
				sp := ss.Spans().AppendEmpty()
				sp.SetTraceID(tid)
				sp.SetSpanID(sid)
				if k%perTrace == 0 {
					root = sid
				} else {
					sp.SetParentSpanID(root)
				}
				sp.SetName("op-" + strconv.FormatUint(seq%operations, 10))
				sp.SetKind(ptrace.SpanKindServer)
				end := now.Add(-time.Duration(n-i) * time.Millisecond)
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
		out[i] = b
	}
	return out
}

// BenchmarkHTTPTraces posts pre-encoded 512-span OTLP/protobuf requests to
// the receiver's handler in front of a memstore, without the network: the
// server-side work of one request from headers parsed to answer written.
func BenchmarkHTTPTraces(b *testing.B) {
	data := benchBatches(b, 400)
	s := memstore.New(memstore.WithMaxBytes(1 << 30))
	defer s.Close()
	mux := http.NewServeMux()
	receiver.New(s).RegisterRoutes(mux)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(data[i%len(data)]))
		req.Header.Set("Content-Type", "application/x-protobuf")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/span")
}
