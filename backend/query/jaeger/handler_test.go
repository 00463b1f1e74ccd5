package jaeger_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/internal/golden"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/query/jaeger"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// fixture is a store with three traces of storetest's kind plus one with a
// 64-bit trace id and the less common fields (bytes, trace state, links,
// unnamed events, OK status).
func fixture(t *testing.T) *http.ServeMux {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	td := storetest.Traces(
		storetest.SpanSpec{Service: "frontend", Trace: 1, ID: 1, Name: "GET /cart", Kind: ptrace.SpanKindServer,
			Dur: 50 * time.Millisecond, Attrs: map[string]any{"http.response.status_code": 500, "http.route": "/cart"}},
		storetest.SpanSpec{Service: "cart", Trace: 1, ID: 2, Parent: 1, Name: "load", Kind: ptrace.SpanKindInternal,
			Start: 10 * time.Millisecond, Dur: 30 * time.Millisecond, Error: "db down", Event: "retry",
			Attrs: map[string]any{"db.ok": false, "ratio": 0.5, "ids": []any{1, 2}}},
		storetest.SpanSpec{Service: "frontend", Trace: 2, ID: 3, Name: "GET /pay", Kind: ptrace.SpanKindServer,
			Start: time.Second, Dur: 200 * time.Millisecond, LinkTo: 4},
		storetest.SpanSpec{Service: "frontend", Trace: 2, ID: 5, Parent: 3, Name: "charge", Kind: ptrace.SpanKindClient,
			Start: 1100 * time.Millisecond, Dur: 90 * time.Millisecond},
	)
	if _, err := s.WriteTraces(ctx, td); err != nil {
		t.Fatal(err)
	}
	td = ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "worker")
	rs.Resource().Attributes().PutInt("process.pid", 42)
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{15: 7})
	sp.SetSpanID(pcommon.SpanID{7: 1})
	sp.SetName("job")
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(storetest.Base.Add(3 * time.Second)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(storetest.Base.Add(3*time.Second + 1500*time.Microsecond)))
	sp.TraceState().FromRaw("vendor=x")
	sp.Status().SetCode(ptrace.StatusCodeOk)
	sp.Attributes().PutEmptyBytes("payload").FromRaw([]byte{0xca, 0xfe})
	ev := sp.Events().AppendEmpty()
	ev.SetTimestamp(pcommon.NewTimestampFromTime(storetest.Base.Add(3 * time.Second)))
	ev.Attributes().PutStr("note", "no name")
	if _, err := s.WriteTraces(ctx, td); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	jaeger.New(s, jaeger.WithClock(func() time.Time { return storetest.Base.Add(time.Hour) })).RegisterRoutes(mux)
	return mux
}

func get(mux http.Handler, url string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	return rec
}

