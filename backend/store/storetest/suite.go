package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/store"
)

// Config is what the suite asks of a new store. Zero fields mean the
// implementation's defaults.
type Config struct {
	MaxBytes  int64
	Retention time.Duration
	Now       func() time.Time
}

// NewStore returns an empty store. The suite closes it.
type NewStore func(t *testing.T, cfg Config) store.Store

// RunAll runs every test of the suite as a subtest of t.
func RunAll(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"TraceByID", testTraceByID},
		{"RejectsInvalidSpans", testRejectsInvalidSpans},
		{"FindTraces", testFindTraces},
		{"FindTracesEarlyStop", testFindTracesEarlyStop},
		{"ServicesAndOperations", testServicesAndOperations},
		{"Logs", testLogs},
		{"Metrics", testMetrics},
		{"ExpHistogramsAndSummaries", testDistributions},
		{"DeepValuesTruncated", testDeepValues},
		{"InvalidUTF8", testInvalidUTF8},
		{"EvictsOldestBySize", testEvictsOldestBySize},
		{"RejectsWriteLargerThanBound", testTooLarge},
		{"EvictsByAge", testEvictsByAge},
		{"Concurrent", testConcurrent},
		{"Closed", testClosed},
		{"CanceledContext", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

func open(t *testing.T, newStore NewStore, cfg Config) store.Store {
	t.Helper()
	s := newStore(t, cfg)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func mustWriteTraces(t *testing.T, s store.Store, td ptrace.Traces) {
	t.Helper()
	res, err := s.WriteTraces(context.Background(), td)
	if err != nil {
		t.Fatalf("WriteTraces: %v", err)
	}
	if res.Rejected != 0 {
		t.Fatalf("WriteTraces rejected %d: %s", res.Rejected, res.Message)
	}
}

func collect[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatalf("iteration: %v", err)
		}
		out = append(out, v)
	}
	return out
}

func traceIDs(ts []store.Trace) []store.TraceID {
	ids := make([]store.TraceID, len(ts))
	for i, tr := range ts {
		ids[i] = tr.ID
	}
	return ids
}

// shop is a small system: trace 1 (frontend → cart, error), trace 2
// (frontend → pay, linked to trace 3), trace 3 (batch job).
func shop() ptrace.Traces {
	return Traces(
		SpanSpec{Service: "frontend", Trace: 1, ID: 1, Name: "GET /cart", Kind: ptrace.SpanKindServer,
			Start: 0, Dur: 50 * time.Millisecond, Attrs: map[string]any{"http.status_code": 500, "http.route": "/cart"}},
		SpanSpec{Service: "cart", Trace: 1, ID: 2, Parent: 1, Name: "load", Kind: ptrace.SpanKindInternal,
			Start: 10 * time.Millisecond, Dur: 30 * time.Millisecond, Error: "db down", Event: "retry",
			Attrs: map[string]any{"db.ok": false, "ratio": 0.5}},
		SpanSpec{Service: "frontend", Trace: 2, ID: 3, Name: "GET /pay", Kind: ptrace.SpanKindServer,
			Start: time.Second, Dur: 200 * time.Millisecond, Attrs: map[string]any{"http.status_code": 200, "http.route": "/pay"}, LinkTo: 4},
		SpanSpec{Service: "pay", Trace: 2, ID: 5, Parent: 3, Name: "charge", Kind: ptrace.SpanKindClient,
			Start: 1100 * time.Millisecond, Dur: 90 * time.Millisecond, Attrs: map[string]any{"amount": 12, "tags": []any{"a", "b"}}},
		SpanSpec{Service: "batch", Trace: 3, ID: 4, Name: "nightly", Kind: ptrace.SpanKindConsumer,
			Start: 2 * time.Second, Dur: 5 * time.Second},
	)
}

