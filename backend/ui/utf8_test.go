package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/internal/probe"
	"github.com/loupe-dev/loupe/internal/servertest"
)

// Text that is not valid UTF-8, as Latin-1 is (é and ü), the way an
// exporter that puts bytes in string fields sends it, and what every view
// shows for it: U+FFFD for each bad byte.
const (
	badService, shownService = "caf\xe9", "caf\uFFFD"
	badCity, shownCity       = "M\xfcnchen", "M\uFFFDnchen"
)

// sendInvalidUTF8 posts OTLP/protobuf (pdata writes any bytes; the Go
// SDK's exporters refuse them) of service badService: a span "order \xff"
// with attribute city=badCity, a log record in it with that attribute and
// the city in its body, a counter orders with that attribute and a server
// duration histogram of route "/orders/"+badCity. It returns the trace id.
func sendInvalidUTF8(t *testing.T, otlpHTTP string) string {
	t.Helper()
	now := time.Now()
	tid := pcommon.TraceID{0xfe, 15: 1}
	sid := pcommon.SpanID{0xfe, 7: 1}

	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", badService)
	sp := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(tid)
	sp.SetSpanID(sid)
	sp.SetName("order \xff")
	sp.SetKind(ptrace.SpanKindServer)
	sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-2 * time.Second)))
	sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(-time.Second)))
	sp.Attributes().PutStr("city", badCity)

	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", badService)
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-1500 * time.Millisecond)))
	lr.SetSeverityNumber(plog.SeverityNumberError)
	lr.SetTraceID(tid)
	lr.SetSpanID(sid)
	lr.Body().SetStr("no courier in " + badCity)
	lr.Attributes().PutStr("city", badCity)

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", badService)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("orders")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	h := rm.ScopeMetrics().At(0).Metrics().AppendEmpty()
	h.SetName("http.server.request.duration")
	h.SetUnit("s")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i, at := range []time.Duration{-2 * time.Minute, -time.Minute} {
		start, ts := pcommon.NewTimestampFromTime(now.Add(-3*time.Minute)), pcommon.NewTimestampFromTime(now.Add(at))
		dp := sum.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(ts)
		dp.SetIntValue(int64(10 * (i + 1)))
		dp.Attributes().PutStr("city", badCity)
		hp := hist.DataPoints().AppendEmpty()
		hp.SetStartTimestamp(start)
		hp.SetTimestamp(ts)
		hp.SetCount(uint64(10 * (i + 1)))
		hp.SetSum(float64(i+1) * 2)
		hp.ExplicitBounds().FromRaw([]float64{0.1, 0.5})
		hp.BucketCounts().FromRaw([]uint64{uint64(5 * (i + 1)), uint64(5 * (i + 1)), 0})
		hp.Attributes().PutStr("http.route", "/orders/"+badCity)
		hp.Attributes().PutInt("http.response.status_code", 200)
	}

	for path, marshal := range map[string]func() ([]byte, error){
		"/v1/traces":  ptraceotlp.NewExportRequestFromTraces(td).MarshalProto,
		"/v1/logs":    plogotlp.NewExportRequestFromLogs(ld).MarshalProto,
		"/v1/metrics": pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto,
	} {
		body, err := marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := probe.PostOTLP(http.DefaultClient, "http://"+otlpHTTP+path, body); err != nil {
			t.Fatal(err)
		}
	}
	return tid.String()
}

