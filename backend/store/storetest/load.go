package storetest

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// The shape of the load the benchmarks replay (backend/peer against Jaeger,
// the receiver and query benchmarks in process): 512-span batches of 5
// services, 20 operations, 8-span traces and 3 attributes per span.
const (
	LoadBatchSpans    = 512
	LoadSpansPerTrace = 8
	LoadServices      = 5
	LoadOperations    = 20
)

// LoadTraces builds n batches of that shape, every trace id unique across
// all of them; the newest spans end at start, older batches a millisecond
// earlier each.
func LoadTraces(n int, start time.Time) []ptrace.Traces {
	out := make([]ptrace.Traces, n)
	var seq uint64
	for i := range out {
		td := ptrace.NewTraces()
		for s := range LoadServices {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", s))
			rs.Resource().Attributes().PutStr("host.name", "bench-host")
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("bench")
			per := LoadBatchSpans / LoadServices
			if s == LoadServices-1 {
				per = LoadBatchSpans - per*(LoadServices-1)
			}
			var tid pcommon.TraceID
			var root pcommon.SpanID
			for k := range per {
				seq++
				if k%LoadSpansPerTrace == 0 {
					binary.BigEndian.PutUint64(tid[:8], uint64(i)+1)
					binary.BigEndian.PutUint64(tid[8:], seq)
				}
				var sid pcommon.SpanID
				binary.BigEndian.PutUint64(sid[:], seq)
				sp := ss.Spans().AppendEmpty()
				sp.SetTraceID(tid)
				sp.SetSpanID(sid)
				if k%LoadSpansPerTrace == 0 {
					root = sid
				} else {
					sp.SetParentSpanID(root)
				}
				sp.SetName(fmt.Sprintf("op-%d", seq%LoadOperations))
				sp.SetKind(ptrace.SpanKindServer)
				end := start.Add(-time.Duration(n-i) * time.Millisecond)
				sp.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-time.Duration(1+seq%50) * time.Millisecond)))
				sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
				sp.Attributes().PutStr("http.request.method", "GET")
				sp.Attributes().PutInt("http.response.status_code", 200)
				sp.Attributes().PutStr("url.path", "/api/items/"+strconv.FormatUint(seq%1000, 10))
			}
		}
		out[i] = td
	}
	return out
}

// LoadRequests is LoadTraces encoded as OTLP/protobuf export requests.
func LoadRequests(n int, start time.Time) ([][]byte, error) {
	traces := LoadTraces(n, start)
	out := make([][]byte, n)
	for i, td := range traces {
		b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}
