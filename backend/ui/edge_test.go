package ui_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/loupe-dev/loupe/internal/probe"
	"github.com/loupe-dev/loupe/internal/servertest"
)

const edgeService = "edge"

// sendEdgeMetrics posts the metrics of edgeService as OTLP/protobuf: a
// gauge queue.depth with one point, and a server duration histogram with
// no bounds, so one bucket (+Inf), exported twice.
func sendEdgeMetrics(t *testing.T, otlpHTTP string) {
	t.Helper()
	now := time.Now()
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", edgeService)
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()

	g := ms.AppendEmpty()
	g.SetName("queue.depth")
	g.SetUnit("{item}")
	gp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	gp.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(-30 * time.Second)))
	gp.SetIntValue(7)

	h := ms.AppendEmpty()
	h.SetName("http.server.request.duration")
	h.SetUnit("s")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for i, at := range []time.Duration{-2 * time.Minute, -time.Minute} {
		hp := hist.DataPoints().AppendEmpty()
		hp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(-3 * time.Minute)))
		hp.SetTimestamp(pcommon.NewTimestampFromTime(now.Add(at)))
		n := uint64(3 * (i + 1))
		hp.SetCount(n)
		hp.SetSum(0.1 * float64(n))
		hp.BucketCounts().FromRaw([]uint64{n})
		hp.Attributes().PutStr("http.route", "/one")
		hp.Attributes().PutInt("http.response.status_code", 200)
	}

	body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	if err := probe.PostOTLP(http.DefaultClient, "http://"+otlpHTTP+"/v1/metrics", body); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserEdgeMetrics: a metric with one point and a histogram with one
// bucket. The Services home shows the service's request rate and no
// quantile (a histogram of one bucket has none); the gauge's one point
// draws a flat line for PromQL's lookback; the histogram's quantiles,
// NaN, say why nothing is drawn, and its rate draws a line.
func TestBrowserEdgeMetrics(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "")
	sendEdgeMetrics(t, srv.Addrs("otlp-http")[0].String())
	tb := newTab(t, browser, servertest.URL(srv, "http"))
	row := `#services-table tr[data-service="` + edgeService + `"]`

	tb.Open("#/services")
	tb.WaitFor("the service's row", `document.querySelector('`+row+`[data-source="metrics"] .rate')`)
	if got := tb.Str(`document.querySelector('` + row + ` .rate').textContent`); got == "—" || got == "" {
		t.Errorf("request rate %q, want the 3 requests of the minute between the exports", got)
	}
	for _, q := range []string{".p50", ".p95", ".p99"} {
		if got := tb.Str(`document.querySelector('` + row + ` ` + q + `').textContent`); got != "—" {
			t.Errorf("%s %q, want none (—): one bucket gives no quantile", q, got)
		}
	}
	tb.NoErrors()

	tb.Open("#/metrics?" + url.Values{"metric": {"queue_depth"}, "range": {"15m"}}.Encode())
	// Its one sample stands for five minutes (PromQL's lookback): a flat
	// line from it on, at 7, the chart starting shortly before it.
	tb.WaitFor("the gauge's line", `document.querySelector('svg.chart g.series path')?.getAttribute('d')?.includes('L') && document.getElementById('young-note')`)
	if ys := tb.Str(`[...new Set(document.querySelector('svg.chart g.series path').getAttribute('d').split(/[ML]/).filter(Boolean).map(p => p.split(',')[1]))].length`); ys != "1" {
		t.Errorf("the gauge's line has %s heights, want one (its one value)", ys)
	}
	tb.Screenshot("edge-one-point")
	tb.NoErrors()

	bucket := "http_server_request_duration_seconds_bucket"
	tb.Open("#/metrics?" + url.Values{"metric": {bucket}, "range": {"15m"}}.Encode())
	tb.WaitFor("the quantiles' answer", `document.getElementById('nan-note')?.textContent.includes('+Inf')`)
	tb.Screenshot("edge-one-bucket")
	tb.Open("#/metrics?" + url.Values{"metric": {bucket}, "range": {"15m"}, "q": {"sum(rate(http_server_request_duration_seconds_count[4m]))"}}.Encode())
	tb.WaitFor("the rate's line", `document.querySelector('svg.chart g.series path')?.getAttribute('d')?.includes('L')`)
	tb.NoErrors()
}
