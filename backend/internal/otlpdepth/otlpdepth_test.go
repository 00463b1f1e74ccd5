package otlpdepth_test

import (
	"bytes"
	"fmt"
	"runtime/debug"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/internal/otlpdepth"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// format is one of the two wire formats, with pdata's decoders.
type format struct {
	name   string
	limit  func(otlpdepth.Signal, []byte) ([]byte, int, error)
	deep   func(trace byte, depth int) []byte
	decode func(otlpdepth.Signal, []byte) (request, error)
}

var formats = []format{
	{"protobuf", otlpdepth.Proto, storetest.DeepTracesProto, decodeProto},
	{"JSON", func(_ otlpdepth.Signal, b []byte) ([]byte, int, error) { return otlpdepth.JSON(b) }, storetest.DeepTracesJSON, decodeJSON},
}

// request is a decoded request of any signal.
type request interface {
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

func decodeProto(sig otlpdepth.Signal, b []byte) (request, error) {
	switch sig {
	case otlpdepth.Traces:
		r := ptraceotlp.NewExportRequest()
		return r, r.UnmarshalProto(b)
	case otlpdepth.Metrics:
		r := pmetricotlp.NewExportRequest()
		return r, r.UnmarshalProto(b)
	}
	r := plogotlp.NewExportRequest()
	return r, r.UnmarshalProto(b)
}

func decodeJSON(sig otlpdepth.Signal, b []byte) (request, error) {
	switch sig {
	case otlpdepth.Traces:
		r := ptraceotlp.NewExportRequest()
		return r, r.UnmarshalJSON(b)
	case otlpdepth.Metrics:
		r := pmetricotlp.NewExportRequest()
		return r, r.UnmarshalJSON(b)
	}
	r := plogotlp.NewExportRequest()
	return r, r.UnmarshalJSON(b)
}

// smallStack makes a recursion to the bottom of a deep value fail the test
// (fatally) rather than pass slowly: pdata needs some 200 bytes of stack a
// level to decode a value.
func smallStack(t testing.TB) {
	prev := debug.SetMaxStack(16 << 20)
	t.Cleanup(func() { debug.SetMaxStack(prev) })
}

func deepAttr(t *testing.T, r request) pcommon.Value {
	t.Helper()
	td := r.(ptraceotlp.ExportRequest).Traces()
	if td.SpanCount() != 1 {
		t.Fatalf("%d spans", td.SpanCount())
	}
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	if sp.TraceID() != storetest.TID(0xde) || sp.Name() != "deep" {
		t.Fatalf("span %s %q", sp.TraceID(), sp.Name())
	}
	v, ok := sp.Attributes().Get("deep")
	if !ok {
		t.Fatal("no attribute deep")
	}
	return v
}

func TestCutAtTheBound(t *testing.T) {
	smallStack(t)
	for _, f := range formats {
		for _, depth := range []int{0, 1, store.MaxValueDepth - 1, store.MaxValueDepth, store.MaxValueDepth + 1, store.MaxValueDepth + 2, 1000, 1_000_000} {
			t.Run(fmt.Sprintf("%s/%d", f.name, depth), func(t *testing.T) {
				in := f.deep(0xde, depth)
				start := time.Now()
				out, n, err := f.limit(otlpdepth.Traces, in)
				took := time.Since(start)
				if err != nil {
					t.Fatal(err)
				}
				want := 0
				if depth > store.MaxValueDepth {
					want = 1
				}
				if n != want {
					t.Errorf("%d cut, want %d", n, want)
				}
				if want == 0 && &out[0] != &in[0] {
					t.Error("a request with nothing to cut was copied")
				}
				r, err := f.decode(otlpdepth.Traces, out)
				if err != nil {
					t.Fatal(err)
				}
				if got := deepAttr(t, r).AsString(); got != storetest.NestedText(depth) {
					t.Errorf("value %.300s\nwant %.300s", got, storetest.NestedText(depth))
				}
				if depth == 1_000_000 {
					t.Logf("%d bytes cut to %d in %v", len(in), len(out), took)
				}
			})
		}
	}
}

// everywhere is one of each signal with a value nested depth levels deep
// in every place OTLP has one: resource, scope, span, event and link
// attributes; log bodies and attributes; metric metadata, the attributes of
// each kind of point and of their exemplars.
func everywhere(depth int) (map[otlpdepth.Signal]request, int) {
	nest := func(m pcommon.Map) { storetest.Nest(m.PutEmpty("deep"), depth) }
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	nest(rs.Resource().Attributes())
	ss := rs.ScopeSpans().AppendEmpty()
	nest(ss.Scope().Attributes())
	sp := ss.Spans().AppendEmpty()
	sp.SetTraceID(storetest.TID(1))
	sp.SetSpanID(storetest.SID(1))
	nest(sp.Attributes())
	nest(sp.Events().AppendEmpty().Attributes())
	nest(sp.Links().AppendEmpty().Attributes())

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	nest(rl.Resource().Attributes())
	sl := rl.ScopeLogs().AppendEmpty()
	nest(sl.Scope().Attributes())
	lr := sl.LogRecords().AppendEmpty()
	storetest.Nest(lr.Body(), depth)
	nest(lr.Attributes())

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	nest(rm.Resource().Attributes())
	sm := rm.ScopeMetrics().AppendEmpty()
	nest(sm.Scope().Attributes())
	metric := func() pmetric.Metric {
		m := sm.Metrics().AppendEmpty()
		m.SetName("m")
		nest(m.Metadata())
		return m
	}
	g := metric().SetEmptyGauge().DataPoints().AppendEmpty()
	nest(g.Attributes())
	nest(g.Exemplars().AppendEmpty().FilteredAttributes())
	s := metric().SetEmptySum().DataPoints().AppendEmpty()
	nest(s.Attributes())
	nest(s.Exemplars().AppendEmpty().FilteredAttributes())
	h := metric().SetEmptyHistogram().DataPoints().AppendEmpty()
	nest(h.Attributes())
	nest(h.Exemplars().AppendEmpty().FilteredAttributes())
	e := metric().SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	nest(e.Attributes())
	nest(e.Exemplars().AppendEmpty().FilteredAttributes())
	nest(metric().SetEmptySummary().DataPoints().AppendEmpty().Attributes())

	return map[otlpdepth.Signal]request{
		otlpdepth.Traces:  ptraceotlp.NewExportRequestFromTraces(td),
		otlpdepth.Logs:    plogotlp.NewExportRequestFromLogs(ld),
		otlpdepth.Metrics: pmetricotlp.NewExportRequestFromMetrics(md),
	}, 5 + 4 + (2 + 5 + 2*4 + 1) // values: traces, logs, metrics
}

func TestCutEverywhere(t *testing.T) {
	const depth = store.MaxValueDepth + 5
	reqs, values := everywhere(depth)
	for _, f := range formats {
		cuts := 0
		for sig, r := range reqs {
			var in []byte
			if f.name == "JSON" {
				in, _ = r.MarshalJSON()
			} else {
				in, _ = r.MarshalProto()
			}
			out, n, err := f.limit(sig, in)
			if err != nil {
				t.Fatalf("%s %d: %v", f.name, sig, err)
			}
			cuts += n
			got, err := f.decode(sig, out)
			if err != nil {
				t.Fatalf("%s %d: %v", f.name, sig, err)
			}
			// Once cut, the request is the one written with every value
			// MaxValueDepth deep, the marker in place of its innermost "x".
			want, _ := everywhere(store.MaxValueDepth)
			a := mustJSON(t, got)
			b := bytes.ReplaceAll(mustJSON(t, want[sig]), []byte(`{"stringValue":"x"}`), []byte(`{"stringValue":"`+store.TruncatedValue+`"}`))
			if !bytes.Equal(a, b) {
				i := 0
				for i < min(len(a), len(b)) && a[i] == b[i] {
					i++
				}
				from := max(i-200, 0)
				t.Errorf("%s %d: from byte %d:\n%.300s\nwant\n%.300s", f.name, sig, from, a[from:], b[from:])
			}
		}
		if cuts != values {
			t.Errorf("%s: %d cut, want %d", f.name, cuts, values)
		}
	}
}

func mustJSON(t *testing.T, r request) []byte {
	t.Helper()
	b, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUsualRequestsUntouched runs ordinary requests of each signal through
// both formats: nothing is cut, nothing copied.
func TestUsualRequestsUntouched(t *testing.T) {
	reqs := map[otlpdepth.Signal]request{
		otlpdepth.Traces: ptraceotlp.NewExportRequestFromTraces(storetest.Traces(
			storetest.SpanSpec{Service: "a", Trace: 1, ID: 1, Name: "n", Event: "e", LinkTo: 2, Attrs: map[string]any{"m": map[string]any{"k": []any{1, "b"}}}})),
		otlpdepth.Logs:    plogotlp.NewExportRequestFromLogs(storetest.Logs(storetest.LogSpec{Service: "a", Body: "b"})),
		otlpdepth.Metrics: pmetricotlp.NewExportRequestFromMetrics(storetest.Metrics("a", "/", time.Second, 1, 1)),
	}
	storetest.Distributions("a", "/", time.Second, 1).ResourceMetrics().MoveAndAppendTo(
		reqs[otlpdepth.Metrics].(pmetricotlp.ExportRequest).Metrics().ResourceMetrics())
	for sig, r := range reqs {
		for _, f := range formats {
			var in []byte
			if f.name == "JSON" {
				in, _ = r.MarshalJSON()
				in = append(append([]byte(" \n"), in...), "\r\n\t"...)
			} else {
				in, _ = r.MarshalProto()
			}
			out, n, err := f.limit(sig, in)
			if len(out) == 0 {
				t.Fatalf("%s %d: %d bytes in, none out (%v)", f.name, sig, len(in), err)
			}
			if err != nil || n != 0 || &out[0] != &in[0] {
				t.Errorf("%s %d: %d cut, %v; copied: %v", f.name, sig, n, err, &out[0] != &in[0])
			}
		}
	}
}

func TestJSONRejectsWhatIsNotJSON(t *testing.T) {
	for _, in := range []string{
		``, ` `, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[1 2]`, `{"a":1}}`, `{"a":1} x`, `{} {}`,
		`{"a":tru}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"`,
		`{"a":[}`, `{"a":{]}`, `{"arrayValue":,"values":,}`, `{,"a":1}`,
		// pdata reads on after an error: a comma takes it into an object.
		`{"value":,"arrayValue":,"values":,,"arrayValue":,"values":,,"stringValue":"x"}`,
	} {
		if _, _, err := otlpdepth.JSON([]byte(in)); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	for _, in := range []string{`{}`, `[]`, `0`, `-0.5e+3`, `"a\u00e9\n"`, `{"a":[true,false,null,{"b":[]}]}`, `{"arr\u0061yValue":{}}`} {
		if _, _, err := otlpdepth.JSON([]byte(in)); err != nil {
			t.Errorf("%q: %v", in, err)
		}
	}
}

func TestJSONDepthBound(t *testing.T) {
	ok := bytes.Repeat([]byte("["), otlpdepth.MaxJSONDepth)
	ok = append(ok, bytes.Repeat([]byte("]"), otlpdepth.MaxJSONDepth)...)
	if _, _, err := otlpdepth.JSON(ok); err != nil {
		t.Errorf("%d levels: %v", otlpdepth.MaxJSONDepth, err)
	}
	tooDeep := append([]byte("["), append(ok, ']')...)
	if _, _, err := otlpdepth.JSON(tooDeep); err == nil {
		t.Errorf("%d levels accepted", otlpdepth.MaxJSONDepth+1)
	}
}

// TestJSONEscapedNames cuts a member whose name is written with escapes,
// as pdata reads it as the same name.
func TestJSONEscapedNames(t *testing.T) {
	in := storetest.DeepTracesJSON(0xde, store.MaxValueDepth+3)
	in = bytes.ReplaceAll(in, []byte(`"arrayValue"`), []byte(`"arr\u0061yValue"`))
	in = bytes.ReplaceAll(in, []byte(`"kvlistValue"`), []byte(`"kvlist_value"`))
	out, n, err := otlpdepth.JSON(in)
	if err != nil || n != 1 {
		t.Fatalf("%d cut, %v", n, err)
	}
	r, err := decodeJSON(otlpdepth.Traces, out)
	if err != nil {
		t.Fatal(err)
	}
	if got := deepAttr(t, r).AsString(); got != storetest.NestedText(store.MaxValueDepth+3) {
		t.Errorf("value %.300s", got)
	}
}

func TestProtoErrorsAsPdata(t *testing.T) {
	good := storetest.DeepTracesProto(0xde, 3)
	for i := range good {
		cut := good[:i]
		_, _, err := otlpdepth.Proto(otlpdepth.Traces, cut)
		_, perr := decodeProto(otlpdepth.Traces, cut)
		if err != nil && perr == nil {
			t.Errorf("first %d bytes: refused (%v), pdata accepts them", i, err)
		}
	}
	if _, _, err := otlpdepth.Proto(0, good); err == nil {
		t.Error("signal 0 accepted")
	}
}

// BenchmarkProto reads the requests of storetest's load (512 spans each,
// as BenchmarkHTTPTraces in backend/receiver sends): the cost added to
// ingest when there is nothing to cut.
func BenchmarkProto(b *testing.B) {
	reqs, err := storetest.LoadRequests(20, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(reqs[0])))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, n, err := otlpdepth.Proto(otlpdepth.Traces, reqs[i%len(reqs)]); err != nil || n != 0 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*512), "ns/span")
}

func BenchmarkJSON(b *testing.B) {
	td := ptrace.NewTraces()
	for i := range 100 {
		storetest.Traces(storetest.SpanSpec{Service: "api", Trace: byte(i), ID: 1, Name: "GET /", Event: "e",
			Attrs: map[string]any{"http.method": "GET", "http.route": "/", "http.status_code": 200, "net.peer": "10.0.0.1", "m": map[string]any{"a": 1}}}).
			ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
	}
	req, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := otlpdepth.JSON(req); err != nil {
			b.Fatal(err)
		}
	}
}