func TestGolden(t *testing.T) {
	mux := fixture(t)
	start := storetest.Base.UnixMicro()
	cases := []struct {
		name, url string
		status    int
	}{
		{"services", "/api/services", 200},
		{"service_operations", "/api/services/frontend/operations", 200},
		{"operations", "/api/operations?service=frontend", 200},
		{"operations_server", "/api/operations?service=frontend&spanKind=server", 200},
		{"search_service", "/api/traces?service=frontend", 200},
		{"search_tags", `/api/traces?service=cart&tags={"error":"true"}`, 200},
		{"search_tag", "/api/traces?service=worker&tag=payload:cafe", 200},
		{"search_duration", "/api/traces?service=frontend&minDuration=100ms&maxDuration=1s", 200},
		{"search_time_range_empty", "/api/traces?service=frontend&start=" + itoa(start+2_000_000) + "&end=" + itoa(start+3_000_000), 200},
		{"search_by_ids", "/api/traces?traceID=7&traceID=ffff", 200},
		{"trace", "/api/traces/aa000000000000000000000000000001", 200},
		{"trace_64bit", "/api/traces/0000000000000007", 200},
		{"trace_compact", "/api/traces/aa000000000000000000000000000001?compact=true", 200},
		{"search_spans_of", "/api/traces?service=frontend&spansOf=cart&compact=true", 200},
		{"dependencies", "/api/dependencies?endTs=" + itoa(storetest.Base.Add(time.Minute).UnixMilli()) + "&lookback=120000", 200},
		{"dependencies_empty_window", "/api/dependencies?endTs=" + itoa(storetest.Base.Add(-time.Minute).UnixMilli()) + "&lookback=1000", 200},
		{"error_bad_end_ts", "/api/dependencies?endTs=soon", 400},
		{"error_trace_not_found", "/api/traces/1234", 404},
		{"error_bad_trace_id", "/api/traces/xyz", 400},
		{"error_no_service", "/api/traces", 400},
		{"error_operations_no_service", "/api/operations", 400},
		{"error_bad_span_kind", "/api/operations?service=frontend&spanKind=sideways", 400},
		{"error_bad_limit", "/api/traces?service=frontend&limit=ten", 400},
		{"error_bad_duration", "/api/traces?service=frontend&minDuration=fast", 400},
		{"error_min_above_max", "/api/traces?service=frontend&minDuration=2s&maxDuration=1s", 400},
		{"error_bad_start", "/api/traces?service=frontend&start=yesterday", 400},
		{"error_bad_tags", "/api/traces?service=frontend&tags=notjson", 400},
		{"error_bad_tag", "/api/traces?service=frontend&tag=novalue", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(mux, tc.url)
			if rec.Code != tc.status {
				t.Errorf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			golden.JSON(t, tc.name, rec.Body.Bytes())
		})
	}
}

func itoa(n int64) string { return jsonNumber(n) }

func jsonNumber(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// envelope is the generic response shape, for the semantic checks below.
type envelope struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			SpanID    string `json:"spanID"`
			ProcessID string `json:"processID"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
}

func decode(t *testing.T, rec *httptest.ResponseRecorder) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	return e
}

func TestSearchSemantics(t *testing.T) {
	mux := fixture(t)
	ids := func(url string) []string {
		rec := get(mux, url)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", url, rec.Code, rec.Body)
		}
		var out []string
		for _, tr := range decode(t, rec).Data {
			out = append(out, tr.TraceID)
		}
		return out
	}
	t1, t2 := "aa000000000000000000000000000001", "aa000000000000000000000000000002"
	cases := []struct {
		url  string
		want []string
	}{
		{"/api/traces?service=frontend", []string{t2, t1}},
		{"/api/traces?service=frontend&limit=1", []string{t2}},
		{"/api/traces?service=frontend&operation=charge", []string{t2}},
		{"/api/traces?service=frontend&tag=http.route:/cart", []string{t1}},
		{"/api/traces?service=frontend&lookback=30m", nil}, // the clock is Base+1h
		{"/api/traces?service=frontend&lookback=2h", []string{t2, t1}},
		{"/api/traces?service=frontend&start=" + itoa(storetest.Base.Add(500*time.Millisecond).UnixMicro()), []string{t2}},
		{"/api/traces?service=frontend&end=" + itoa(storetest.Base.Add(500*time.Millisecond).UnixMicro()) + "&start=0", []string{t1}},
	}
	for _, tc := range cases {
		if got := ids(tc.url); !equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.url, got, tc.want)
		}
	}
	// Every span's process exists, and a trace crossing services has one process each.
	e := decode(t, get(mux, "/api/traces/"+t1))
	tr := e.Data[0]
	if len(tr.Processes) != 2 {
		t.Errorf("processes %v, want 2", tr.Processes)
	}
	for _, s := range tr.Spans {
		if _, ok := tr.Processes[s.ProcessID]; !ok {
			t.Errorf("span %s has process %q not in %v", s.SpanID, s.ProcessID, tr.Processes)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStoreClosed(t *testing.T) {
	s := memstore.New()
	mux := http.NewServeMux()
	jaeger.New(s).RegisterRoutes(mux)
	_ = s.Close()
	for _, url := range []string{"/api/services", "/api/traces?service=x", "/api/traces/01", "/api/operations?service=x"} {
		if rec := get(mux, url); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s on a closed store: %d, want 503", url, rec.Code)
		}
	}
}
