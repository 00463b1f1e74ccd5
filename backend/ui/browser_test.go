package ui_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/internal/browsertest"
	"github.com/loupe-dev/loupe/internal/servertest"
)

// testTimeout bounds a whole browser test, the browser's start included.
const testTimeout = 3 * time.Minute

// startServer runs a backend on loopback with every listener and a memory
// store.
func startServer(t *testing.T, token string) *server.Server {
	return servertest.Start(t, server.Config{
		OTLPGRPCAddr: "127.0.0.1:0", OTLPHTTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Token: token,
	})
}

func perSecond(t *testing.T, s string) float64 {
	t.Helper()
	v, err := browsertest.PerSecond(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// tab is the browser's tab on one server, with this package's checks.
type tab struct{ *browsertest.Tab }

func newBrowser(t *testing.T) context.Context { return browsertest.NewBrowser(t, testTimeout) }

// livePaused runs before the page's scripts: Live starts paused, as after
// a click on its toggle, unless the tab's session has chosen already.
const livePaused = `if (sessionStorage.getItem('loupe.live') === null) sessionStorage.setItem('loupe.live', '0');`

// newTab opens a tab whose views hold still: Live starts paused, so that
// no refresh replaces an element between a test's finding it and clicking
// it. TestBrowserLive tests Live, in a tab of its own.
func newTab(t *testing.T, browser context.Context, base string) *tab {
	tb := &tab{browsertest.NewTab(t, browser, base)}
	tb.BeforeScripts(livePaused)
	return tb
}

var jsString = browsertest.JSString

// TestBrowser drives the UI in headless Chromium against an in-process
// loupe serve fed by the OpenTelemetry SDK: the headline jump from a
// histogram's exemplar to its trace with its span selected and that span's
// logs, then a trace search and a log search.
func TestBrowser(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "")
	began := time.Now() // the spans start at most 3.3 s before
	data := sendTelemetry(t, srv.Addrs("otlp-http")[0].String())
	tb := newTab(t, browser, servertest.URL(srv, "http"))

	t.Run("services home", func(t *testing.T) {
		tb.T = t
		// The home page is the Services home when there is data.
		tb.Open("")
		tb.WaitFor("the services table", `location.hash.startsWith('#/services') && document.querySelector('#services-table tbody tr[data-service="payments"]')`)
		row := func(svc, sel string) string {
			return tb.Str(`document.querySelector('#services-table tr[data-service="` + svc + `"] ` + sel + `')?.textContent`)
		}
		if got := tb.Str(`document.querySelector('#services-table tr[data-service="shop"]')?.dataset.source`); got != "metrics" {
			t.Errorf("shop's figures come from %q, want its server duration metric", got)
		}
		if got := tb.Str(`document.querySelector('#services-table tr[data-service="payments"]')?.dataset.source`); got != "spans" {
			t.Errorf("payments' figures come from %q, want its spans (it sends no metrics)", got)
		}
		// payments: 13 authorize spans, one failed and 3.2 s long.
		if got := row("payments", ".err-rate"); got != "7.69%" {
			t.Errorf("payments' error rate %q, want 7.69%% (1 of 13)", got)
		}
		if got := row("payments", ".p99"); got != "3.2 s" {
			t.Errorf("payments' p99 %q, want 3.2 s", got)
		}
		if got := row("payments", ".p50"); !strings.HasSuffix(got, " ms") {
			t.Errorf("payments' p50 %q, want milliseconds", got)
		}
		if got := row("shop", ".rate"); !strings.HasSuffix(got, "/s") {
			t.Errorf("shop's request rate %q, want a rate per second", got)
		}
		// A rate divides by the time the data covers, here a few seconds,
		// not by the range (1 h): that would show a service started a
		// minute ago at a 60th of its rate.
		covered := time.Since(began).Seconds() + 3.3
		if got := perSecond(t, row("payments", ".rate")); got < float64(data.traces)/covered {
			t.Errorf("payments' request rate %v/s, want at least its %d requests over the %.1f s they cover", got, data.traces, covered)
		}
		if got := perSecond(t, row("shop", ".rate")); got < 1/covered {
			t.Errorf("shop's request rate %v/s, want at least 1 request over the %.1f s its samples cover", got, covered)
		}
		if got := row("shop", ".err-rate"); got == "0%" || !strings.HasSuffix(got, "%") {
			t.Errorf("shop's error rate %q, want its one 500 counted", got)
		}
		if got := row("shop", ".p99"); !strings.HasSuffix(got, " s") {
			t.Errorf("shop's p99 %q, want seconds", got)
		}
		// The page asks for its quantiles in one query; each is what its
		// own query answers, to the page's three significant digits.
		api := servertest.URL(srv, "http")
		for _, c := range []struct{ q, class string }{{"0.5", ".p50"}, {"0.95", ".p95"}, {"0.99", ".p99"}} {
			want := instantValue(t, api, `histogram_quantile(`+c.q+`, sum by (le) (increase(`+serverName+`_bucket{job="`+shopService+`"}[1h])))`, time.Now())
			text := row("shop", c.class)
			got, err := time.ParseDuration(strings.ReplaceAll(text, " ", ""))
			if err != nil || math.Abs(got.Seconds()-want) > 0.005*want {
				t.Errorf("shop's %s %q, want %.4g s, its own query's answer", c.class, text, want)
			}
		}
		if n := tb.Str(`document.querySelector('#services-table tr[data-service="payments"] svg.spark path')?.getAttribute('d').length`); n == "" || n == "0" {
			t.Errorf("payments has no sparkline")
		}
		// The service map: shop calls payments once per checkout.
		tb.WaitFor("the service map", `document.querySelector('#service-map g.edge')`)
		if got := tb.Str(`document.querySelector('#service-map g.edge[data-parent="shop"][data-child="payments"] .edge-count')?.textContent`); got != fmt.Sprint(data.traces) {
			t.Errorf("shop → payments calls %q, want %d", got, data.traces)
		}
		tb.Screenshot("services")

		// A click on shop's slowest exemplars: its server duration's p95
		// with the slow failed request as a red dot.
		began := time.Now()
		tb.Do(chromedp.Click(chromedp.CSS(`#services-table tr[data-service="shop"] a.slowest-link`)))
		tb.WaitFor("shop's exemplars", `location.hash.startsWith('#/metrics?') && document.querySelector('circle.exemplar.error[data-trace-id="`+data.slowTrace+`"]')`)
		t.Logf("services home → slowest exemplars of shop: %v", time.Since(began))
		if q := tb.Str(`document.getElementById('query-input').value`); !strings.Contains(q, `job="shop"`) || !strings.Contains(q, serverName+"_bucket") {
			t.Errorf("slowest exemplars query %q, want shop's server duration", q)
		}
		began = time.Now()
		tb.Do(chromedp.Click(chromedp.CSS(`circle.exemplar.error[data-trace-id="` + data.slowTrace + `"]`)))
		tb.WaitFor("the trace at the root span", `location.hash === '#/trace/`+data.slowTrace+`?span=`+data.slowRoot+`' && document.querySelector('.wf-row.selected')?.dataset.spanId === '`+data.slowRoot+`'`)
		tb.WaitFor("the root span's logs", `[...document.querySelectorAll('#span-logs .log-body')].some(e => e.textContent === `+jsString(rootBody)+`)`)
		t.Logf("exemplar → trace with its span's logs: %v", time.Since(began))

		// payments' logs link.
		tb.Open("#/services")
		tb.WaitFor("the services table", `document.querySelector('#services-table tr[data-service="payments"] a.logs-link')`)
		tb.Do(chromedp.Click(chromedp.CSS(`#services-table tr[data-service="payments"] a.slowest-link`)))
		tb.WaitFor("payments' slowest traces", `location.hash.startsWith('#/traces?service=payments') && location.hash.includes('minDuration=') && document.querySelector('#trace-results tbody tr[data-trace-id="`+data.slowTrace+`"]')`)
		tb.NoErrors()
	})

	t.Run("metric exemplar to trace to span logs", func(t *testing.T) {
		tb.T = t
		// The metrics view picks the server duration histogram first.
		tb.Open("#/metrics")
		tb.WaitFor("the metrics view", `location.hash.startsWith('#/metrics?')`)
		if got := tb.Str(`new URLSearchParams(location.hash.split('?')[1]).get('metric')`); got != serverName+"_bucket" {
			t.Errorf("metrics view picked %q, want %s_bucket", got, serverName)
		}
		tb.Open("#/metrics?metric=" + histogramName + "_bucket")
		tb.WaitFor("the p95 query", `document.getElementById('query-input')?.value.startsWith('histogram_quantile(0.95, sum by (le) (rate(`+histogramName+`_bucket[')`)
		tb.WaitFor("the chart with exemplar dots", `document.querySelectorAll('svg.chart circle.exemplar').length > 0`)
		tb.WaitFor("the exemplar of the slow checkout", `document.querySelector('circle.exemplar[data-trace-id="`+data.slowTrace+`"]')`)
		if n := tb.Str(`document.querySelectorAll('svg.chart g.series path').length`); n == "0" {
			t.Errorf("the chart has no series line")
		}
		// The data is seconds old, the range the default hour: the chart
		// starts shortly before the first sample (an exemplar here), not an
		// hour ago, where the data was a stub at the right edge (x 943 of
		// 960 here, seconds old).
		var firstX float64
		tb.Eval(`Math.min(Number(document.querySelector('svg.chart g.series path').getAttribute('d').slice(1).split(',')[0]),
			...[...document.querySelectorAll('svg.chart circle.exemplar')].map(c => Number(c.getAttribute('cx'))))`, &firstX)
		if plotLeft, plotWidth := 76.0, 868.0; firstX > plotLeft+plotWidth/2 {
			t.Errorf("the data starts at x %.0f: want in the chart's left half (x %.0f to %.0f)", firstX, plotLeft, plotLeft+plotWidth/2)
		}
		if got := tb.Str(`document.getElementById('young-note')?.textContent`); !strings.Contains(got, "the last 1h") {
			t.Errorf("the note on young data reads %q", got)
		}
		// Units: the p95's axis in seconds, the exemplars' values too.
		var ticks []string
		tb.Eval(`[...document.querySelectorAll('svg.chart .tick')].map(e => e.textContent)`, &ticks)
		if !slices.ContainsFunc(ticks, func(s string) bool { return strings.HasSuffix(s, " s") || strings.HasSuffix(s, " ms") }) {
			t.Errorf("axis ticks %q, want seconds", ticks)
		}
		if got := tb.Str(`document.querySelector('#exemplar-table tbody td.num').textContent`); got != "3.2 s" {
			t.Errorf("slowest exemplar shown as %q, want 3.2 s", got)
		}
		// Thinned: the slowest of each time slice; all of them one click away.
		var shown, all int
		tb.Eval(`document.querySelectorAll('svg.chart circle.exemplar').length`, &shown)
		tb.Do(chromedp.Click(chromedp.CSS(`#exemplar-toggle`)))
		tb.WaitFor("every exemplar", `location.hash.includes('exemplars=all') && document.getElementById('exemplar-toggle')?.textContent.startsWith('Show the slowest')`)
		tb.Eval(`document.querySelectorAll('svg.chart circle.exemplar').length`, &all)
		if shown < 1 || all <= shown {
			t.Errorf("%d exemplar dots thinned, %d in all: want fewer shown", shown, all)
		}
		tb.Do(chromedp.NavigateBack())
		tb.WaitFor("the thinned exemplars", `!location.hash.includes('exemplars=all') && document.querySelector('#exemplar-table')`)
		// The exemplar table lists the slow one first, once, as a link to its span.
		if got := tb.Str(`document.querySelector('#exemplar-table tbody tr').dataset.spanId`); got != data.slowCharge {
			t.Errorf("first exemplar row is span %s, want the slow charge %s", got, data.slowCharge)
		}
		if got := tb.Str(`document.querySelectorAll('#exemplar-table tbody tr[data-span-id="` + data.slowCharge + `"]').length`); got != "1" {
			t.Errorf("the slow exemplar has %s rows, want 1", got)
		}
		tb.Screenshot("metrics")

		// Click the slow exemplar's dot in the chart.
		tb.Do(chromedp.Click(chromedp.CSS(`circle.exemplar[data-trace-id="` + data.slowTrace + `"]`)))
		tb.checkSlowTrace(data, data.slowCharge)
		tb.Screenshot("trace")

		// A click on another span makes a history entry: Back selects the
		// span before, in place, and Back again returns to the metrics.
		tb.Eval(`document.getElementById('waterfall').dataset.mark = 'same view'`, nil)
		tb.Do(chromedp.Click(chromedp.CSS(`.wf-row[data-span-id="` + data.slowRoot + `"]`)))
		tb.WaitFor("the root selected", `location.hash === '#/trace/`+data.slowTrace+`?span=`+data.slowRoot+`' && document.getElementById('selected-span-id')?.textContent === '`+data.slowRoot+`'`)
		tb.Do(chromedp.NavigateBack())
		tb.checkSlowTrace(data, data.slowCharge)
		if got := tb.Str(`document.getElementById('waterfall').dataset.mark`); got != "same view" {
			t.Errorf("Back to the span before drew the trace again")
		}

		// The same jump with the keyboard, from the exemplar table.
		tb.Do(chromedp.NavigateBack())
		tb.WaitFor("the exemplar table", `document.querySelector('#exemplar-table a')`)
		tb.Do(chromedp.Focus(chromedp.CSS(`#exemplar-table tbody tr:first-child a`)), chromedp.KeyEvent("\r"))
		tb.checkSlowTrace(data, data.slowCharge)
		tb.NoErrors()
	})

	t.Run("promql error shown", func(t *testing.T) {
		tb.T = t
		tb.Open("#/metrics?q=" + "sum(rate(" + histogramName + "_count[1m]) by")
		tb.WaitFor("the error message", `document.querySelector('#metrics-result [role=alert]')`)
		if msg := tb.Str(`document.querySelector('#metrics-result [role=alert]').textContent`); !strings.Contains(msg, "parse error") {
			t.Errorf("error shown: %q, want the API's parse error", msg)
		}
		// A suggestion chip replaces the query.
		tb.Open("#/metrics?metric=" + histogramName + "_count&range=5m")
		tb.WaitFor("the suggestions", `document.querySelector('.suggestions a')`)
		tb.Do(chromedp.Click(chromedp.CSS(`.suggestions a[title^="sum(rate("]`)))
		tb.WaitFor("the rate query", `document.getElementById('query-input')?.value.startsWith('sum(rate(`+histogramName+`_count[')`)
		tb.WaitFor("the rate chart", `document.querySelector('svg.chart g.series path')?.getAttribute('d')`)
		var ticks []string
		tb.Eval(`[...document.querySelectorAll('svg.chart .tick')].map(e => e.textContent)`, &ticks)
		if !slices.ContainsFunc(ticks, func(s string) bool { return strings.HasSuffix(s, "/s") }) {
			t.Errorf("axis ticks %q, want a rate per second", ticks)
		}
		// Pointing at the newest sample (just inside the plot, which it may
		// end) shows its value.
		var at struct{ X, Y float64 }
		tb.Eval(`(() => { const svg = document.querySelector('svg.chart'), r = svg.getBoundingClientRect();
			const d = svg.querySelector('g.series path').getAttribute('d'), x = Number(d.slice(d.search(/[ML][^ML]*$/) + 1).split(',')[0]);
			return {X: r.left + r.width * (x - 2) / 960, Y: r.top + r.height / 2}; })()`, &at)
		tb.Do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, at.X, at.Y))
		tb.WaitFor("the value readout", `document.querySelector('svg.chart .readout')?.getAttribute('visibility') === 'visible'`)
		if got := tb.Str(`document.querySelector('svg.chart .readout').textContent`); !strings.Contains(got, "sum(rate("+histogramName+"_count") {
			t.Errorf("readout %q lacks the series", got)
		}
		tb.Screenshot("metrics-rate")
		tb.NoErrors()
	})

	t.Run("native histogram", func(t *testing.T) {
		tb.T = t
		tb.Open("#/metrics?metric=" + nativeName + "&range=5m")
		// The window is measured: three exports 1.1 s apart make 5s, not [1m].
		tb.WaitFor("its p95", `/^histogram_quantile\(0\.95, sum\(rate\(`+nativeName+`\[\d+s\]\)\)\)$/.test(document.getElementById('query-input')?.value)`)
		tb.WaitFor("the chart", `document.querySelector('svg.chart g.series path')?.getAttribute('d') && document.querySelectorAll('svg.chart circle.exemplar').length > 0`)
		// The raw series are histograms: the page says what to chart instead.
		tb.Open("#/metrics?metric=" + nativeName + "&range=5m&q=" + nativeName)
		tb.WaitFor("the note", `document.getElementById('native-note')`)
		tb.NoErrors()
	})

	t.Run("trace search", func(t *testing.T) {
		tb.T = t
		tb.Open("#/traces")
		tb.WaitFor("the trace list", `document.querySelector('#trace-results tbody tr')`)
		if got := tb.Str(`document.getElementById('service-select').value`); got != "payments" && got != "shop" {
			t.Errorf("service %q", got)
		}
		// SetValue fires the change event, which reruns the search.
		tb.Do(chromedp.SetValue(chromedp.CSS("#service-select"), shopService))
		tb.WaitFor("the shop's operations", `[...document.querySelectorAll('#operation-select option')].some(o => o.value === 'POST /checkout')`)
		var n int
		tb.WaitFor("all traces", `document.querySelectorAll('#trace-results tbody tr').length === `+fmt.Sprint(data.traces))
		// A bad parameter gets the API's message.
		tb.Do(chromedp.SetValue(chromedp.CSS("#min-duration"), "fast"), chromedp.Click(chromedp.CSS(`#traces-form button[type=submit]`)))
		// An error box is div[role=alert]: ".error" alone also matches a failed
		// trace's dot in the view before, which stays until hashchange.
		tb.WaitFor("the API's error", `location.hash.includes('minDuration=fast') && document.querySelector('#traces-result [role=alert]')`)
		if msg := tb.Str(`document.querySelector('#traces-result [role=alert]').textContent`); !strings.Contains(msg, "fast") {
			t.Errorf("error shown: %q", msg)
		}
		// Only the slow one takes more than a second.
		tb.Do(chromedp.SetValue(chromedp.CSS("#min-duration"), "1s"), chromedp.Click(chromedp.CSS(`#traces-form button[type=submit]`)))
		tb.WaitFor("the search with minDuration", `location.hash.includes('minDuration=1s') && document.querySelectorAll('#trace-results tbody tr').length === 1`)
		tb.Eval(`document.querySelectorAll('#trace-results tbody tr').length`, &n)
		row := `#trace-results tbody tr[data-trace-id="` + data.slowTrace + `"]`
		if got := tb.Str(`document.querySelector('` + row + ` td:nth-child(3)')?.textContent`); got != "2" {
			t.Errorf("slow trace's error count %q, want 2", got)
		}
		if got := tb.Str(`document.querySelector('` + row + ` a')?.textContent`); got != "shop: POST /checkout" {
			t.Errorf("trace name %q", got)
		}
		tb.Screenshot("traces")
		// The duration scatter: a dot per trace found, red when it failed;
		// a click opens the trace.
		if got := tb.Str(`[...document.querySelectorAll('#trace-scatter circle')].map(c => c.getAttribute('class')).join()`); got != "trace-dot error" {
			t.Errorf("scatter dots %q, want the slow trace's, red", got)
		}
		tb.Do(chromedp.Click(chromedp.CSS(`#trace-scatter a[data-trace-id="` + data.slowTrace + `"] circle`)))
		tb.WaitFor("the slow trace", `location.hash.startsWith('#/trace/`+data.slowTrace+`') && document.querySelector('.wf-row.selected')`)
		tb.Do(chromedp.NavigateBack())
		tb.WaitFor("the search again", `document.querySelector('`+row+` a')`)
		// Attributes, as Jaeger UI takes them, and a maximum duration.
		// The search on screen found the same one trace: the wait is for the
		// view drawn after the click (the URL changes before the hashchange
		// event replaces the view).
		tb.Clear("#min-duration")
		tb.Eval(`document.querySelector('.view').dataset.before = ''`, nil)
		tb.Do(chromedp.SetValue(chromedp.CSS("#tags-input"), `order.id=o-slow http.route="/checkout"`),
			chromedp.Click(chromedp.CSS(`#traces-form button[type=submit]`)))
		tb.WaitFor("the trace of order o-slow", `!document.querySelector('.view[data-before]') && location.hash.includes('tags=') && document.querySelectorAll('#trace-results tbody tr').length === 1 && document.querySelector('`+row+`')`)
		tb.Clear("#tags-input")
		tb.Do(chromedp.SetValue(chromedp.CSS("#max-duration"), "1s"),
			chromedp.Click(chromedp.CSS(`#traces-form button[type=submit]`)))
		tb.WaitFor("all but the slow trace", `location.hash.includes('maxDuration=1s') && document.querySelectorAll('#trace-results tbody tr').length === `+fmt.Sprint(data.traces-1)+` && !document.querySelector('`+row+`')`)
		tb.Clear("#max-duration")
		tb.Do(chromedp.SetValue(chromedp.CSS("#tags-input"), "nonsense"),
			chromedp.Click(chromedp.CSS(`#traces-form button[type=submit]`)))
		tb.WaitFor("the attributes' error", `document.querySelector('#traces-result [role=alert]')?.textContent.includes('"nonsense" is not key=value')`)
		// The trace id box opens a trace.
		tb.Do(chromedp.SendKeys(chromedp.CSS("#trace-id-input"), strings.ToUpper(data.slowTrace)), chromedp.Click(chromedp.CSS(`#trace-id-form button[type=submit]`)))
		tb.WaitFor("the trace by id", `location.hash.startsWith('#/trace/`+data.slowTrace+`') && document.querySelector('.wf-row.selected')`)
		tb.Do(chromedp.NavigateBack())
		tb.WaitFor("the trace search", `document.querySelector('#traces-result [role=alert]')`)
		tb.Open("#/traces?service=" + shopService + "&minDuration=1s")
		tb.WaitFor("the slow trace", `document.querySelector('`+row+` a')`)
		tb.Do(chromedp.Click(chromedp.CSS(row + ` a`)))
		// Without a span in the URL the root is selected; pick the root's logs.
		tb.WaitFor("the trace view", `document.querySelector('.wf-row.selected')`)
		if got := tb.Str(`document.querySelector('.wf-row.selected').dataset.spanId`); got != data.slowRoot {
			t.Errorf("selected span %s, want the root %s", got, data.slowRoot)
		}
		tb.WaitFor("the root span's logs", `[...document.querySelectorAll('#span-logs .log-body')].some(e => e.textContent === `+jsString(rootBody)+`)`)
		// Kind marks, and bars coloured by service (failed ones red).
		var kinds []string
		tb.Eval(`[...document.querySelectorAll('#waterfall .wf-row')].map(r => r.querySelector('.kind')?.textContent || '')`, &kinds)
		if want := []string{"server", "client", "server"}; !slices.Equal(kinds, want) {
			t.Errorf("kind marks %q, want %q", kinds, want)
		}
		var swatches []string
		tb.Eval(`[...document.querySelectorAll('#waterfall .wf-row .swatch')].map(e => e.style.background)`, &swatches)
		if len(swatches) != 3 || swatches[0] != swatches[1] || swatches[1] == swatches[2] {
			t.Errorf("service colours %q, want shop's twice then payments' own", swatches)
		}
		// Selecting the payments span by keyboard.
		tb.Do(chromedp.Focus(chromedp.CSS(`.wf-row.selected`)), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown))
		tb.WaitFor("the authorize span selected", `document.querySelector('.wf-row.selected')?.textContent.includes('authorize')`)
		tb.WaitFor("its resource", `document.querySelector('#span-details')?.textContent.includes('payments')`)
		tb.WaitFor("no logs for it", `document.getElementById('no-span-logs')`)
		// Folding the root hides the spans below it, the selected one
		// among them, which gives the selection to the root.
		tb.Do(chromedp.Click(chromedp.CSS(`.wf-row[data-span-id="` + data.slowRoot + `"] .wf-fold`)))
		tb.WaitFor("the root alone, selected", `document.querySelectorAll('#waterfall .wf-row').length === 1 && document.querySelector('.wf-row.selected')?.dataset.spanId === '`+data.slowRoot+`' && document.querySelector('.wf-row .folded')?.textContent === '+2'`)
		tb.Do(chromedp.Click(chromedp.CSS(`.wf-row[data-span-id="` + data.slowRoot + `"] .wf-fold`)))
		tb.WaitFor("the three spans again", `document.querySelectorAll('#waterfall .wf-row').length === 3`)
		tb.NoErrors()
	})

	t.Run("log search", func(t *testing.T) {
		tb.T = t
		tb.Open("#/logs")
		tb.WaitFor("the logs", `document.querySelector('#logs-result li.log')`)
		tb.Do(chromedp.SendKeys(chromedp.CSS("#log-text"), "declined"),
			chromedp.SetValue(chromedp.CSS("#log-severity"), "error"),
			chromedp.Click(chromedp.CSS(`#logs-form button[type=submit]`)))
		tb.WaitFor("one record", `location.hash.includes('q=declined') && document.querySelectorAll('#logs-result li.log').length === 1`)
		body := tb.Str(`document.querySelector('#logs-result .log-body').textContent`)
		if body != slowBody+" "+xssValue {
			t.Errorf("log body %q, want the text of the record, markup included", body)
		}
		if got := tb.Str(`document.querySelector('#logs-result a.trace-link')?.getAttribute('href')`); got != "#/trace/"+data.slowTrace+"?span="+data.slowCharge {
			t.Errorf("trace link %q", got)
		}
		tb.Screenshot("logs")
		// The text is searched in attributes too: a value, or key=value.
		tb.Open("#/logs?q=" + strings.ToUpper(gatewayValue))
		tb.WaitFor("the record with that attribute", `document.querySelectorAll('#logs-result li.log').length === 1`)
		if got := tb.Str(`document.querySelector('#logs-result .log-body').textContent`); got != slowBody+" "+xssValue {
			t.Errorf("search by an attribute's value found %q", got)
		}
		if got := tb.Str(`document.getElementById('log-text').placeholder`); !strings.Contains(got, "attribute") {
			t.Errorf("the search box says it searches %q", got)
		}
		tb.Clear("#log-text")
		tb.Do(chromedp.SendKeys(chromedp.CSS("#log-text"), "order.id=o-slow"),
			chromedp.Click(chromedp.CSS(`#logs-form button[type=submit]`)))
		tb.WaitFor("the charge span's two records", `location.hash.includes('q=order.id%3Do-slow') && document.querySelectorAll('#logs-result li.log').length === 2`)
		tb.Open("#/logs?q=declined")
		tb.WaitFor("one record", `document.querySelectorAll('#logs-result li.log').length === 1`)
		tb.Do(chromedp.Click(chromedp.CSS(`#logs-result a.trace-link`)))
		tb.checkSlowTrace(data, data.slowCharge)
		// The trace's logs link lists every log of the trace.
		tb.Do(chromedp.Click(chromedp.CSS(`#trace-logs-link`)))
		tb.WaitFor("the trace's logs", `location.hash.startsWith('#/logs?trace_id=`+data.slowTrace+`') && document.querySelectorAll('#logs-result li.log').length === 3`)
		// A trace's logs read oldest first, their time zone named.
		var bodies []string
		tb.Eval(`[...document.querySelectorAll('#logs-result .log-body')].map(e => e.textContent)`, &bodies)
		if want := []string{rootBody, "charging card for order o-slow", slowBody + " " + xssValue}; !slices.Equal(bodies, want) {
			t.Errorf("trace's logs %q, want oldest first %q", bodies, want)
		}
		if got := tb.Str(`document.getElementById('logs-caption').textContent`); !strings.Contains(got, "oldest first, times in ") {
			t.Errorf("caption %q names no order or time zone", got)
		}
		tb.NoErrors()
	})
}

