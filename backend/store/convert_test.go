package store_test

import (
	"encoding/json"
	"runtime/debug"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

func TestTruncatedValueNamesTheBound(t *testing.T) {
	if want := "nested deeper than 64 levels"; store.MaxValueDepth != 64 || !strings.Contains(store.TruncatedValue, want) {
		t.Errorf("TruncatedValue %q does not say MaxValueDepth (%d)", store.TruncatedValue, store.MaxValueDepth)
	}
}

// deepSpan is one span whose attribute "deep" is nested depth levels deep,
// with a resource and an event attribute nested as deep.
func deepSpan(depth int) ptrace.Traces {
	td := storetest.Traces(storetest.SpanSpec{Service: "s", Trace: 1, ID: 1, Name: "deep", Event: "e"})
	rs := td.ResourceSpans().At(0)
	sp := rs.ScopeSpans().At(0).Spans().At(0)
	storetest.Nest(sp.Attributes().PutEmpty("deep"), depth)
	storetest.Nest(rs.Resource().Attributes().PutEmpty("deep"), depth)
	storetest.Nest(sp.Events().At(0).Attributes().PutEmpty("deep"), depth)
	return td
}

func TestValuesAtTheDepthBound(t *testing.T) {
	for _, tc := range []struct {
		depth     int
		truncated int64
	}{
		{1, 0},
		{store.MaxValueDepth - 1, 0},
		{store.MaxValueDepth, 0},     // kept whole
		{store.MaxValueDepth + 1, 3}, // one level too many in each of the three values
		{store.MaxValueDepth + 2, 3},
	} {
		c := store.FromTraces(deepSpan(tc.depth))
		if c.Result.Truncated != tc.truncated || c.Result.Rejected != 0 {
			t.Errorf("depth %d: result %+v, want %d truncated", tc.depth, c.Result, tc.truncated)
		}
		sp := &c.Spans[0]
		for where, kvs := range map[string][]store.KeyValue{"span": sp.Attributes, "resource": sp.Resource.Attributes, "event": sp.Events()[0].Attributes} {
			v, _ := store.Lookup(kvs, "deep")
			if got, want := v.AsString(), storetest.NestedText(tc.depth); v.Type() != store.ValueSlice || got != want {
				t.Errorf("depth %d, %s attribute: %v %s\nwant %s", tc.depth, where, v.Type(), got, want)
			}
			if !json.Valid([]byte(v.AsString())) {
				t.Errorf("depth %d, %s attribute: not JSON", tc.depth, where)
			}
		}
	}
	// Within the bound the text is pdata's.
	v := pcommon.NewValueEmpty()
	storetest.Nest(v, store.MaxValueDepth)
	if got := storetest.NestedText(store.MaxValueDepth); got != v.AsString() {
		t.Errorf("kept text %s\npdata's %s", got, v.AsString())
	}
}

// TestDeepValuesDoNotRecurse converts values far deeper than the bound with
// a stack too small for a walk to their bottom: pdata's AsString, which
// conversion used, needed about 1 KB of stack per level.
func TestDeepValuesDoNotRecurse(t *testing.T) {
	const depth = 200_000
	td := deepSpan(depth)
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	storetest.Nest(lr.Body(), depth)
	storetest.Nest(lr.Attributes().PutEmpty("deep"), depth)

	defer debug.SetMaxStack(debug.SetMaxStack(8 << 20))
	c := store.FromTraces(td)
	if c.Result.Truncated != 3 {
		t.Errorf("traces: %d truncated, want 3", c.Result.Truncated)
	}
	if v, _ := store.Lookup(c.Spans[0].Attributes, "deep"); v.AsString() != storetest.NestedText(depth) {
		t.Errorf("span attribute %.200s…", v.AsString())
	}
	l := store.FromLogs(ld)
	if l.Result.Truncated != 2 || l.Logs[0].Body.AsString() != storetest.NestedText(depth) {
		t.Errorf("logs: %d truncated, body %.200s…", l.Result.Truncated, l.Logs[0].Body.AsString())
	}
}

func TestServiceNameOfAnyType(t *testing.T) {
	for _, tc := range []struct {
		set  func(pcommon.Value)
		want string
	}{
		{func(v pcommon.Value) { v.SetStr("api") }, "api"},
		{func(v pcommon.Value) { v.SetInt(7) }, "7"},
		{func(v pcommon.Value) { v.SetEmptyBytes().FromRaw([]byte{1, 2}) }, "AQI="}, // base64, as pdata's AsString
		{func(v pcommon.Value) { v.SetEmptySlice().AppendEmpty().SetStr("a") }, `["a"]`},
		{func(v pcommon.Value) { v.SetStr("") }, store.UnknownService},
		{func(v pcommon.Value) { storetest.Nest(v, 100_000) }, storetest.NestedText(100_000)},
	} {
		td := storetest.Traces(storetest.SpanSpec{Service: "x", Trace: 1, ID: 1})
		tc.set(td.ResourceSpans().At(0).Resource().Attributes().PutEmpty("service.name"))
		if got := store.FromTraces(td).Spans[0].Resource.ServiceName; got != tc.want {
			t.Errorf("service name %.100q, want %.100q", got, tc.want)
		}
	}
}
