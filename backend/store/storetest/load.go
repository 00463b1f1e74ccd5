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
	for i := range out {
		out[i] = LoadBatch(i, n, start)
	}
	return out
}

// LoadBatch is batch i of LoadTraces(n, start), built alone: a writer can
// make batches as it sends them. Its first trace's id is
// LoadTraceID(i, 0), its last LoadTraceID(i, LoadBatchTraces-1).
func LoadBatch(i, n int, start time.Time) ptrace.Traces {
	seq := uint64(i) * LoadBatchSpans
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
	return td
}

// LoadBatchEnds are the ids of the first and the last trace of batch i of
// LoadTraces (its first service's first, its last service's last); each
// has LoadSpansPerTrace spans. A reader that finds both whole finds the
// batch's request.
func LoadBatchEnds(i int) (first, last pcommon.TraceID) {
	base := uint64(i) * LoadBatchSpans
	lastSpans := LoadBatchSpans - LoadBatchSpans/LoadServices*(LoadServices-1)
	binary.BigEndian.PutUint64(first[:8], uint64(i)+1)
	binary.BigEndian.PutUint64(first[8:], base+1)
	binary.BigEndian.PutUint64(last[:8], uint64(i)+1)
	binary.BigEndian.PutUint64(last[8:], base+LoadBatchSpans-uint64(lastSpans)+uint64((lastSpans-1)/LoadSpansPerTrace*LoadSpansPerTrace)+1)
	return first, last
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