func testTraceByID(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{})
	mustWriteTraces(t, s, shop())
	ctx := context.Background()

	tr, err := s.Trace(ctx, TID(1))
	if err != nil {
		t.Fatal(err)
	}
	if tr.ID != TID(1) || len(tr.Spans) != 2 {
		t.Fatalf("trace 1: id %v, %d spans; want 2", tr.ID, len(tr.Spans))
	}
	root, child := tr.Spans[0], tr.Spans[1] // sorted by start
	if root.SpanID != SID(1) || child.SpanID != SID(2) || child.ParentSpanID != SID(1) {
		t.Fatalf("spans out of order or wrong parent: %v %v parent %v", root.SpanID, child.SpanID, child.ParentSpanID)
	}
	if root.Name != "GET /cart" || root.Kind != ptrace.SpanKindServer || root.Resource.ServiceName != "frontend" {
		t.Errorf("root: %q kind %v service %q", root.Name, root.Kind, root.Resource.ServiceName)
	}
	if got := root.Duration(); got != 50*time.Millisecond {
		t.Errorf("root duration %v, want 50ms", got)
	}
	if root.Start != Base.UnixNano() {
		t.Errorf("root start %d, want %d", root.Start, Base.UnixNano())
	}
	if v, ok := store.Lookup(root.Attributes, "http.status_code"); !ok || v.Type() != store.ValueInt || v.Int() != 500 {
		t.Errorf("http.status_code = %+v %v, want int 500", v, ok)
	}
	if v, _ := store.Lookup(child.Attributes, "db.ok"); v.Type() != store.ValueBool || v.Bool() {
		t.Errorf("db.ok = %+v, want bool false", v)
	}
	if v, _ := store.Lookup(child.Attributes, "ratio"); v.Type() != store.ValueDouble || v.Double() != 0.5 {
		t.Errorf("ratio = %+v, want double 0.5", v)
	}
	if v, _ := store.Lookup(root.Resource.Attributes, "host.name"); v.Str() != "h-frontend" {
		t.Errorf("resource host.name = %q", v.Str())
	}
	if root.Scope == nil || root.Scope.Name != "storetest" || root.Scope.Version != "1.0" {
		t.Errorf("scope = %+v", root.Scope)
	}
	if child.Status != ptrace.StatusCodeError || child.StatusMessage() != "db down" {
		t.Errorf("child status %v %q", child.Status, child.StatusMessage())
	}
	if len(child.Events()) != 1 || child.Events()[0].Name != "retry" || child.Events()[0].Time != Base.Add(25*time.Millisecond).UnixNano() {
		t.Errorf("child events = %+v", child.Events())
	}

	tr2, err := s.Trace(ctx, TID(2))
	if err != nil {
		t.Fatal(err)
	}
	if l := tr2.Spans[0].Links(); len(l) != 1 || l[0].TraceID != TID(3) || l[0].SpanID != SID(4) {
		t.Errorf("links = %+v", l)
	}
	if v, _ := store.Lookup(tr2.Spans[1].Attributes, "tags"); v.Type() != store.ValueSlice || v.AsString() != `["a","b"]` {
		t.Errorf("slice attribute = %+v (%s)", v, v.AsString())
	}

	if _, err := s.Trace(ctx, TID(99)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing trace: err %v, want ErrNotFound", err)
	}

	// Spans of one trace arriving in separate writes are one trace.
	mustWriteTraces(t, s, Traces(SpanSpec{Service: "late", Trace: 1, ID: 9, Parent: 2, Name: "late", Start: 20 * time.Millisecond, Dur: time.Millisecond}))
	tr, err = s.Trace(ctx, TID(1))
	if err != nil || len(tr.Spans) != 3 {
		t.Fatalf("after a second write: %d spans, err %v; want 3", len(tr.Spans), err)
	}
}

func testRejectsInvalidSpans(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{})
	td := Traces(
		SpanSpec{Service: "a", Trace: 1, ID: 1, Name: "ok"},
		SpanSpec{Service: "a", Trace: 0, ID: 2, Name: "no trace id"},
		SpanSpec{Service: "a", Trace: 1, ID: 0, Name: "no span id"},
	)
	res, err := s.WriteTraces(context.Background(), td)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected != 2 || res.Message == "" {
		t.Fatalf("result %+v, want 2 rejected with a message", res)
	}
	tr, err := s.Trace(context.Background(), TID(1))
	if err != nil || len(tr.Spans) != 1 {
		t.Fatalf("valid span not stored: %v %v", tr, err)
	}
}

