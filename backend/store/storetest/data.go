package storetest

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/store"
)

// Base is the time test data starts at; tests may use any clock.
var Base = time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

// TID and SID build ids whose last byte is n (and the first byte of a trace
// id is 0xaa, so ids are never all zero).
func TID(n byte) store.TraceID { return store.TraceID{0xaa, 14: 0, 15: n} }
func SID(n byte) store.SpanID  { return store.SpanID{0xbb, 7: n} }

// SpanSpec describes one test span. Start and Dur are offsets from Base.
type SpanSpec struct {
	Service    string
	Trace      byte
	ID, Parent byte
	Name       string
	Kind       ptrace.SpanKind
	Start, Dur time.Duration
	Attrs      map[string]any
	Error      string // sets status Error with this message when not empty
	Event      string // adds one event with attribute event.n=1
	LinkTo     byte   // adds a link to span LinkTo of trace Trace+1 when not 0
}

// Traces builds OTLP traces, one ResourceSpans per span so that services mix.
// Each resource has service.name and host.name "h-"+service.
func Traces(specs ...SpanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	for _, sp := range specs {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", sp.Service)
		rs.Resource().Attributes().PutStr("host.name", "h-"+sp.Service)
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("storetest")
		ss.Scope().SetVersion("1.0")
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(TID(sp.Trace))
		s.SetSpanID(SID(sp.ID))
		if sp.Parent != 0 {
			s.SetParentSpanID(SID(sp.Parent))
		}
		if sp.Trace == 0 {
			s.SetTraceID(store.TraceID{})
		}
		if sp.ID == 0 {
			s.SetSpanID(store.SpanID{})
		}
		s.SetName(sp.Name)
		s.SetKind(sp.Kind)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(Base.Add(sp.Start)))
		s.SetEndTimestamp(pcommon.NewTimestampFromTime(Base.Add(sp.Start + sp.Dur)))
		if err := s.Attributes().FromRaw(sp.Attrs); err != nil {
			panic(err) // test data is fixed; a bad literal is a bug in the test
		}
		if sp.Error != "" {
			s.Status().SetCode(ptrace.StatusCodeError)
			s.Status().SetMessage(sp.Error)
		}
		if sp.Event != "" {
			e := s.Events().AppendEmpty()
			e.SetName(sp.Event)
			e.SetTimestamp(pcommon.NewTimestampFromTime(Base.Add(sp.Start + sp.Dur/2)))
			e.Attributes().PutInt("event.n", 1)
		}
		if sp.LinkTo != 0 {
			l := s.Links().AppendEmpty()
			l.SetTraceID(TID(sp.Trace + 1))
			l.SetSpanID(SID(sp.LinkTo))
		}
	}
	return td
}

// LogSpec describes one test log record. At is an offset from Base.
type LogSpec struct {
	Service  string
	Trace    byte // 0: no trace context
	Span     byte
	At       time.Duration
	Severity plog.SeverityNumber
	Body     string
	Attrs    map[string]any // besides logger=storetest, which every record has
}

// Logs builds OTLP logs.
func Logs(specs ...LogSpec) plog.Logs {
	ld := plog.NewLogs()
	for _, l := range specs {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", l.Service)
		r := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
		r.SetTimestamp(pcommon.NewTimestampFromTime(Base.Add(l.At)))
		r.SetSeverityNumber(l.Severity)
		r.SetSeverityText(l.Severity.String())
		r.Body().SetStr(l.Body)
		if err := r.Attributes().FromRaw(l.Attrs); err != nil {
			panic(err) // test data is fixed; a bad literal is a bug in the test
		}
		r.Attributes().PutStr("logger", "storetest")
		if l.Trace != 0 {
			r.SetTraceID(TID(l.Trace))
			r.SetSpanID(SID(l.Span))
		}
	}
	return ld
}

