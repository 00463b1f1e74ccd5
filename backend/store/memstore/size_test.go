package memstore_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// realisticBatch is n spans shaped like an instrumented HTTP server's:
// 8 attributes, one resource per batch.
func realisticBatch(seq, n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	rs.Resource().Attributes().PutStr("service.version", "1.4.2")
	rs.Resource().Attributes().PutStr("host.name", "dev-laptop")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp")
	for i := range n {
		s := ss.Spans().AppendEmpty()
		id := seq*n + i + 1
		s.SetTraceID(pcommon.TraceID{1, byte(id >> 16), byte(id >> 8), byte(id / 8)})
		s.SetSpanID(pcommon.SpanID{2, byte(id >> 16), byte(id >> 8), byte(id)})
		s.SetName("GET /api/cart/{id}")
		s.SetKind(ptrace.SpanKindServer)
		start := storetest.Base.Add(time.Duration(id) * time.Millisecond)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(3 * time.Millisecond)))
		a := s.Attributes()
		a.PutStr("http.request.method", "GET")
		a.PutStr("http.route", "/api/cart/{id}")
		a.PutStr("url.path", fmt.Sprintf("/api/cart/%d", id))
		a.PutInt("http.response.status_code", 200)
		a.PutStr("server.address", "localhost")
		a.PutInt("server.port", 8080)
		a.PutStr("network.protocol.version", "1.1")
		a.PutStr("user_agent.original", "Go-http-client/1.1")
	}
	return td
}

// decoded round-trips td through OTLP protobuf, as the receiver gets it:
// every string is then its own allocation, as in production.
func decoded(t testing.TB, td ptrace.Traces) ptrace.Traces {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(b); err != nil {
		t.Fatal(err)
	}
	return req.Traces()
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestAccountedSizeTracksHeap checks that the size bound means something:
// the Go heap the stored spans take stays within a small factor of the
// accounted bytes, and the accounted bytes within the bound.
func TestAccountedSizeTracksHeap(t *testing.T) {
	const batches, perBatch = 40, 500
	before := heap()
	s := memstore.New(memstore.WithMaxBytes(1 << 30))
	for i := range batches {
		if _, err := s.WriteTraces(context.Background(), decoded(t, realisticBatch(i, perBatch))); err != nil {
			t.Fatal(err)
		}
	}
	grown := float64(heap()) - float64(before)
	accounted := float64(s.Bytes())
	spans := float64(batches * perBatch)
	t.Logf("%d spans: heap %.0f B/span, accounted %.0f B/span, heap/accounted %.2f",
		batches*perBatch, grown/spans, accounted/spans, grown/accounted)
	if grown > 2*accounted || grown < accounted/3 {
		t.Errorf("heap grew %.0f bytes for %.0f accounted: the size accounting is off", grown, accounted)
	}
	runtime.KeepAlive(s)

	// With a bound of a quarter of that, the store holds at most the bound.
	bounded := memstore.New(memstore.WithMaxBytes(int64(accounted / 4)))
	for i := range batches {
		if _, err := bounded.WriteTraces(context.Background(), realisticBatch(i, perBatch)); err != nil {
			t.Fatal(err)
		}
		if b := bounded.Bytes(); b > int64(accounted/4) {
			t.Fatalf("after write %d: %d bytes held, bound %d", i, b, int64(accounted/4))
		}
	}
}
