package logs_test

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
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/backend/query/logs"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

var base = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// fixture: checkout logs three records in one trace (two in span 1, one in
// span 2), payments one without a trace.
func fixture() plog.Logs {
	ld := plog.NewLogs()
	add := func(service string) plog.LogRecordSlice {
		rl := ld.ResourceLogs().AppendEmpty()
		rl.Resource().Attributes().PutStr("service.name", service)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("app")
		return sl.LogRecords()
	}
	checkout, payments := add("checkout"), add("payments")
	rec := func(into plog.LogRecordSlice, offset time.Duration, sev plog.SeverityNumber, text, body string, span byte) plog.LogRecord {
		r := into.AppendEmpty()
		r.SetTimestamp(pcommon.NewTimestampFromTime(base.Add(offset)))
		r.SetObservedTimestamp(pcommon.NewTimestampFromTime(base.Add(offset + time.Millisecond)))
		r.SetSeverityNumber(sev)
		r.SetSeverityText(text)
		r.Body().SetStr(body)
		if span != 0 {
			r.SetTraceID(pcommon.TraceID{15: 7})
			r.SetSpanID(pcommon.SpanID{7: span})
		}
		return r
	}
	r := rec(checkout, 0, plog.SeverityNumberInfo, "INFO", "order received", 1)
	r.Attributes().PutStr("order.id", "A1")
	r.Attributes().PutInt("items", 3)
	rec(checkout, time.Second, plog.SeverityNumberWarn, "WARN", "payment slow: timeout after 2s", 1)
	e := rec(checkout, 2*time.Second, plog.SeverityNumberError, "ERROR", "payment failed", 2)
	e.Attributes().PutBool("retry", false)
	e.Attributes().PutEmptySlice("codes").AppendEmpty().SetInt(502)
	rec(payments, 3*time.Second, plog.SeverityNumberDebug, "DEBUG", "gateway warm", 0)
	return ld
}

func server(t *testing.T) *httptest.Server {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() })
	if _, err := st.WriteLogs(context.Background(), fixture()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	logs.New(st).RegisterRoutes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestGolden(t *testing.T) {
	srv := server(t)
	for _, tc := range []struct {
		name, query string
		code        int
		want        int // records, for the 200s
	}{
		{"all", "", 200, 4},
		{"by-trace", "trace_id=00000000000000000000000000000007", 200, 3},
		{"by-span", "trace_id=7&span_id=0000000000000001", 200, 2},
		{"by-service-severity", "service=checkout&severity=warn", 200, 2},
		{"by-severity-number", "severity=17", 200, 1},
		{"by-text", "q=TIMEOUT", 200, 1},
		{"by-attribute", "q=a1", 200, 1},                      // order.id A1
		{"by-key-value", "q=items%3D3", 200, 1},               // items=3
		{"by-key-value-array", "q=codes%3D%5B502%5D", 200, 1}, // codes=[502]
		{"by-key-value-not-part", "q=items%3D33", 200, 0},
		{"by-time", "start=2026-11-22T10:00:00.5Z&end=2026-11-22T10:00:02.5Z", 200, 2},
		{"limit", "limit=1", 200, 1},
		{"bad-trace-id", "trace_id=xyz", 400, 0},
		{"bad-span-id", "span_id=12", 400, 0},
		{"bad-severity", "severity=loud", 400, 0},
		{"bad-time", "start=yesterday", 400, 0},
		{"bad-lookback", "lookback=-1h", 400, 0},
		{"bad-range", "start=2026-11-22T11:00:00Z&end=2026-11-22T10:00:00Z", 400, 0},
		{"bad-limit", "limit=0", 400, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + "/api/logs?" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.code, body)
			}
			if tc.code == 200 {
				var r struct{ Logs []json.RawMessage }
				if err := json.Unmarshal(body, &r); err != nil || len(r.Logs) != tc.want {
					t.Fatalf("%d records (%v), want %d: %s", len(r.Logs), err, tc.want, body)
				}
			}
			golden.JSON(t, tc.name, body)
		})
	}
}

func TestNewestFirst(t *testing.T) {
	srv := server(t)
	resp, err := http.Get(srv.URL + "/api/logs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ Logs []logs.Record }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(r.Logs); i++ {
		if r.Logs[i-1].Time < r.Logs[i].Time {
			t.Errorf("record %d (%s) is older than record %d (%s)", i-1, r.Logs[i-1].Time, i, r.Logs[i].Time)
		}
	}
}