func testFindTraces(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{})
	mustWriteTraces(t, s, shop())
	ctx := context.Background()
	cases := []struct {
		name string
		q    store.TraceQuery
		want []store.TraceID
	}{
		{"all, newest first", store.TraceQuery{}, []store.TraceID{TID(3), TID(2), TID(1)}},
		{"service", store.TraceQuery{Service: "frontend"}, []store.TraceID{TID(2), TID(1)}},
		{"child service", store.TraceQuery{Service: "pay"}, []store.TraceID{TID(2)}},
		{"service and operation", store.TraceQuery{Service: "frontend", Operation: "GET /pay"}, []store.TraceID{TID(2)}},
		{"operation of another service", store.TraceQuery{Service: "cart", Operation: "GET /pay"}, nil},
		{"int attribute as text", store.TraceQuery{Attributes: map[string]string{"http.status_code": "500"}}, []store.TraceID{TID(1)}},
		{"two attributes on one span", store.TraceQuery{Attributes: map[string]string{"http.status_code": "200", "http.route": "/pay"}}, []store.TraceID{TID(2)}},
		{"attributes on different spans do not match", store.TraceQuery{Attributes: map[string]string{"http.status_code": "500", "db.ok": "false"}}, nil},
		{"resource attribute", store.TraceQuery{Attributes: map[string]string{"host.name": "h-pay"}}, []store.TraceID{TID(2)}},
		{"event attribute", store.TraceQuery{Attributes: map[string]string{"event.n": "1"}}, []store.TraceID{TID(1)}},
		{"error pseudo tag", store.TraceQuery{Attributes: map[string]string{"error": "true"}}, []store.TraceID{TID(1)}},
		{"span.kind pseudo tag", store.TraceQuery{Attributes: map[string]string{"span.kind": "client"}}, []store.TraceID{TID(2)}},
		{"status code tag", store.TraceQuery{Attributes: map[string]string{"otel.status_code": "ERROR"}}, []store.TraceID{TID(1)}},
		{"scope tag", store.TraceQuery{Service: "batch", Attributes: map[string]string{"otel.scope.name": "storetest"}}, []store.TraceID{TID(3)}},
		{"min duration", store.TraceQuery{DurationMin: 100 * time.Millisecond}, []store.TraceID{TID(3), TID(2)}},
		{"max duration", store.TraceQuery{DurationMax: 40 * time.Millisecond}, []store.TraceID{TID(1)}},
		{"duration range", store.TraceQuery{DurationMin: 60 * time.Millisecond, DurationMax: time.Second}, []store.TraceID{TID(2)}},
		{"start range", store.TraceQuery{StartMin: Base.Add(500 * time.Millisecond), StartMax: Base.Add(1500 * time.Millisecond)}, []store.TraceID{TID(2)}},
		{"start min is inclusive", store.TraceQuery{StartMin: Base.Add(2 * time.Second)}, []store.TraceID{TID(3)}},
		{"start max before all", store.TraceQuery{StartMax: Base.Add(-time.Second)}, nil},
		{"limit", store.TraceQuery{Limit: 2}, []store.TraceID{TID(3), TID(2)}},
		{"unknown service", store.TraceQuery{Service: "nope"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := collect(t, s.FindTraces(ctx, tc.q))
			if ids := traceIDs(got); !slices.Equal(ids, tc.want) {
				t.Fatalf("got %v, want %v", ids, tc.want)
			}
			for _, tr := range got { // whole traces, not only the matching spans
				full, err := s.Trace(ctx, tr.ID)
				if err != nil || len(full.Spans) != len(tr.Spans) {
					t.Errorf("trace %v: %d spans, by id %d", tr.ID, len(tr.Spans), len(full.Spans))
				}
			}
		})
	}
}

func testFindTracesEarlyStop(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{})
	mustWriteTraces(t, s, shop())
	n := 0
	for _, err := range s.FindTraces(context.Background(), store.TraceQuery{}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		break
	}
	if n != 1 {
		t.Fatalf("loop ran %d times", n)
	}
	// The store still works after an abandoned iteration (no lock held).
	mustWriteTraces(t, s, Traces(SpanSpec{Service: "x", Trace: 7, ID: 7, Name: "x"}))
}

func testServicesAndOperations(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{})
	ctx := context.Background()
	if svcs, err := s.Services(ctx); err != nil || len(svcs) != 0 {
		t.Fatalf("empty store services = %v, %v", svcs, err)
	}
	mustWriteTraces(t, s, shop())
	mustWriteTraces(t, s, Traces(SpanSpec{Service: "frontend", Trace: 8, ID: 8, Name: "GET /cart", Kind: ptrace.SpanKindClient}))
	svcs, err := s.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"batch", "cart", "frontend", "pay"}; !slices.Equal(svcs, want) {
		t.Errorf("services %v, want %v", svcs, want)
	}
	ops, err := s.Operations(ctx, store.OperationQuery{Service: "frontend"})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Operation{
		{Name: "GET /cart", Kind: ptrace.SpanKindServer},
		{Name: "GET /cart", Kind: ptrace.SpanKindClient},
		{Name: "GET /pay", Kind: ptrace.SpanKindServer},
	}
	if !slices.Equal(ops, want) {
		t.Errorf("operations %v, want %v", ops, want)
	}
	ops, _ = s.Operations(ctx, store.OperationQuery{Service: "frontend", Kind: ptrace.SpanKindClient})
	if !slices.Equal(ops, want[1:2]) {
		t.Errorf("client operations %v, want %v", ops, want[1:2])
	}
	ops, _ = s.Operations(ctx, store.OperationQuery{})
	if len(ops) != 6 {
		t.Errorf("all operations: %v, want 6", ops)
	}
	ops, _ = s.Operations(ctx, store.OperationQuery{Service: "nope"})
	if len(ops) != 0 {
		t.Errorf("unknown service operations: %v", ops)
	}
}

