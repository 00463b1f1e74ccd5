package store_test

import (
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"runtime/debug"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/internal/otlpdepth"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// sameAsPdata holds TracesFromProto(b) to FromTraces of pdata's decoding
// of b: the same Converted, Bytes and Result included, and an error
// exactly when pdata errs. ErrTooDeep is the one documented exception:
// the caller then converts with pdata. It reports whether b was too deep.
func sameAsPdata(t *testing.T, b []byte) (deep bool) {
	t.Helper()
	got, err := store.TracesFromProto(b)
	_, cuts, cerr := otlpdepth.Proto(otlpdepth.Traces, b)
	if errors.Is(err, store.ErrTooDeep) {
		if cuts == 0 && cerr == nil {
			t.Fatalf("ErrTooDeep, but otlpdepth cuts nothing\n% x", b)
		}
		return true
	}
	if err == nil && cuts != 0 {
		t.Fatalf("converted, but otlpdepth cuts %d value(s)\n% x", cuts, b)
	}
	req := ptraceotlp.NewExportRequest()
	perr := req.UnmarshalProto(b)
	if (err != nil) != (perr != nil) {
		t.Fatalf("TracesFromProto error %v, pdata's %v\n% x", err, perr, b)
	}
	if err != nil {
		return false
	}
	want := store.FromTraces(req.Traces())
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("TracesFromProto differs from FromTraces:\ngot  %+v\nwant %+v\n% x", got, want, b)
	}
	return false
}