// checkSlowTrace waits for the trace view of the slow checkout with span
// selected, and checks the span's panel: its id, its attributes shown as
// text, and that span's logs and no other span's.
func (tb *tab) checkSlowTrace(data sent, span string) {
	tb.T.Helper()
	tb.WaitFor("the trace view of the slow checkout", `location.hash === '#/trace/`+data.slowTrace+`?span=`+span+`' && document.getElementById('trace-id')?.textContent === '`+data.slowTrace+`'`)
	tb.WaitFor("the span selected", `document.querySelector('.wf-row.selected')?.dataset.spanId === '`+span+`' && document.getElementById('selected-span-id')?.textContent === '`+span+`'`)
	if n := tb.Str(`document.querySelectorAll('#waterfall .wf-row').length`); n != "3" {
		tb.T.Errorf("waterfall has %s rows, want 3", n)
	}
	if n := tb.Str(`document.querySelectorAll('#waterfall .wf-row.critical').length`); n != "3" {
		tb.T.Errorf("%s spans on the critical path, want the 3 nested ones", n)
	}
	if n := tb.Str(`document.querySelectorAll('#waterfall .wf-row.error').length`); n != "2" {
		tb.T.Errorf("waterfall marks %s spans as errors, want 2", n)
	}
	tb.WaitFor("the span's logs", `document.querySelectorAll('#span-logs .log-body').length > 0`)
	var bodies []string
	tb.Eval(`[...document.querySelectorAll('#span-logs .log-body')].map(e => e.textContent)`, &bodies)
	if want := []string{"charging card for order o-slow", slowBody + " " + xssValue}; !slices.Equal(bodies, want) {
		tb.T.Errorf("span logs %q, want the charge span's two records, oldest first", bodies)
	}
	if got := tb.Str(`[...document.querySelectorAll('#span-details table.kv tr')].find(r => r.querySelector('th').textContent === 'evil')?.querySelector('td').textContent`); got != xssValue {
		tb.T.Errorf("attribute evil shown as %q, want its text", got)
	}
	var imgs int
	tb.Eval(`document.querySelectorAll('main img, main script').length`, &imgs)
	if imgs != 0 {
		tb.T.Errorf("%d img or script elements in main: data became markup", imgs)
	}
}

