package apiv3_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/internal/golden"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/query/apiv3"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

var base = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func ts(offset time.Duration) pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(base.Add(offset))
}

func tid(b byte) pcommon.TraceID { return pcommon.TraceID{15: b} }
func sid(b byte) pcommon.SpanID  { return pcommon.SpanID{7: b} }

// fixture: trace 1 has a frontend root, a failing backend child with an
// event, a link and typed attributes, and an orphan; trace 2 one span.
func fixture() ptrace.Traces {
	td := ptrace.NewTraces()
	add := func(service string) ptrace.SpanSlice {
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", service)
		rs.Resource().Attributes().PutStr("host.name", "h1")
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("lib")
		ss.Scope().SetVersion("1.0")
		return ss.Spans()
	}
	fe, be := add("frontend"), add("backend")

	root := fe.AppendEmpty()
	root.SetTraceID(tid(1))
	root.SetSpanID(sid(1))
	root.SetName("GET /")
	root.SetKind(ptrace.SpanKindServer)
	root.SetStartTimestamp(ts(0))
	root.SetEndTimestamp(ts(100 * time.Millisecond))
	root.Attributes().PutInt("http.response.status_code", 500)

	child := be.AppendEmpty()
	child.SetTraceID(tid(1))
	child.SetSpanID(sid(2))
	child.SetParentSpanID(sid(1))
	child.SetName("SELECT orders")
	child.SetKind(ptrace.SpanKindClient)
	child.SetStartTimestamp(ts(10 * time.Millisecond))
	child.SetEndTimestamp(ts(60 * time.Millisecond))
	child.Status().SetCode(ptrace.StatusCodeError)
	child.Status().SetMessage("deadlock")
	child.Attributes().PutBool("db.retry", true)
	child.Attributes().PutDouble("db.cost", 1.5)
	child.Attributes().PutEmptySlice("db.tables").AppendEmpty().SetStr("orders")
	ev := child.Events().AppendEmpty()
	ev.SetName("exception")
	ev.SetTimestamp(ts(59 * time.Millisecond))
	ev.Attributes().PutStr("exception.message", "deadlock")
	ln := child.Links().AppendEmpty()
	ln.SetTraceID(tid(2))
	ln.SetSpanID(sid(9))

	orphan := be.AppendEmpty()
	orphan.SetTraceID(tid(1))
	orphan.SetSpanID(sid(3))
	orphan.SetParentSpanID(sid(42))
	orphan.SetName("cache miss")
	orphan.SetStartTimestamp(ts(20 * time.Millisecond))
	orphan.SetEndTimestamp(ts(150 * time.Millisecond))

	other := be.AppendEmpty()
	other.SetTraceID(tid(2))
	other.SetSpanID(sid(9))
	other.SetName("SELECT orders")
	other.SetKind(ptrace.SpanKindClient)
	other.SetStartTimestamp(ts(time.Second))
	other.SetEndTimestamp(ts(time.Second + 5*time.Millisecond))
	return td
}

func server(t *testing.T) *httptest.Server {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.WriteTraces(context.Background(), fixture()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	apiv3.New(st).RegisterRoutes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

const window = "query.start_time_min=2026-11-22T09:00:00Z&query.start_time_max=2026-11-22T11:00:00Z"

func TestGolden(t *testing.T) {
	srv := server(t)
	for _, tc := range []struct {
		name, path string
		code       int
	}{
		{"services", "/api/v3/services", 200},
		{"operations", "/api/v3/operations?service=backend", 200},
		{"operations-client", "/api/v3/operations?service=backend&span_kind=client", 200},
		{"trace", "/api/v3/traces/00000000000000000000000000000001", 200},
		{"find", "/api/v3/traces?query.service_name=backend&query.operation_name=SELECT%20orders&" + window, 200},
		{"find-attributes", "/api/v3/traces?" + window + `&query.attributes={"db.retry":"true"}`, 200},
		{"find-duration", "/api/v3/traces?" + window + "&query.duration_min=90ms", 200},
		{"summaries", "/api/v3/trace-summaries?" + window, 200},
		{"not-found", "/api/v3/traces/000000000000000000000000000000ff", 404},
		{"no-traces", "/api/v3/traces?query.service_name=nobody&" + window, 404},
		{"bad-trace-id", "/api/v3/traces/xyz", 400},
		{"missing-window", "/api/v3/traces?query.service_name=backend", 400},
		{"bad-time", "/api/v3/traces?query.start_time_min=yesterday&query.start_time_max=2026-11-22T11:00:00Z", 400},
		{"bad-depth", "/api/v3/traces?" + window + "&query.search_depth=-1", 400},
		{"bad-attributes", "/api/v3/traces?" + window + "&query.attributes=status=500", 400},
		{"bad-kind", "/api/v3/operations?service=backend&span_kind=sideways", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("content type %q", ct)
			}
			golden.JSON(t, tc.name, body)
		})
	}
}

// The OTLP JSON of a trace decodes back to the data that was written.
func TestTraceRoundTrip(t *testing.T) {
	srv := server(t)
	resp, err := http.Get(srv.URL + "/api/v3/traces/00000000000000000000000000000001")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct{ Result json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(env.Result)
	if err != nil {
		t.Fatal(err)
	}
	if td.SpanCount() != 3 {
		t.Fatalf("%d spans, want 3", td.SpanCount())
	}
	var found bool
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		spans := td.ResourceSpans().At(i).ScopeSpans().At(0).Spans()
		for j := 0; j < spans.Len(); j++ {
			s := spans.At(j)
			if s.SpanID() != sid(2) {
				continue
			}
			found = true
			retry, _ := s.Attributes().Get("db.retry")
			cost, _ := s.Attributes().Get("db.cost")
			tables, _ := s.Attributes().Get("db.tables")
			if !retry.Bool() || cost.Double() != 1.5 || tables.Type() != pcommon.ValueTypeSlice || s.Status().Message() != "deadlock" || s.Links().At(0).SpanID() != sid(9) {
				t.Errorf("span 2 came back different: %v %v %v %q", retry, cost, tables.AsString(), s.Status().Message())
			}
		}
	}
	if !found {
		t.Fatal("span 2 missing")
	}
}
