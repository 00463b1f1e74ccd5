//go:build unix

package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/loupe-dev/loupe/internal/browsertest"
)

// Bounds of the journey test.
const (
	journeyDemo    = 50 * time.Second // the demo's --duration
	journeyBrowser = 2 * time.Minute  // the browser's life, its start included
	firstData      = 30 * time.Second // from the demo's start to its five services on the home page
	firstExemplar  = 40 * time.Second // from the demo's start to the chart with a failed request's exemplar
)

// TestDemoJourney is what a new user does after `loupe demo`, in headless
// Chromium on the built binary: open the printed address; the Services home
// lists the five services with their request rates; the metrics view of
// the server duration histogram draws a line and exemplar dots; a click on
// the slowest failed request's dot opens its trace, across services, with
// that span selected and its logs beside it; the trace's logs link lists
// the trace's logs, and Back returns to the span. Then the demo stops by
// itself: exit 0, no process left. Everything is read from the page, not
// the API. It logs the times a user waits.
func TestDemoJourney(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs the demo platform for a minute and drives Chromium")
	}
	bin := buildLoupe(t)
	browser := browsertest.NewBrowser(t, journeyBrowser)
	d := startDemo(t, nil, bin, "demo", "--duration", journeyDemo.String(), "--http", "127.0.0.1:0")
	if d.ui == "" {
		t.Fatal("no web UI address in the start message")
	}
	tb := browsertest.NewTab(t, browser, d.ui)

	// The home page: the Services home once data has come. Live is on by
	// default: the page draws itself again as data arrives, no reload.
	home := `location.hash.startsWith('#/services') && ` + everyService(`.rate`, `/\d/.test(c.textContent) && c.textContent.endsWith('/s')`)
	tb.Open("")
	waitUntil(tb, "the five services with their request rates", home, d.started.Add(firstData))
	t.Logf("the demo's start → its five services on the home page: %v", time.Since(d.started).Round(100*time.Millisecond))
	for _, s := range demoServices {
		row := `#services-table tr[data-service="` + s + `"]`
		t.Logf("%-12s %9s from %-7s errors %6s, p99 %s", s, tb.Str(`document.querySelector('`+row+` .rate').textContent`),
			tb.Str(`document.querySelector('`+row+`').dataset.source`), tb.Str(`document.querySelector('`+row+` .err-rate').textContent`),
			tb.Str(`document.querySelector('`+row+` .p99').textContent`))
	}
	// The demo sends 5 requests/s, all through the gateway: its rate is
	// over the seconds its data covers, not over the range (1 h); the
	// newest second of spans may not have arrived yet.
	if r, err := browsertest.PerSecond(tb.Str(`document.querySelector('#services-table tr[data-service="gateway"] .rate').textContent`)); err != nil || r < 0.5 || r > 50 {
		t.Errorf("the gateway's request rate %v/s (%v), want about the demo's 5/s", r, err)
	}
	tb.Screenshot("demo-services")

	// Metrics, from the header: the server duration histogram's p95, with
	// its exemplars. Failures were injected in the first seconds, so the
	// slowest failed request (a model timeout, 3 s) is among them.
	tb.Do(chromedp.Click(chromedp.CSS(`header nav a[data-view="metrics"]`)))
	const chart = `location.hash.startsWith('#/metrics?') && document.querySelector('svg.chart g.series path')?.getAttribute('d')?.includes('L') && document.querySelector('#exemplar-table tr.has-error')`
	waitUntil(tb, "the p95 line with a failed request's exemplar", chart, d.started.Add(firstExemplar))
	t.Logf("the demo's start → the p95 line with a failed request's exemplar: %v", time.Since(d.started).Round(100*time.Millisecond))
	if got := tb.Str(`new URLSearchParams(location.hash.split('?')[1]).get('metric')`); got != "http_server_request_duration_seconds_bucket" {
		t.Errorf("the metrics view picked %q, want the server duration histogram", got)
	}
	// The dot is picked in one drawing and clicked in it: the user pauses
	// Live first, which stops a refresh under way.
	tb.Do(chromedp.Click(chromedp.CSS(`#live-toggle`)))
	if got := tb.Str(`document.getElementById('live-toggle').getAttribute('aria-pressed')`); got != "false" {
		t.Fatalf("Live toggle pressed %q after a click, want false (paused)", got)
	}
	dots := tb.Str(`document.querySelectorAll('svg.chart circle.exemplar').length`)
	t.Logf("metrics view: %s exemplar dots; %s", dots, tb.Str(`document.getElementById('exemplar-note')?.textContent`))
	// The dot to click: the gateway's slowest failed request (the one a
	// user asks about), else the slowest failed one, else the slowest.
	var dot struct{ TraceID, SpanID, Series, Title string }
	tb.Eval(`(() => {
		const rows = new Map([...document.querySelectorAll('#exemplar-table tbody tr')].map(r => [r.dataset.traceId + '/' + r.dataset.spanId, r.querySelector('td.labels').textContent]));
		const dots = [...document.querySelectorAll('svg.chart circle.exemplar')].map(c => ({TraceID: c.dataset.traceId, SpanID: c.dataset.spanId,
			Series: rows.get(c.dataset.traceId + '/' + c.dataset.spanId) || '', Title: c.querySelector('title').textContent, error: c.classList.contains('error'), y: Number(c.getAttribute('cy'))}));
		dots.sort((a, b) => a.y - b.y);
		return dots.find(d => d.error && d.Series.includes('job="gateway"')) || dots.find(d => d.error) || dots[0];
	})()`, &dot)
	t.Logf("clicking %s (%s)", dot.Title, dot.Series)
	tb.Screenshot("demo-metrics")

	// The click: its trace, that span selected, its logs beside it.
	began := time.Now()
	tb.Do(chromedp.Click(chromedp.CSS(`circle.exemplar[data-trace-id="` + dot.TraceID + `"][data-span-id="` + dot.SpanID + `"]`)))
	atSpan := `location.hash === '#/trace/` + dot.TraceID + `?span=` + dot.SpanID + `' && document.getElementById('trace-id')?.textContent === '` + dot.TraceID +
		`' && document.querySelector('.wf-row.selected')?.dataset.spanId === '` + dot.SpanID + `'`
	tb.WaitFor("the trace with the span selected", atSpan)
	shown := time.Since(began)
	tb.WaitFor("the span's logs", `document.querySelector('#span-logs li.log, #no-span-logs')`)
	t.Logf("exemplar click → trace with its span selected: %v; with the span's logs: %v", shown.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	var services []string
	tb.Eval(`[...new Set([...document.querySelectorAll('#waterfall .wf-row .svc')].map(e => e.textContent))].sort()`, &services)
	if len(services) < 3 {
		t.Errorf("the trace crosses %q, want several services", services)
	}
	var logs []struct{ TraceID, SpanID, Body string }
	tb.Eval(`[...document.querySelectorAll('#span-logs li.log')].map(l => ({TraceID: l.dataset.traceId, SpanID: l.dataset.spanId, Body: l.querySelector('.log-body').textContent}))`, &logs)
	if len(logs) == 0 {
		t.Errorf("no logs beside span %s: %s", dot.SpanID, tb.Str(`document.getElementById('span-logs').textContent`))
	}
	for _, l := range logs {
		if l.TraceID != dot.TraceID || l.SpanID != dot.SpanID {
			t.Errorf("beside span %s of trace %s, a log of trace %s span %s: %q", dot.SpanID, dot.TraceID, l.TraceID, l.SpanID, l.Body)
		}
	}
	t.Logf("trace across %s; the span's logs: %q", strings.Join(services, ", "), logs)
	tb.Screenshot("demo-trace")

	// All the trace's logs, and back to the span.
	tb.Do(chromedp.Click(chromedp.CSS(`#trace-logs-link`)))
	tb.WaitFor("the trace's logs", `location.hash.startsWith('#/logs?trace_id=`+dot.TraceID+`') && document.querySelectorAll('#logs-result li.log').length >= `+strconv.Itoa(len(logs)))
	var traceLogs []string
	tb.Eval(`[...document.querySelectorAll('#logs-result li.log')].map(l => l.dataset.traceId)`, &traceLogs)
	for _, id := range traceLogs {
		if id != dot.TraceID {
			t.Errorf("the trace's logs list a log of trace %s", id)
		}
	}
	t.Logf("the trace's logs: %d records", len(traceLogs))
	tb.Do(chromedp.NavigateBack())
	tb.WaitFor("the trace again, the span selected", atSpan)
	tb.NoErrors()

	d.wait(t)
}

// everyService is a condition on the Services home: cond holds for the
// cell sel (as c) of each of the demo's services.
func everyService(sel, cond string) string {
	return `[` + strings.Join(quoted(demoServices), ",") + `].every(s => { const c = document.querySelector('#services-table tr[data-service="' + s + '"] ` + sel + `'); return c && ` + cond + `; })`
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = browsertest.JSString(s)
	}
	return out
}

// waitUntil waits for cond in the page until deadline (StepTimeout from
// now at least), as a user waits for a page that Live draws again.
func waitUntil(tb *browsertest.Tab, what, cond string, deadline time.Time) {
	tb.T.Helper()
	deadline = later(deadline, time.Now().Add(browsertest.StepTimeout))
	for !tb.Is(cond) {
		if time.Now().After(deadline) {
			tb.Fatalf("waited until %s for %s (%s)", deadline.Format("15:04:05.000"), what, cond)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