// TestBrowserEmptyAndToken: on an empty server that requires a token, the
// page's files load without it; the page asks for the token, refuses a
// wrong one, keeps the right one in sessionStorage and then shows the empty
// state with this server's OTLP endpoints.
func TestBrowserEmptyAndToken(t *testing.T) {
	const token = "ui-test-token"
	browser := newBrowser(t)
	srv := startServer(t, token)
	tb := newTab(t, browser, servertest.URL(srv, "http"))
	tb.Open("")
	tb.WaitFor("the token dialog", `document.getElementById('token-dialog').open`)
	tb.Screenshot("token")
	tb.Do(chromedp.SendKeys(chromedp.CSS("#token-input"), "wrong"), chromedp.Click(chromedp.CSS("#token-submit")))
	tb.WaitFor("the refusal", `document.getElementById('token-dialog').open && !document.getElementById('token-error').hidden`)
	tb.Do(chromedp.SendKeys(chromedp.CSS("#token-input"), token), chromedp.Click(chromedp.CSS("#token-submit")))
	tb.WaitFor("the empty state", `document.getElementById('empty-state')`)
	if got := tb.Str(`sessionStorage.getItem('loupe.token')`); got != token {
		t.Errorf("sessionStorage token %q", got)
	}
	text := tb.Str(`document.getElementById('empty-state').textContent`)
	for _, want := range []string{servertest.URL(srv, "otlp-http"), srv.Addrs("otlp-grpc")[0].String(), "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if !strings.Contains(text, want) {
			t.Errorf("empty state lacks %q:\n%s", want, text)
		}
	}
	tb.Screenshot("empty")
	// The other views use the kept token without asking again.
	tb.Route("#/traces")
	tb.WaitFor("the traces' empty state", `document.querySelector('main h1')?.textContent === 'Traces' && document.getElementById('empty-state')`)
	tb.Route("#/logs")
	tb.WaitFor("no logs", `document.getElementById('no-logs')`)
	if open := tb.Str(`document.getElementById('token-dialog').open`); open != "false" {
		t.Errorf("the token dialog opened again")
	}
	// An empty state draws itself again, Live or not: with logs alone
	// arriving, the Services home on screen points to them, no reload.
	tb.Route("#/services")
	tb.WaitFor("the Services home's empty state", `document.querySelector('main h1')?.textContent === 'Services' && document.getElementById('empty-state')`)
	if live := tb.Str(`sessionStorage.getItem('loupe.live')`); live != "0" {
		t.Fatalf("Live is not paused (loupe.live %q): the test needs it paused", live)
	}
	sendLogs(t, srv.Addrs("otlp-http")[0].String(), token, "started, no spans yet")
	tb.WaitFor("the pointer to the logs", `document.querySelector('#logs-only a[href="#/logs"]')`)
	tb.NoErrors()
}

// sendLogs sends a log record of service solo per body, one a millisecond
// apart, with the SDK's OTLP/HTTP exporter; token, when not empty, is sent
// as the bearer token.
func sendLogs(t *testing.T, otlpHTTP, token string, bodies ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := []otlploghttp.Option{otlploghttp.WithEndpoint(otlpHTTP), otlploghttp.WithInsecure()}
	if token != "" {
		opts = append(opts, otlploghttp.WithHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	exp, err := otlploghttp.New(ctx, opts...)
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
	now := time.Now()
	for i, body := range bodies {
		var r otellog.Record
		r.SetTimestamp(now.Add(time.Duration(i-len(bodies)) * time.Millisecond))
		r.SetBody(attribute.StringValue(body))
		lp.Logger("solo").Emit(ctx, r)
	}
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