func testLogs(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{})
	ctx := context.Background()
	res, err := s.WriteLogs(ctx, Logs(
		LogSpec{Service: "cart", Trace: 1, Span: 2, At: 10 * time.Millisecond, Severity: plog.SeverityNumberInfo, Body: "loading cart",
			Attrs: map[string]any{"user.tier": "Gold", "items": 3}},
		LogSpec{Service: "cart", Trace: 1, Span: 2, At: 20 * time.Millisecond, Severity: plog.SeverityNumberError, Body: "DB down, retrying",
			Attrs: map[string]any{"db.system.name": "postgresql", "retry": true}},
		LogSpec{Service: "frontend", Trace: 1, Span: 1, At: 30 * time.Millisecond, Severity: plog.SeverityNumberWarn, Body: "slow",
			Attrs: map[string]any{"duration_ms": 1500.25, "tags": []any{"tier=gold", 7}}},
		LogSpec{Service: "frontend", At: time.Second, Severity: plog.SeverityNumberDebug, Body: "tick"},
	))
	if err != nil || res.Rejected != 0 {
		t.Fatalf("WriteLogs: %+v %v", res, err)
	}
	bodies := func(q store.LogQuery) []string {
		var out []string
		for _, r := range collect(t, s.FindLogs(ctx, q)) {
			out = append(out, r.Body.AsString())
		}
		return out
	}
	cases := []struct {
		name string
		q    store.LogQuery
		want []string
	}{
		{"all newest first", store.LogQuery{}, []string{"tick", "slow", "DB down, retrying", "loading cart"}},
		{"by trace", store.LogQuery{TraceID: TID(1)}, []string{"slow", "DB down, retrying", "loading cart"}},
		{"by trace and span", store.LogQuery{TraceID: TID(1), SpanID: SID(2)}, []string{"DB down, retrying", "loading cart"}},
		{"by span alone", store.LogQuery{SpanID: SID(1)}, []string{"slow"}},
		{"by severity", store.LogQuery{MinSeverity: plog.SeverityNumberWarn}, []string{"slow", "DB down, retrying"}},
		{"by text, any case", store.LogQuery{Text: "db DOWN"}, []string{"DB down, retrying"}},
		// Text matches attribute values as well: strings, numbers,
		// booleans and arrays as text, or key=value exactly; not keys.
		{"by text in an attribute", store.LogQuery{Text: "POSTGRES"}, []string{"DB down, retrying"}},
		{"by text in a number", store.LogQuery{Text: "1500.2"}, []string{"slow"}},
		{"by text in a boolean", store.LogQuery{Text: "TRUE"}, []string{"DB down, retrying"}},
		{"by text in an array", store.LogQuery{Text: "tier=GOLD"}, []string{"slow"}},
		{"by key=value", store.LogQuery{Text: "user.tier=gold"}, []string{"loading cart"}},
		{"by key=value, a number", store.LogQuery{Text: "items=3"}, []string{"loading cart"}},
		{"by key=value, whole values only", store.LogQuery{Text: "user.tier=gol"}, nil},
		{"by text and severity", store.LogQuery{Text: "storetest", MinSeverity: plog.SeverityNumberWarn}, []string{"slow", "DB down, retrying"}},
		{"not by key", store.LogQuery{Text: "db.system"}, nil},
		{"not by resource", store.LogQuery{Text: "frontend"}, nil},
		{"by service", store.LogQuery{Service: "frontend"}, []string{"tick", "slow"}},
		{"by time", store.LogQuery{StartMin: Base.Add(15 * time.Millisecond), StartMax: Base.Add(30 * time.Millisecond)}, []string{"slow", "DB down, retrying"}},
		{"limit", store.LogQuery{Limit: 1}, []string{"tick"}},
		{"unknown trace", store.LogQuery{TraceID: TID(42)}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := bodies(tc.q); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	r := collect(t, s.FindLogs(ctx, store.LogQuery{Text: "tick"}))[0]
	if r.Severity != plog.SeverityNumberDebug || r.SeverityText != "Debug" || r.Resource.ServiceName != "frontend" {
		t.Errorf("record fields: %+v", r)
	}
	if v, _ := store.Lookup(r.Attributes, "logger"); v.Str() != "storetest" {
		t.Errorf("attributes: %+v", r.Attributes)
	}
}

// testDeepValues writes values nested up to the bound, one level past it
// and far past it, in span attributes, log bodies and metric attributes.
func testDeepValues(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{})
	ctx := context.Background()
	depths := []int{store.MaxValueDepth, store.MaxValueDepth + 1, 10_000}
	td := ptrace.NewTraces()
	ld := plog.NewLogs()
	md := pmetric.NewMetrics()
	for i, d := range depths {
		one := Traces(SpanSpec{Service: "deep", Trace: byte(i + 1), ID: 1, Name: "deep"})
		Nest(one.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutEmpty("deep"), d)
		one.ResourceSpans().MoveAndAppendTo(td.ResourceSpans())
		l := Logs(LogSpec{Service: "deep", Trace: byte(i + 1), Span: 1})
		Nest(l.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Body(), d)
		l.ResourceLogs().MoveAndAppendTo(ld.ResourceLogs())
		g := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		g.SetName(fmt.Sprintf("deep%d", i))
		p := g.SetEmptyGauge().DataPoints().AppendEmpty()
		p.SetTimestamp(pcommon.NewTimestampFromTime(Base))
		Nest(p.Attributes().PutEmpty("deep"), d)
	}
	res, err := s.WriteTraces(ctx, td)
	if err != nil || res.Rejected != 0 || res.Truncated != 2 {
		t.Errorf("WriteTraces: %+v %v; want 2 truncated", res, err)
	}
	if res, err := s.WriteLogs(ctx, ld); err != nil || res.Truncated != 2 {
		t.Errorf("WriteLogs: %+v %v; want 2 truncated", res, err)
	}
	if res, err := s.WriteMetrics(ctx, md); err != nil || res.Truncated != 2 {
		t.Errorf("WriteMetrics: %+v %v; want 2 truncated", res, err)
	}
	for i, d := range depths {
		want := NestedText(d)
		tr, err := s.Trace(ctx, TID(byte(i+1)))
		if err != nil {
			t.Fatal(err)
		}
		if v, _ := store.Lookup(tr.Spans[0].Attributes, "deep"); v.Type() != store.ValueSlice || v.AsString() != want {
			t.Errorf("depth %d: span attribute %v %.300s", d, v.Type(), v.AsString())
		}
		logs := collect(t, s.FindLogs(ctx, store.LogQuery{TraceID: TID(byte(i + 1))}))
		if len(logs) != 1 || logs[0].Body.AsString() != want {
			t.Errorf("depth %d: logs %d", d, len(logs))
		}
		series := collect(t, s.FindSeries(ctx, store.SeriesQuery{Name: fmt.Sprintf("deep%d", i)}))
		if len(series) != 1 {
			t.Fatalf("depth %d: %d series", d, len(series))
		}
		if v, _ := store.Lookup(series[0].Attributes, "deep"); v.AsString() != want {
			t.Errorf("depth %d: series attribute %.300s", d, v.AsString())
		}
	}
	// A truncated value is found by its text, as any other; both values
	// past the bound have the same.
	q := store.TraceQuery{Attributes: map[string]string{"deep": NestedText(10_000)}}
	ids := traceIDs(collect(t, s.FindTraces(ctx, q)))
	if len(ids) != 2 || !slices.Contains(ids, TID(2)) || !slices.Contains(ids, TID(3)) {
		t.Errorf("search by the truncated text: %v", ids)
	}
}