func marshal(t testing.TB, td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// edgeTraces are requests with every kind of field and the cases the
// conversion has rules for.
func edgeTraces(t testing.TB) [][]byte {
	var out [][]byte
	add := func(td ptrace.Traces) { out = append(out, marshal(t, td)) }
	add(ptrace.NewTraces())
	add(storetest.Traces(
		storetest.SpanSpec{Service: "api", Trace: 1, ID: 1, Name: "GET /", Kind: ptrace.SpanKindServer, Dur: time.Millisecond,
			Attrs: map[string]any{"s": "v", "i": 42, "d": 1.5, "b": true, "bytes": []byte{0, 1, 0xff}, "slice": []any{1, "a", []any{true}}, "map": map[string]any{"z": 1, "a": map[string]any{"k": nil}}},
			Error: "boom", Event: "ev", LinkTo: 3},
		storetest.SpanSpec{Service: "api", Trace: 0, ID: 2, Name: "zero trace"},
		storetest.SpanSpec{Service: "db", Trace: 2, ID: 0, Name: "zero span", Attrs: map[string]any{"x": "y"}},
		storetest.SpanSpec{Service: "db", Trace: 2, ID: 3, Parent: 1, Name: "negative", Start: time.Second, Dur: -time.Millisecond},
		storetest.SpanSpec{Service: "bad\xffutf8", Trace: 3, ID: 4, Name: "n\xc3", Attrs: map[string]any{"k\xff": "v\xfe", "big": string(make([]byte, 300)) + "\xff"}},
	))
	// service.name of every type, or none.
	for _, set := range []func(pcommon.Value){
		func(v pcommon.Value) { v.SetStr("") },
		func(v pcommon.Value) { v.SetInt(7) },
		func(v pcommon.Value) { v.SetDouble(math.Inf(1)) },
		func(v pcommon.Value) { v.SetBool(false) },
		func(v pcommon.Value) { v.SetEmptyBytes().FromRaw([]byte("svc\xff")) },
		func(v pcommon.Value) { v.SetEmptySlice().AppendEmpty().SetStr("a") },
		func(v pcommon.Value) { v.SetEmptyMap().PutDouble("nan", math.NaN()) },
		func(pcommon.Value) {},
	} {
		td := storetest.Traces(storetest.SpanSpec{Service: "x", Trace: 1, ID: 1, Name: "s"})
		attrs := td.ResourceSpans().At(0).Resource().Attributes()
		attrs.Remove("service.name")
		set(attrs.PutEmpty("service.name"))
		add(td)
	}
	// Many spans sharing keys, with duplicates and more keys than lastKeys holds.
	td := storetest.Traces(storetest.SpanSpec{Service: "many", Trace: 1, ID: 1})
	ss := td.ResourceSpans().At(0).ScopeSpans().At(0)
	for i := range 50 {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(storetest.TID(byte(i)))
		sp.SetSpanID(storetest.SID(byte(i + 1)))
		sp.TraceState().FromRaw("a=b")
		for k := range i {
			sp.Attributes().PutInt(string(rune('a'+k%40)), int64(k))
		}
		sp.Attributes().PutStr("dup", "1")
		ev := sp.Events().AppendEmpty()
		ev.SetName("e")
		ev.Attributes().PutStr("a", "b")
		l := sp.Links().AppendEmpty()
		l.SetTraceID(storetest.TID(9))
		l.TraceState().FromRaw("x=y")
		l.SetFlags(3)
		l.Attributes().PutBool("l", true)
	}
	add(td)
	for _, d := range []int{0, 1, 2, 63, 64, 65, 66, 200} {
		out = append(out, storetest.DeepTracesProto(1, d))
	}
	return out
}

// wire builds protobuf by hand, for what pdata does not write.
func field(num int, wt int, v []byte) []byte {
	b := binary.AppendUvarint(nil, uint64(num)<<3|uint64(wt))
	if wt == 2 {
		b = binary.AppendUvarint(b, uint64(len(v)))
	}
	return append(b, v...)
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// odd are requests pdata reads that no SDK writes: repeated singular
// fields (merged), the deprecated scope spans, unknown fields and groups,
// and the malformed.
func odd() [][]byte {
	tid := storetest.TID(1)
	sid := storetest.SID(1)
	kv := func(k string, v []byte) []byte { return field(1, 2, cat(field(1, 2, []byte(k)), field(2, 2, v))) }
	str := func(s string) []byte { return field(1, 2, []byte(s)) }
	span := func(extra ...[]byte) []byte {
		return field(2, 2, cat(append([][]byte{field(1, 2, tid[:]), field(2, 2, sid[:]), field(5, 2, []byte("n"))}, extra...)...))
	}
	res := field(1, 2, cat(kv("service.name", str("a")), field(2, 0, []byte{1}), field(3, 2, field(3, 2, []byte("id")))))
	unknown := cat(field(99, 0, []byte{5}), field(98, 1, make([]byte, 8)), field(97, 5, make([]byte, 4)), field(96, 2, []byte("xx")),
		field(95, 3, nil), field(1, 0, []byte{1}), field(95, 4, nil))
	rs := func(parts ...[]byte) []byte { return field(1, 2, cat(parts...)) }
	out := [][]byte{
		rs(res, field(2, 2, span())),
		rs(field(2, 2, span()), res),      // resource after the scope spans
		rs(res, res, field(2, 2, span())), // merged
		rs(res, field(1000, 2, span())),   // deprecated
		rs(res, field(1000, 2, span()), field(2, 2, span(field(5, 2, []byte("m"))))), // deprecated ignored
		rs(res, field(2, 2, cat(field(1, 2, cat(str("sc"), field(2, 2, []byte("v")), field(3, 2, kv("k", str("v"))), field(1, 2, []byte("sc2")))), span(), unknown))),
		rs(res, field(2, 2, span(field(9, 2, cat(field(1, 2, []byte("k")), field(2, 2, str("a")), field(2, 2, field(3, 0, []byte{7})), field(1, 2, []byte("k2"))))))),
		rs(res, field(2, 2, span(field(9, 2, field(2, 2, cat(field(5, 2, nil), field(6, 2, kv("a", nil)))))))),
		rs(res, field(2, 2, span(field(9, 2, field(2, 2, cat(field(6, 2, nil), str("after"))))))),
		rs(res, field(2, 2, span(field(9, 2, field(2, 2, field(8, 0, []byte{3})))))),
		rs(res, field(2, 2, span(field(9, 2, field(2, 2, cat(str("before"), field(8, 0, []byte{3}))))))),
		rs(res, field(2, 2, span(field(9, 2, cat(field(2, 2, str("before")), field(2, 2, field(8, 0, []byte{3})))), field(6, 0, []byte{0x85, 0x02})))),
		rs(res, field(2, 2, span(field(9, 2, field(2, 2, field(7, 2, nil)))))),
		rs(res, field(2, 2, span(field(15, 2, cat(field(2, 2, []byte("m")), field(3, 0, []byte{2}))), field(15, 2, field(3, 0, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}))))),
		rs(res, field(2, 2, span(field(1, 2, nil)))), // the trace id reset to zero
		rs(res, field(2, 2, span(field(6, 0, []byte{0x80, 0x80, 0x80, 0x80, 0x10}), field(16, 5, []byte{1, 0, 0, 0}), unknown))),
		rs(res, field(2, 2, span(field(11, 2, cat(field(1, 1, make([]byte, 8)), unknown)), field(13, 2, cat(field(6, 5, []byte{1, 2, 3, 4}), unknown))))),
		cat(unknown, rs(res), unknown),
		// Malformed.
		rs(res, field(2, 2, span(field(1, 2, []byte{1, 2, 3})))), // trace id length
		rs(res, field(2, 2, span(field(4, 2, []byte{1})))),       // parent id length
		rs(res, field(2, 2, span(field(5, 0, []byte{1})))),       // wire type
		rs(res, field(2, 2, span(field(9, 2, field(2, 2, field(4, 0, []byte{1})))))),
		rs(res, field(2, 2, span(field(9, 2, field(2, 2, field(5, 2, field(1, 2, field(6, 2, field(1, 2, field(2, 0, []byte{1})))))))))),
		rs(field(1, 2, field(3, 2, field(2, 0, nil)))), // entity ref
		rs(res, field(2, 2, cat(field(1, 2, field(3, 2, field(2, 2, field(2, 1, nil)))), span()))),
		rs(res, field(1000, 2, span(field(7, 0, []byte{1}))), field(2, 2, span())),                                                      // bad deprecated, unused
		rs(res, field(2, 2, field(2, 2, cat(field(1, 2, make([]byte, 16)), field(2, 2, sid[:]), field(9, 2, field(1, 0, []byte{1})))))), // rejected, bad
		cat(field(1, 2, nil), []byte{0x0a}),
		{0x0a, 0x80},
		{0x00},
		{0x0f},
		cat(field(5, 3, nil), field(6, 4, nil)),
		field(5, 3, field(1, 2, []byte("x"))),
	}
	return out
}

func TestTracesFromProtoEqualsFromTraces(t *testing.T) {
	reqs, err := storetest.LoadRequests(4, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	inputs := append(append(reqs, edgeTraces(t)...), odd()...)
	deep := 0
	for _, b := range inputs {
		if sameAsPdata(t, b) {
			deep++
		}
		// Every prefix of the small ones: truncated records.
		if len(b) < 4096 {
			for n := range len(b) {
				sameAsPdata(t, b[:n])
			}
		}
	}
	// 65, 66 and 200 levels: the three DeepTracesProto beyond the bound.
	if deep != 3 {
		t.Errorf("%d requests too deep, want 3", deep)
	}
}

// TestTracesFromProtoDeep: a value nested far beyond the bound is
// ErrTooDeep, found with a small stack.
func TestTracesFromProtoDeep(t *testing.T) {
	b := storetest.DeepTracesProto(1, 1_000_000)
	defer debug.SetMaxStack(debug.SetMaxStack(1 << 20))
	if _, err := store.TracesFromProto(b); !errors.Is(err, store.ErrTooDeep) {
		t.Fatalf("error %v, want ErrTooDeep", err)
	}
	c, err := store.TracesFromProto(storetest.DeepTracesProto(1, store.MaxValueDepth))
	if err != nil || len(c.Spans) != 1 {
		t.Fatalf("%d spans, error %v", len(c.Spans), err)
	}
	if v, _ := store.Lookup(c.Spans[0].Attributes, "deep"); v.AsString() != storetest.NestedText(store.MaxValueDepth) {
		t.Errorf("deep value %s", v.AsString())
	}
}

func FuzzTracesFromProto(f *testing.F) {
	reqs, err := storetest.LoadRequests(1, time.Now())
	if err != nil {
		f.Fatal(err)
	}
	for _, b := range append(append(reqs, edgeTraces(f)...), odd()...) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sameAsPdata(t, b)
	})
}