// TestBrowserInvalidUTF8: a service name, span name, attribute value, log
// body and metric label that are not valid UTF-8 render as text with
// U+FFFD, and the text shown finds them again: the service's traces, a
// tag search, a log search by value and by key=value, the Services home's
// query of the service's metrics, a PromQL label matcher.
func TestBrowserInvalidUTF8(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "")
	traceID := sendInvalidUTF8(t, srv.Addrs("otlp-http")[0].String())
	tb := newTab(t, browser, servertest.URL(srv, "http"))

	// The Services home lists the service; its traces link finds the trace.
	tb.Open("#/services")
	tb.WaitFor("the service", `document.querySelector('#services-table tr[data-service=`+jsString(shownService)+`] a.traces-link')`)
	if got := tb.Str(`document.querySelector('#services-table tr[data-service=` + jsString(shownService) + `] th').textContent`); got != shownService {
		t.Errorf("service shown as %q, want %q", got, shownService)
	}
	tb.Do(chromedp.Click(chromedp.CSS(`#services-table tr[data-service=` + jsString(shownService) + `] a.traces-link`)))
	tb.WaitFor("its trace", `document.querySelector('#trace-results tr[data-trace-id="`+traceID+`"]')`)

	// The trace shows the span's name and attribute as text.
	tb.Open("#/trace/" + traceID)
	tb.WaitFor("the span", `document.querySelector('.wf-row.selected') && document.querySelector('#span-details table.kv')`)
	if got := tb.Str(`[...document.querySelectorAll('#span-details table.kv tr')].find(r => r.querySelector('th').textContent === 'city')?.querySelector('td').textContent`); got != shownCity {
		t.Errorf("attribute city shown as %q, want %q", got, shownCity)
	}
	if got := tb.Str(`document.querySelector('.wf-row.selected').textContent`); !strings.Contains(got, "order \uFFFD") {
		t.Errorf("span row %q, want its name with U+FFFD", got)
	}
	tb.Screenshot("invalid-utf8-trace")

	// The value as shown is a tag to search by.
	tb.Open("#/traces?" + url.Values{"service": {shownService}, "tags": {"city=" + shownCity}, "lookback": {"1h"}}.Encode())
	tb.WaitFor("the trace by its tag", `document.querySelector('#trace-results tr[data-trace-id="`+traceID+`"]')`)

	// Logs: by the value, by key=value, and the body shown as text.
	for _, q := range []string{strings.ToLower(shownCity), "city=" + shownCity} {
		tb.Open("#/logs?" + url.Values{"q": {q}}.Encode())
		tb.WaitFor("the record for "+q, `document.querySelectorAll('#logs-result li.log').length === 1`)
		if got := tb.Str(`document.querySelector('#logs-result .log-body').textContent`); got != "no courier in "+shownCity {
			t.Errorf("log body %q", got)
		}
	}

	// Metrics: the Services home's figures from the service's server
	// duration, and its slowest exemplars link, a query that names the
	// service (U+FFFD written \uFFFD: PromQL's lexer refuses it as is).
	tb.Open("#/services")
	tb.WaitFor("the service's figures", `document.querySelector('#services-table tr[data-service=`+jsString(shownService)+`][data-source="metrics"] a.slowest-link')`)
	tb.Do(chromedp.Click(chromedp.CSS(`#services-table tr[data-service=` + jsString(shownService) + `] a.slowest-link`)))
	tb.WaitFor("its p95 drawn", `location.hash.startsWith('#/metrics?') && document.querySelector('svg.chart g.series path')?.getAttribute('d')`)
	if q := tb.Str(`document.getElementById('query-input').value`); !strings.Contains(q, `job="caf\uFFFD"`) {
		t.Errorf("slowest exemplars query %q, want the service's name with \\uFFFD", q)
	}
	// A label value as shown, so escaped, selects its series.
	tb.Open("#/metrics?" + url.Values{"range": {"15m"}, "q": {`sum by (city) (orders_total{city="M\uFFFDnchen"})`}}.Encode())
	tb.WaitFor("the series", `document.querySelector('svg.chart g.series path')?.getAttribute('d') && document.querySelector('ul.legend li')`)
	if got := tb.Str(`document.querySelector('ul.legend li').textContent`); !strings.Contains(got, shownCity) {
		t.Errorf("legend %q, want the city as shown", got)
	}
	tb.NoErrors()
}