func testMetrics(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{})
	ctx := context.Background()
	for i, route := range []string{"/a", "/b", "/a"} {
		res, err := s.WriteMetrics(ctx, Metrics("api", route, time.Duration(i+1)*time.Second, float64(i+1), 5))
		if err != nil || res.Rejected != 0 {
			t.Fatalf("WriteMetrics: %+v %v", res, err)
		}
	}
	names, err := s.MetricNames(ctx)
	if err != nil || !slices.Equal(names, []string{"latency", "requests", "temperature"}) {
		t.Fatalf("names %v %v", names, err)
	}
	series := collect(t, s.FindSeries(ctx, store.SeriesQuery{Name: "requests"}))
	if len(series) != 2 {
		t.Fatalf("requests: %d series, want 2 (one per route)", len(series))
	}
	a := collect(t, s.FindSeries(ctx, store.SeriesQuery{Name: "requests", Labels: map[string]string{"route": "/a", "service.name": "api"}}))
	if len(a) != 1 || len(a[0].Points) != 2 || a[0].Points[0].Value != 1 || a[0].Points[1].Value != 3 {
		t.Fatalf("requests{route=/a}: %+v", a)
	}
	if !a[0].Monotonic || a[0].Temporality != pmetric.AggregationTemporalityCumulative || a[0].Type != pmetric.MetricTypeSum {
		t.Errorf("sum description: %+v", a[0])
	}
	g := collect(t, s.FindSeries(ctx, store.SeriesQuery{Name: "temperature"}))
	if len(g) != 1 || len(g[0].Points) != 3 || g[0].Unit != "Cel" {
		t.Fatalf("gauge: %+v", g)
	}
	inRange := collect(t, s.FindSeries(ctx, store.SeriesQuery{Name: "temperature", StartMin: Base.Add(1500 * time.Millisecond), StartMax: Base.Add(2 * time.Second)}))
	if len(inRange) != 1 || len(inRange[0].Points) != 1 || inRange[0].Points[0].Value != 2 {
		t.Fatalf("gauge in range: %+v", inRange)
	}
	h := collect(t, s.FindSeries(ctx, store.SeriesQuery{Name: "latency", Labels: map[string]string{"route": "/b"}}))
	if len(h) != 1 || len(h[0].Points) != 1 {
		t.Fatalf("histogram: %+v", h)
	}
	p := h[0].Points[0]
	if p.Count != 3 || p.Sum != 6 || !p.HasMinMax || p.Min != 1 || p.Max != 4 ||
		!slices.Equal(p.Bounds, []float64{0.1, 1}) || !slices.Equal(p.BucketCounts, []uint64{1, 1, 1}) {
		t.Errorf("histogram point: %+v", p)
	}
	if len(p.Exemplars) != 1 || p.Exemplars[0].TraceID != TID(5) || p.Exemplars[0].SpanID != SID(1) || p.Exemplars[0].Value != 4 {
		t.Errorf("exemplars: %+v", p.Exemplars)
	}
	if none := collect(t, s.FindSeries(ctx, store.SeriesQuery{Labels: map[string]string{"route": "/zzz"}})); len(none) != 0 {
		t.Errorf("unknown label value matched %d series", len(none))
	}

	// A metric with no name or no data is rejected, the rest stored.
	md := Metrics("api", "/c", 4*time.Second, 4, 0)
	bad := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	bad.SetName("")
	bad.SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	res, err := s.WriteMetrics(ctx, md)
	if err != nil || res.Rejected != 1 || res.Message == "" {
		t.Fatalf("nameless metric: %+v %v, want 1 rejected", res, err)
	}
	if c := collect(t, s.FindSeries(ctx, store.SeriesQuery{Name: "requests", Labels: map[string]string{"route": "/c"}})); len(c) != 1 {
		t.Errorf("valid metrics of a partly rejected write not stored")
	}
}