// Metrics builds one of each kind for service: a gauge "temperature", a
// monotonic cumulative sum "requests" with attribute route, and a histogram
// "latency" with an exemplar pointing at trace exemplarTrace, span 1.
// value is used in every point, at Base+at.
func Metrics(service, route string, at time.Duration, value float64, exemplarTrace byte) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", service)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("storetest")
	ts := pcommon.NewTimestampFromTime(Base.Add(at))
	start := pcommon.NewTimestampFromTime(Base)

	g := sm.Metrics().AppendEmpty()
	g.SetName("temperature")
	g.SetUnit("Cel")
	dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(ts)
	dp.SetDoubleValue(value)

	s := sm.Metrics().AppendEmpty()
	s.SetName("requests")
	sum := s.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	sdp := sum.DataPoints().AppendEmpty()
	sdp.SetStartTimestamp(start)
	sdp.SetTimestamp(ts)
	sdp.SetIntValue(int64(value))
	sdp.Attributes().PutStr("route", route)

	h := sm.Metrics().AppendEmpty()
	h.SetName("latency")
	h.SetUnit("s")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	hdp := hist.DataPoints().AppendEmpty()
	hdp.SetStartTimestamp(start)
	hdp.SetTimestamp(ts)
	hdp.SetCount(3)
	hdp.SetSum(value * 3)
	hdp.SetMin(value / 2)
	hdp.SetMax(value * 2)
	hdp.ExplicitBounds().FromRaw([]float64{0.1, 1})
	hdp.BucketCounts().FromRaw([]uint64{1, 1, 1})
	hdp.Attributes().PutStr("route", route)
	if exemplarTrace != 0 {
		ex := hdp.Exemplars().AppendEmpty()
		ex.SetTimestamp(ts)
		ex.SetDoubleValue(value * 2)
		ex.SetTraceID(TID(exemplarTrace))
		ex.SetSpanID(SID(1))
	}
	return md
}

// Distributions builds an exponential histogram "payload.size" (unit "By",
// cumulative, scale 1, zero threshold 0.5, positive buckets from offset -1,
// one negative bucket, with an exemplar of trace 1) and a summary
// "rpc.duration" (unit "ms", quantiles 0, 0.5, 0.99 and 1) for service,
// with attribute route, at Base+at; scaled by value (count and bucket
// counts are whole multiples of it: use whole values).
func Distributions(service, route string, at time.Duration, value float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", service)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("storetest")
	ts := pcommon.NewTimestampFromTime(Base.Add(at))
	start := pcommon.NewTimestampFromTime(Base)
	n := uint64(value)

	e := sm.Metrics().AppendEmpty()
	e.SetName("payload.size")
	e.SetUnit("By")
	eh := e.SetEmptyExponentialHistogram()
	eh.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	edp := eh.DataPoints().AppendEmpty()
	edp.SetStartTimestamp(start)
	edp.SetTimestamp(ts)
	edp.Attributes().PutStr("route", route)
	edp.SetScale(1)
	edp.SetZeroThreshold(0.5)
	edp.SetZeroCount(n)
	edp.Positive().SetOffset(-1)
	edp.Positive().BucketCounts().FromRaw([]uint64{n, 0, 2 * n, 0, 0, 0, 0, n}) // buckets -1, 1 and 6
	edp.Negative().SetOffset(2)
	edp.Negative().BucketCounts().FromRaw([]uint64{n})
	edp.SetCount(6 * n)
	edp.SetSum(10 * value)
	edp.SetMin(-3)
	edp.SetMax(16)
	ex := edp.Exemplars().AppendEmpty()
	ex.SetTimestamp(ts)
	ex.SetDoubleValue(1.5)
	ex.SetTraceID(TID(1))
	ex.SetSpanID(SID(1))

	s := sm.Metrics().AppendEmpty()
	s.SetName("rpc.duration")
	s.SetUnit("ms")
	sdp := s.SetEmptySummary().DataPoints().AppendEmpty()
	sdp.SetStartTimestamp(start)
	sdp.SetTimestamp(ts)
	sdp.Attributes().PutStr("route", route)
	sdp.SetCount(4 * n)
	sdp.SetSum(40 * value)
	for _, q := range [][2]float64{{0, 1}, {0.5, 8 * value}, {0.99, 20 * value}, {1, 25 * value}} {
		qv := sdp.QuantileValues().AppendEmpty()
		qv.SetQuantile(q[0])
		qv.SetValue(q[1])
	}
	return md
}