// testDistributions: exponential histograms keep their buckets, summaries
// their quantiles.
func testDistributions(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{})
	ctx := context.Background()
	for i := range 2 {
		if res, err := s.WriteMetrics(ctx, Distributions("api", "/a", time.Duration(i+1)*time.Second, float64(i+1))); err != nil || res.Rejected != 0 {
			t.Fatalf("WriteMetrics: %+v %v", res, err)
		}
	}
	e := collect(t, s.FindSeries(ctx, store.SeriesQuery{Name: "payload.size"}))
	if len(e) != 1 || len(e[0].Points) != 2 || e[0].Type != pmetric.MetricTypeExponentialHistogram ||
		e[0].Temporality != pmetric.AggregationTemporalityCumulative {
		t.Fatalf("exponential histogram: %+v", e)
	}
	p := e[0].Points[1]
	want := store.ExpBuckets{Scale: 1, ZeroCount: 2, ZeroThreshold: 0.5, PositiveOffset: -1, NegativeOffset: 2}
	if p.Exp == nil || p.Count != 12 || p.Sum != 20 || !p.HasMinMax || p.Min != -3 || p.Max != 16 {
		t.Fatalf("exponential histogram point: %+v", p)
	}
	got := *p.Exp
	if got.Scale != want.Scale || got.ZeroCount != want.ZeroCount || got.ZeroThreshold != want.ZeroThreshold ||
		got.PositiveOffset != want.PositiveOffset || got.NegativeOffset != want.NegativeOffset || !slices.Equal(p.Exp.Positive, []uint64{2, 0, 4, 0, 0, 0, 0, 2}) || !slices.Equal(p.Exp.Negative, []uint64{2}) {
		t.Errorf("buckets %+v", *p.Exp)
	}
	if len(p.Exemplars) != 1 || p.Exemplars[0].TraceID != TID(1) || p.Exemplars[0].Value != 1.5 {
		t.Errorf("exemplars %+v", p.Exemplars)
	}
	sm := collect(t, s.FindSeries(ctx, store.SeriesQuery{Name: "rpc.duration", Labels: map[string]string{"route": "/a"}}))
	if len(sm) != 1 || len(sm[0].Points) != 2 || sm[0].Type != pmetric.MetricTypeSummary {
		t.Fatalf("summary: %+v", sm)
	}
	if p := sm[0].Points[0]; p.Count != 4 || p.Sum != 40 ||
		!slices.Equal(p.Quantiles, []store.Quantile{{Quantile: 0, Value: 1}, {Quantile: 0.5, Value: 8}, {Quantile: 0.99, Value: 20}, {Quantile: 1, Value: 25}}) {
		t.Errorf("summary point: %+v", p)
	}
}

// bigTrace is one trace of n spans with a padding attribute.
func bigTrace(trace byte, n int, pad int) ptrace.Traces {
	specs := make([]SpanSpec, n)
	for i := range specs {
		specs[i] = SpanSpec{Service: fmt.Sprintf("svc-%d", trace), Trace: trace, ID: byte(i + 1), Name: "op",
			Start: time.Duration(trace) * time.Second, Dur: time.Millisecond,
			Attrs: map[string]any{"pad": string(make([]byte, pad))}}
	}
	return Traces(specs...)
}

func testEvictsOldestBySize(t *testing.T, newStore NewStore) {
	const maxBytes = 64 << 10
	s := open(t, newStore, Config{MaxBytes: maxBytes})
	ctx := context.Background()
	// Each write is ~10 spans of >1 KiB: about 12 KiB, so 5 fit at most.
	const writes = 40
	for i := 1; i <= writes; i++ {
		mustWriteTraces(t, s, bigTrace(byte(i), 10, 1024))
		if _, err := s.WriteLogs(ctx, Logs(LogSpec{Service: "l", Trace: byte(i), Span: 1, Body: string(make([]byte, 1024))})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Trace(ctx, TID(writes)); err != nil {
		t.Fatalf("newest trace missing: %v", err)
	}
	if _, err := s.Trace(ctx, TID(1)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("oldest trace still there (err %v): size bound not enforced", err)
	}
	kept := collect(t, s.FindTraces(ctx, store.TraceQuery{Limit: 1000}))
	if len(kept) == 0 || len(kept) > maxBytes/(10*1024) {
		t.Fatalf("%d traces kept; want between 1 and %d", len(kept), maxBytes/(10*1024))
	}
	// What is kept is a suffix of what arrived: no trace newer than an evicted one is gone.
	ids := traceIDs(kept)
	for i, id := range ids {
		if want := TID(byte(writes - i)); id != want {
			t.Fatalf("kept %v: not the newest traces", ids)
		}
	}
	svcs, _ := s.Services(ctx)
	if slices.Contains(svcs, "svc-1") {
		t.Errorf("service of evicted data still listed: %v", svcs)
	}
	if logs := collect(t, s.FindLogs(ctx, store.LogQuery{TraceID: TID(1)})); len(logs) != 0 {
		t.Errorf("logs of the oldest write still there")
	}
	if logs := collect(t, s.FindLogs(ctx, store.LogQuery{Limit: 1000})); len(logs) == 0 || len(logs) >= writes {
		t.Errorf("%d logs kept of %d", len(logs), writes)
	}
}

func testTooLarge(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{MaxBytes: 16 << 10})
	mustWriteTraces(t, s, bigTrace(1, 2, 100))
	_, err := s.WriteTraces(context.Background(), bigTrace(2, 40, 1024))
	if !errors.Is(err, store.ErrTooLarge) {
		t.Fatalf("err %v, want ErrTooLarge", err)
	}
	if _, err := s.Trace(context.Background(), TID(1)); err != nil {
		t.Fatalf("a rejected write evicted older data: %v", err)
	}
}

func testEvictsByAge(t *testing.T, newStore NewStore) {
	var now atomic.Int64
	now.Store(Base.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	s := open(t, newStore, Config{Retention: time.Hour, Now: clock})
	ctx := context.Background()
	mustWriteTraces(t, s, bigTrace(1, 2, 10))
	_, _ = s.WriteLogs(ctx, Logs(LogSpec{Service: "l", Body: "old"}))
	now.Add(int64(40 * time.Minute))
	mustWriteTraces(t, s, bigTrace(2, 2, 10))
	_, _ = s.WriteMetrics(ctx, Metrics("m", "/", 0, 1, 0))
	now.Add(int64(30 * time.Minute)) // the first write is now 70 min old, the second 30
	// No write: reads alone must not serve expired data.
	if _, err := s.Trace(ctx, TID(1)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("expired trace served (err %v)", err)
	}
	if _, err := s.Trace(ctx, TID(2)); err != nil {
		t.Fatalf("fresh trace missing: %v", err)
	}
	if logs := collect(t, s.FindLogs(ctx, store.LogQuery{})); len(logs) != 0 {
		t.Errorf("expired logs served: %d", len(logs))
	}
	if m := collect(t, s.FindSeries(ctx, store.SeriesQuery{})); len(m) != 3 {
		t.Errorf("fresh metrics: %d series, want 3", len(m))
	}
	now.Add(int64(time.Hour))
	if svcs, _ := s.Services(ctx); len(svcs) != 0 {
		t.Errorf("services after everything expired: %v", svcs)
	}
	if names, _ := s.MetricNames(ctx); len(names) != 0 {
		t.Errorf("metric names after everything expired: %v", names)
	}
}

func testConcurrent(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{MaxBytes: 256 << 10})
	ctx := context.Background()
	var wg sync.WaitGroup
	const writers, writes = 4, 50
	for w := range writers {
		wg.Go(func() {
			for i := range writes {
				tr := byte(w*writes + i + 1)
				if _, err := s.WriteTraces(ctx, bigTrace(tr, 5, 64)); err != nil {
					t.Errorf("write: %v", err)
					return
				}
				_, _ = s.WriteLogs(ctx, Logs(LogSpec{Service: "c", Trace: tr, Span: 1, Body: "x"}))
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range writes {
				for tr, err := range s.FindTraces(ctx, store.TraceQuery{Limit: 5}) {
					if err != nil {
						t.Errorf("find: %v", err)
						return
					}
					if len(tr.Spans) == 0 {
						t.Errorf("trace %v with no spans", tr.ID)
					}
				}
				_, _ = s.Services(ctx)
				for range s.FindLogs(ctx, store.LogQuery{Limit: 5}) {
				}
			}
		})
	}
	wg.Wait()
	if got := collect(t, s.FindTraces(ctx, store.TraceQuery{Limit: 1000})); len(got) == 0 {
		t.Fatal("nothing stored")
	}
}

func testClosed(t *testing.T, newStore NewStore) {
	s := newStore(t, Config{})
	mustWriteTraces(t, s, shop())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.WriteTraces(ctx, shop()); !errors.Is(err, store.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
	if _, err := s.Trace(ctx, TID(1)); !errors.Is(err, store.ErrClosed) {
		t.Errorf("read after close: %v", err)
	}
	for _, err := range s.FindTraces(ctx, store.TraceQuery{}) {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("find after close: %v", err)
		}
	}
	if err := s.Close(); !errors.Is(err, store.ErrClosed) {
		t.Errorf("second close: %v", err)
	}
}

func testCanceled(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WriteTraces(ctx, shop()); !errors.Is(err, context.Canceled) {
		t.Errorf("write with canceled context: %v", err)
	}
	if _, err := s.Trace(ctx, TID(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("read with canceled context: %v", err)
	}
}

// testInvalidUTF8 writes text that is not valid UTF-8 (as an SDK that
// sends bytes in string fields, or a Collector passing them on, may) in
// every kind of string: service name, span name, attribute keys and
// values, a log body, a metric's attribute. Each is stored with U+FFFD in
// place of each bad byte, the text every query API answers (JSON has no
// other), so that what a user reads finds it again. Bytes values are raw
// and stay as they are.
func testInvalidUTF8(t *testing.T, newStore NewStore) {
	s := open(t, newStore, Config{})
	ctx := context.Background()
	const bad, good = "caf\xe9 \xff", "caf\uFFFD \uFFFD"
	td := Traces(SpanSpec{Service: bad, Trace: 1, ID: 1, Name: "op " + bad, Dur: time.Millisecond,
		Attrs: map[string]any{"city": bad, "key " + bad: "v", "raw": []byte(bad)}})
	ld := Logs(LogSpec{Service: bad, Trace: 1, Span: 1, Body: "body " + bad, Attrs: map[string]any{"city": bad}})
	md := Metrics(bad, bad, time.Second, 1, 0)
	if _, err := s.WriteTraces(ctx, td); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteLogs(ctx, ld); err != nil {
		t.Fatal(err)
	}
	if _, err := s.WriteMetrics(ctx, md); err != nil {
		t.Fatal(err)
	}

	if svcs, err := s.Services(ctx); err != nil || !slices.Equal(svcs, []string{good}) {
		t.Errorf("services %q %v, want %q", svcs, err, good)
	}
	if ops, err := s.Operations(ctx, store.OperationQuery{Service: good}); err != nil || len(ops) != 1 || ops[0].Name != "op "+good {
		t.Errorf("operations %+v %v, want %q", ops, err, "op "+good)
	}
	for _, q := range []store.TraceQuery{
		{Service: good, Operation: "op " + good},
		{Attributes: map[string]string{"city": good}},
		{Attributes: map[string]string{"key " + good: "v"}},
	} {
		if got := collect(t, s.FindTraces(ctx, q)); len(got) != 1 {
			t.Errorf("%+v: %d traces, want 1", q, len(got))
			continue
		}
	}
	tr, err := s.Trace(ctx, TID(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range tr.Spans[0].Attributes {
		if kv.Value.Type() == store.ValueBytes {
			if kv.Value.Str() != bad {
				t.Errorf("bytes value %q, want its bytes as sent", kv.Value.Str())
			}
		} else if !utf8.ValidString(kv.Key) || !utf8.ValidString(kv.Value.Str()) {
			t.Errorf("attribute %q=%q stored invalid", kv.Key, kv.Value.Str())
		}
	}

	for _, q := range []store.LogQuery{{Service: good}, {Text: good}, {Text: "city=" + good}} {
		logs := collect(t, s.FindLogs(ctx, q))
		if len(logs) != 1 {
			t.Errorf("%+v: %d records, want 1", q, len(logs))
			continue
		}
		if b := logs[0].Body.Str(); b != "body "+good {
			t.Errorf("body %q, want %q", b, "body "+good)
		}
	}

	for _, q := range []store.SeriesQuery{
		{Name: "requests", Labels: map[string]string{"route": good}},
		{Name: "requests", Labels: map[string]string{"service.name": good}},
	} {
		if got := collect(t, s.FindSeries(ctx, q)); len(got) != 1 {
			t.Errorf("%+v: %d series, want 1", q, len(got))
		}
	}
}
