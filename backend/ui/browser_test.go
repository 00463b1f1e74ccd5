package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/internal/servertest"
)

// chromiumPath is where scripts/install-chromium puts Chromium.
const chromiumPath = "/usr/bin/chromium"

// Bounds of the browser test.
const (
	testTimeout = 3 * time.Minute  // the whole test, browser start included
	stepTimeout = 20 * time.Second // one action or one wait in the page
)

// watchErrors runs before the page's own scripts: it records uncaught
// errors, rejected promises and Content-Security-Policy violations, which the
// test then requires to be none.
const watchErrors = `
window.__errors = [];
window.addEventListener('error', (e) => window.__errors.push('error: ' + e.message + ' at ' + e.filename + ':' + e.lineno));
window.addEventListener('unhandledrejection', (e) => window.__errors.push('unhandled rejection: ' + (e.reason && e.reason.stack || e.reason)));
document.addEventListener('securitypolicyviolation', (e) => window.__errors.push('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
`

// startServer runs a backend on loopback with every listener and a memory
// store.
func startServer(t *testing.T, token string) *server.Server {
	return servertest.Start(t, server.Config{
		OTLPGRPCAddr: "127.0.0.1:0", OTLPHTTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Token: token,
	})
}

// tab is the browser's tab on one server.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

// newBrowser starts headless Chromium for the test; it is stopped, and its
// temporary profile removed, when the test ends.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v; scripts/install-chromium installs it (.ci/run calls it)", chromiumPath, err)
		}
		t.Skipf("no Chromium at %s: run scripts/install-chromium to run the browser test", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1400, 1000),
		// No user-data-dir: chromedp makes a temporary one and removes it
		// when the browser has exited.
	)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		bcancel()
		allocCancel() // waits for the browser to exit
		cancel()
	})
	// The first Do starts the browser, bound to bctx (not to a step's timeout).
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return bctx
}

// newTab opens a tab; it is closed when the test ends.
func newTab(t *testing.T, browser context.Context, base string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	// The first Do opens the tab, which lives as long as the context of that
	// call: so that one has no step timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	shots := os.Getenv("LOUPE_UI_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	tb := &tab{t: t, ctx: ctx, base: base, shots: shots}
	tb.do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: watchErrors})
		return err
	}))
	return tb
}

func (tb *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.fatalf("%v", err)
	}
}

// eval evaluates a JavaScript expression through the DevTools protocol
// (which the page's Content-Security-Policy does not apply to) and decodes
// its JSON value into v.
func (tb *tab) eval(expr string, v any) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		tb.t.Fatalf("evaluating %s: %v", expr, err)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			tb.t.Fatalf("evaluating %s: %v (%s)", expr, err, raw)
		}
	}
}

func (tb *tab) str(expr string) string {
	tb.t.Helper()
	var s string
	tb.eval(`String(`+expr+` ?? '')`, &s)
	return s
}

// waitFor polls a JavaScript condition until it is true, for stepTimeout at
// most. (chromedp's Poll builds its predicate with new Function, which the
// page's policy forbids.)
func (tb *tab) waitFor(what, cond string) {
	tb.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		var ok bool
		tb.eval(`Boolean(`+cond+`)`, &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.fatalf("waiting %v for %s (%s)", stepTimeout, what, cond)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fatalf fails with what the page shows, its URL and its recorded errors.
func (tb *tab) fatalf(format string, args ...any) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + '\n' + JSON.stringify(window.__errors) + '\n' + (document.querySelector('main')?.innerText || '').slice(0, 2000)`))
	tb.screenshot("failure")
	tb.t.Fatalf("%s\npage: %s", fmt.Sprintf(format, args...), state)
}

// clear empties the input that sel finds (chromedp's SetValue refuses "").
func (tb *tab) clear(sel string) {
	tb.t.Helper()
	tb.eval(`document.querySelector(`+jsString(sel)+`).value = ''`, nil)
}

func (tb *tab) open(hash string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(tb.base + "/" + hash))
}

// route sets the hash as a click on a link does (no reload).
func (tb *tab) route(hash string) {
	tb.t.Helper()
	tb.eval(`location.hash = `+jsString(hash), nil)
}

func (tb *tab) screenshot(name string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(tb.shots, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot: %s", p)
}

// noErrors checks that the page had no uncaught error, rejected promise,
// policy violation or injected script run.
func (tb *tab) noErrors() {
	tb.t.Helper()
	var errs []string
	tb.eval(`window.__errors || ['the error watcher did not run']`, &errs)
	if len(errs) > 0 {
		tb.t.Errorf("errors in the page:\n%s", strings.Join(errs, "\n"))
	}
	var xss any
	tb.eval(`window.__xss ?? null`, &xss)
	if xss != nil {
		tb.t.Errorf("data was run as script: window.__xss = %v", xss)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestBrowser drives the UI in headless Chromium against an in-process
// loupe serve fed by the OpenTelemetry SDK: the headline jump from a
// histogram's exemplar to its trace with its span selected and that span's
// logs, then a trace search and a log search.
func TestBrowser(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "")
	data := sendTelemetry(t, srv.Addrs("otlp-http")[0].String())
	tb := newTab(t, browser, servertest.URL(srv, "http"))

	t.Run("services home", func(t *testing.T) {
		tb.t = t
		// The home page is the Services home when there is data.
		tb.open("")
		tb.waitFor("the services table", `location.hash.startsWith('#/services') && document.querySelector('#services-table tbody tr[data-service="payments"]')`)
		row := func(svc, sel string) string {
			return tb.str(`document.querySelector('#services-table tr[data-service="` + svc + `"] ` + sel + `')?.textContent`)
		}
		if got := tb.str(`document.querySelector('#services-table tr[data-service="shop"]')?.dataset.source`); got != "metrics" {
			t.Errorf("shop's figures come from %q, want its server duration metric", got)
		}
		if got := tb.str(`document.querySelector('#services-table tr[data-service="payments"]')?.dataset.source`); got != "spans" {
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
		if got := row("shop", ".err-rate"); got == "0%" || !strings.HasSuffix(got, "%") {
			t.Errorf("shop's error rate %q, want its one 500 counted", got)
		}
		if got := row("shop", ".p99"); !strings.HasSuffix(got, " s") {
			t.Errorf("shop's p99 %q, want seconds", got)
		}
		if n := tb.str(`document.querySelector('#services-table tr[data-service="payments"] svg.spark path')?.getAttribute('d').length`); n == "" || n == "0" {
			t.Errorf("payments has no sparkline")
		}
		// The service map: shop calls payments once per checkout.
		tb.waitFor("the service map", `document.querySelector('#service-map g.edge')`)
		if got := tb.str(`document.querySelector('#service-map g.edge[data-parent="shop"][data-child="payments"] .edge-count')?.textContent`); got != fmt.Sprint(data.traces) {
			t.Errorf("shop → payments calls %q, want %d", got, data.traces)
		}
		tb.screenshot("services")

		// A click on shop's slowest exemplars: its server duration's p95
		// with the slow failed request as a red dot.
		began := time.Now()
		tb.do(chromedp.Click(chromedp.CSS(`#services-table tr[data-service="shop"] a.slowest-link`)))
		tb.waitFor("shop's exemplars", `location.hash.startsWith('#/metrics?') && document.querySelector('circle.exemplar.error[data-trace-id="`+data.slowTrace+`"]')`)
		t.Logf("services home → slowest exemplars of shop: %v", time.Since(began))
		if q := tb.str(`document.getElementById('query-input').value`); !strings.Contains(q, `job="shop"`) || !strings.Contains(q, serverName+"_bucket") {
			t.Errorf("slowest exemplars query %q, want shop's server duration", q)
		}
		began = time.Now()
		tb.do(chromedp.Click(chromedp.CSS(`circle.exemplar.error[data-trace-id="` + data.slowTrace + `"]`)))
		tb.waitFor("the trace at the root span", `location.hash === '#/trace/`+data.slowTrace+`?span=`+data.slowRoot+`' && document.querySelector('.wf-row.selected')?.dataset.spanId === '`+data.slowRoot+`'`)
		tb.waitFor("the root span's logs", `[...document.querySelectorAll('#span-logs .log-body')].some(e => e.textContent === `+jsString(rootBody)+`)`)
		t.Logf("exemplar → trace with its span's logs: %v", time.Since(began))

		// payments' logs link.
		tb.open("#/services")
		tb.waitFor("the services table", `document.querySelector('#services-table tr[data-service="payments"] a.logs-link')`)
		tb.do(chromedp.Click(chromedp.CSS(`#services-table tr[data-service="payments"] a.slowest-link`)))
		tb.waitFor("payments' slowest traces", `location.hash.startsWith('#/traces?service=payments') && location.hash.includes('minDuration=') && document.querySelector('#trace-results tbody tr[data-trace-id="`+data.slowTrace+`"]')`)
		tb.noErrors()
	})

	t.Run("live", func(t *testing.T) {
		tb.t = t
		tb.open("#/services")
		tb.waitFor("the services table", `document.querySelector('.view[data-drawn] #services-table')`)
		drawn := tb.str(`document.querySelector('.view').dataset.drawn`)
		depth := tb.str(`history.length`)
		tb.do(chromedp.Click(chromedp.CSS(`#live-toggle`)))
		tb.waitFor("a live refresh", `document.querySelector('.view').dataset.drawn !== `+jsString(drawn)+` && document.querySelector('#services-table tr[data-service="payments"]')`)
		if got := tb.str(`history.length`); got != depth {
			t.Errorf("a refresh changed the history: %s entries, were %s", got, depth)
		}
		tb.do(chromedp.Click(chromedp.CSS(`#live-toggle`)))
		if got := tb.str(`document.getElementById('live-toggle').getAttribute('aria-pressed')`); got != "false" {
			t.Errorf("live toggle pressed %q after the second click", got)
		}
		tb.noErrors()
	})

	t.Run("metric exemplar to trace to span logs", func(t *testing.T) {
		tb.t = t
		// The metrics view picks the server duration histogram first.
		tb.open("#/metrics")
		tb.waitFor("the metrics view", `location.hash.startsWith('#/metrics?')`)
		if got := tb.str(`new URLSearchParams(location.hash.split('?')[1]).get('metric')`); got != serverName+"_bucket" {
			t.Errorf("metrics view picked %q, want %s_bucket", got, serverName)
		}
		tb.open("#/metrics?metric=" + histogramName + "_bucket")
		tb.waitFor("the p95 query", `document.getElementById('query-input')?.value.startsWith('histogram_quantile(0.95, sum by (le) (rate(`+histogramName+`_bucket[')`)
		tb.waitFor("the chart with exemplar dots", `document.querySelectorAll('svg.chart circle.exemplar').length > 0`)
		tb.waitFor("the exemplar of the slow checkout", `document.querySelector('circle.exemplar[data-trace-id="`+data.slowTrace+`"]')`)
		if n := tb.str(`document.querySelectorAll('svg.chart g.series path').length`); n == "0" {
			t.Errorf("the chart has no series line")
		}
		// Units: the p95's axis in seconds, the exemplars' values too.
		var ticks []string
		tb.eval(`[...document.querySelectorAll('svg.chart .tick')].map(e => e.textContent)`, &ticks)
		if !slices.ContainsFunc(ticks, func(s string) bool { return strings.HasSuffix(s, " s") || strings.HasSuffix(s, " ms") }) {
			t.Errorf("axis ticks %q, want seconds", ticks)
		}
		if got := tb.str(`document.querySelector('#exemplar-table tbody td.num').textContent`); got != "3.2 s" {
			t.Errorf("slowest exemplar shown as %q, want 3.2 s", got)
		}
		// Thinned: the slowest of each time slice; all of them one click away.
		var shown, all int
		tb.eval(`document.querySelectorAll('svg.chart circle.exemplar').length`, &shown)
		tb.do(chromedp.Click(chromedp.CSS(`#exemplar-toggle`)))
		tb.waitFor("every exemplar", `location.hash.includes('exemplars=all') && document.getElementById('exemplar-toggle')?.textContent.startsWith('Show the slowest')`)
		tb.eval(`document.querySelectorAll('svg.chart circle.exemplar').length`, &all)
		if shown < 1 || all <= shown {
			t.Errorf("%d exemplar dots thinned, %d in all: want fewer shown", shown, all)
		}
		tb.do(chromedp.NavigateBack())
		tb.waitFor("the thinned exemplars", `!location.hash.includes('exemplars=all') && document.querySelector('#exemplar-table')`)
		// The exemplar table lists the slow one first, once, as a link to its span.
		if got := tb.str(`document.querySelector('#exemplar-table tbody tr').dataset.spanId`); got != data.slowCharge {
			t.Errorf("first exemplar row is span %s, want the slow charge %s", got, data.slowCharge)
		}
		if got := tb.str(`document.querySelectorAll('#exemplar-table tbody tr[data-span-id="` + data.slowCharge + `"]').length`); got != "1" {
			t.Errorf("the slow exemplar has %s rows, want 1", got)
		}
		tb.screenshot("metrics")

		// Click the slow exemplar's dot in the chart.
		tb.do(chromedp.Click(chromedp.CSS(`circle.exemplar[data-trace-id="` + data.slowTrace + `"]`)))
		tb.checkSlowTrace(data, data.slowCharge)
		tb.screenshot("trace")

		// A click on another span makes a history entry: Back selects the
		// span before, in place, and Back again returns to the metrics.
		tb.eval(`document.getElementById('waterfall').dataset.mark = 'same view'`, nil)
		tb.do(chromedp.Click(chromedp.CSS(`.wf-row[data-span-id="` + data.slowRoot + `"]`)))
		tb.waitFor("the root selected", `location.hash === '#/trace/`+data.slowTrace+`?span=`+data.slowRoot+`' && document.getElementById('selected-span-id')?.textContent === '`+data.slowRoot+`'`)
		tb.do(chromedp.NavigateBack())
		tb.checkSlowTrace(data, data.slowCharge)
		if got := tb.str(`document.getElementById('waterfall').dataset.mark`); got != "same view" {
			t.Errorf("Back to the span before drew the trace again")
		}

		// The same jump with the keyboard, from the exemplar table.
		tb.do(chromedp.NavigateBack())
		tb.waitFor("the exemplar table", `document.querySelector('#exemplar-table a')`)
		tb.do(chromedp.Focus(chromedp.CSS(`#exemplar-table tbody tr:first-child a`)), chromedp.KeyEvent("\r"))
		tb.checkSlowTrace(data, data.slowCharge)
		tb.noErrors()
	})

	t.Run("promql error shown", func(t *testing.T) {
		tb.t = t
		tb.open("#/metrics?q=" + "sum(rate(" + histogramName + "_count[1m]) by")
		tb.waitFor("the error message", `document.querySelector('#metrics-result .error')`)
		if msg := tb.str(`document.querySelector('#metrics-result .error').textContent`); !strings.Contains(msg, "parse error") {
			t.Errorf("error shown: %q, want the API's parse error", msg)
		}
		// A suggestion chip replaces the query.
		tb.open("#/metrics?metric=" + histogramName + "_count&range=5m")
		tb.waitFor("the suggestions", `document.querySelector('.suggestions a')`)
		tb.do(chromedp.Click(chromedp.CSS(`.suggestions a[title^="sum(rate("]`)))
		tb.waitFor("the rate query", `document.getElementById('query-input')?.value.startsWith('sum(rate(`+histogramName+`_count[')`)
		tb.waitFor("the rate chart", `document.querySelector('svg.chart g.series path')?.getAttribute('d')`)
		var ticks []string
		tb.eval(`[...document.querySelectorAll('svg.chart .tick')].map(e => e.textContent)`, &ticks)
		if !slices.ContainsFunc(ticks, func(s string) bool { return strings.HasSuffix(s, "/s") }) {
			t.Errorf("axis ticks %q, want a rate per second", ticks)
		}
		// Pointing at the newest sample (just inside the plot, which it may
		// end) shows its value.
		var at struct{ X, Y float64 }
		tb.eval(`(() => { const svg = document.querySelector('svg.chart'), r = svg.getBoundingClientRect();
			const d = svg.querySelector('g.series path').getAttribute('d'), x = Number(d.slice(d.search(/[ML][^ML]*$/) + 1).split(',')[0]);
			return {X: r.left + r.width * (x - 2) / 960, Y: r.top + r.height / 2}; })()`, &at)
		tb.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, at.X, at.Y))
		tb.waitFor("the value readout", `document.querySelector('svg.chart .readout')?.getAttribute('visibility') === 'visible'`)
		if got := tb.str(`document.querySelector('svg.chart .readout').textContent`); !strings.Contains(got, "sum(rate("+histogramName+"_count") {
			t.Errorf("readout %q lacks the series", got)
		}
		tb.screenshot("metrics-rate")
		tb.noErrors()
	})

	t.Run("native histogram", func(t *testing.T) {
		tb.t = t
		tb.open("#/metrics?metric=" + nativeName + "&range=5m")
		// The window is measured: three exports 1.1 s apart make 5s, not [1m].
		tb.waitFor("its p95", `/^histogram_quantile\(0\.95, sum\(rate\(`+nativeName+`\[\d+s\]\)\)\)$/.test(document.getElementById('query-input')?.value)`)
		tb.waitFor("the chart", `document.querySelector('svg.chart g.series path')?.getAttribute('d') && document.querySelectorAll('svg.chart circle.exemplar').length > 0`)
		// The raw series are histograms: the page says what to chart instead.
		tb.open("#/metrics?metric=" + nativeName + "&range=5m&q=" + nativeName)
		tb.waitFor("the note", `document.getElementById('native-note')`)
		tb.noErrors()
	})

	t.Run("trace search", func(t *testing.T) {
		tb.t = t
		tb.open("#/traces")
		tb.waitFor("the trace list", `document.querySelector('#trace-results tbody tr')`)
		if got := tb.str(`document.getElementById('service-select').value`); got != "payments" && got != "shop" {
			t.Errorf("service %q", got)
		}
		// SetValue fires the change event, which reruns the search.
		tb.do(chromedp.SetValue(chromedp.CSS("#service-select"), shopService))
		tb.waitFor("the shop's operations", `[...document.querySelectorAll('#operation-select option')].some(o => o.value === 'POST /checkout')`)
		var n int
		tb.waitFor("all traces", `document.querySelectorAll('#trace-results tbody tr').length === `+fmt.Sprint(data.traces))
		// A bad parameter gets the API's message.
		tb.do(chromedp.SetValue(chromedp.CSS("#min-duration"), "fast"), chromedp.Click(chromedp.CSS(`#traces-form button[type=submit]`)))
		tb.waitFor("the API's error", `location.hash.includes('minDuration=fast') && document.querySelector('#traces-result .error')`)
		if msg := tb.str(`document.querySelector('#traces-result .error').textContent`); !strings.Contains(msg, "fast") {
			t.Errorf("error shown: %q", msg)
		}
		// Only the slow one takes more than a second.
		tb.do(chromedp.SetValue(chromedp.CSS("#min-duration"), "1s"), chromedp.Click(chromedp.CSS(`#traces-form button[type=submit]`)))
		tb.waitFor("the search with minDuration", `location.hash.includes('minDuration=1s') && document.querySelectorAll('#trace-results tbody tr').length === 1`)
		tb.eval(`document.querySelectorAll('#trace-results tbody tr').length`, &n)
		row := `#trace-results tbody tr[data-trace-id="` + data.slowTrace + `"]`
		if got := tb.str(`document.querySelector('` + row + ` td:nth-child(3)')?.textContent`); got != "2" {
			t.Errorf("slow trace's error count %q, want 2", got)
		}
		if got := tb.str(`document.querySelector('` + row + ` a')?.textContent`); got != "shop: POST /checkout" {
			t.Errorf("trace name %q", got)
		}
		tb.screenshot("traces")
		// The duration scatter: a dot per trace found, red when it failed;
		// a click opens the trace.
		if got := tb.str(`[...document.querySelectorAll('#trace-scatter circle')].map(c => c.getAttribute('class')).join()`); got != "trace-dot error" {
			t.Errorf("scatter dots %q, want the slow trace's, red", got)
		}
		tb.do(chromedp.Click(chromedp.CSS(`#trace-scatter a[data-trace-id="` + data.slowTrace + `"] circle`)))
		tb.waitFor("the slow trace", `location.hash.startsWith('#/trace/`+data.slowTrace+`') && document.querySelector('.wf-row.selected')`)
		tb.do(chromedp.NavigateBack())
		tb.waitFor("the search again", `document.querySelector('`+row+` a')`)
		// Attributes, as Jaeger UI takes them, and a maximum duration.
		tb.clear("#min-duration")
		tb.do(chromedp.SetValue(chromedp.CSS("#tags-input"), `order.id=o-slow http.route="/checkout"`),
			chromedp.Click(chromedp.CSS(`#traces-form button[type=submit]`)))
		tb.waitFor("the trace of order o-slow", `location.hash.includes('tags=') && document.querySelectorAll('#trace-results tbody tr').length === 1 && document.querySelector('`+row+`')`)
		tb.clear("#tags-input")
		tb.do(chromedp.SetValue(chromedp.CSS("#max-duration"), "1s"),
			chromedp.Click(chromedp.CSS(`#traces-form button[type=submit]`)))
		tb.waitFor("all but the slow trace", `location.hash.includes('maxDuration=1s') && document.querySelectorAll('#trace-results tbody tr').length === `+fmt.Sprint(data.traces-1)+` && !document.querySelector('`+row+`')`)
		tb.clear("#max-duration")
		tb.do(chromedp.SetValue(chromedp.CSS("#tags-input"), "nonsense"),
			chromedp.Click(chromedp.CSS(`#traces-form button[type=submit]`)))
		tb.waitFor("the attributes' error", `document.querySelector('#traces-result .error')?.textContent.includes('"nonsense" is not key=value')`)
		// The trace id box opens a trace.
		tb.do(chromedp.SendKeys(chromedp.CSS("#trace-id-input"), strings.ToUpper(data.slowTrace)), chromedp.Click(chromedp.CSS(`#trace-id-form button[type=submit]`)))
		tb.waitFor("the trace by id", `location.hash.startsWith('#/trace/`+data.slowTrace+`') && document.querySelector('.wf-row.selected')`)
		tb.do(chromedp.NavigateBack())
		tb.waitFor("the trace search", `document.querySelector('#traces-result .error')`)
		tb.open("#/traces?service=" + shopService + "&minDuration=1s")
		tb.waitFor("the slow trace", `document.querySelector('`+row+` a')`)
		tb.do(chromedp.Click(chromedp.CSS(row + ` a`)))
		// Without a span in the URL the root is selected; pick the root's logs.
		tb.waitFor("the trace view", `document.querySelector('.wf-row.selected')`)
		if got := tb.str(`document.querySelector('.wf-row.selected').dataset.spanId`); got != data.slowRoot {
			t.Errorf("selected span %s, want the root %s", got, data.slowRoot)
		}
		tb.waitFor("the root span's logs", `[...document.querySelectorAll('#span-logs .log-body')].some(e => e.textContent === `+jsString(rootBody)+`)`)
		// Kind marks, and bars coloured by service (failed ones red).
		var kinds []string
		tb.eval(`[...document.querySelectorAll('#waterfall .wf-row')].map(r => r.querySelector('.kind')?.textContent || '')`, &kinds)
		if want := []string{"server", "client", "server"}; !slices.Equal(kinds, want) {
			t.Errorf("kind marks %q, want %q", kinds, want)
		}
		var swatches []string
		tb.eval(`[...document.querySelectorAll('#waterfall .wf-row .swatch')].map(e => e.style.background)`, &swatches)
		if len(swatches) != 3 || swatches[0] != swatches[1] || swatches[1] == swatches[2] {
			t.Errorf("service colours %q, want shop's twice then payments' own", swatches)
		}
		// Selecting the payments span by keyboard.
		tb.do(chromedp.Focus(chromedp.CSS(`.wf-row.selected`)), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown))
		tb.waitFor("the authorize span selected", `document.querySelector('.wf-row.selected')?.textContent.includes('authorize')`)
		tb.waitFor("its resource", `document.querySelector('#span-details')?.textContent.includes('payments')`)
		tb.waitFor("no logs for it", `document.getElementById('no-span-logs')`)
		// Folding the root hides the spans below it, the selected one
		// among them, which gives the selection to the root.
		tb.do(chromedp.Click(chromedp.CSS(`.wf-row[data-span-id="` + data.slowRoot + `"] .wf-fold`)))
		tb.waitFor("the root alone, selected", `document.querySelectorAll('#waterfall .wf-row').length === 1 && document.querySelector('.wf-row.selected')?.dataset.spanId === '`+data.slowRoot+`' && document.querySelector('.wf-row .folded')?.textContent === '+2'`)
		tb.do(chromedp.Click(chromedp.CSS(`.wf-row[data-span-id="` + data.slowRoot + `"] .wf-fold`)))
		tb.waitFor("the three spans again", `document.querySelectorAll('#waterfall .wf-row').length === 3`)
		tb.noErrors()
	})

	t.Run("log search", func(t *testing.T) {
		tb.t = t
		tb.open("#/logs")
		tb.waitFor("the logs", `document.querySelector('#logs-result li.log')`)
		tb.do(chromedp.SendKeys(chromedp.CSS("#log-text"), "declined"),
			chromedp.SetValue(chromedp.CSS("#log-severity"), "error"),
			chromedp.Click(chromedp.CSS(`#logs-form button[type=submit]`)))
		tb.waitFor("one record", `location.hash.includes('q=declined') && document.querySelectorAll('#logs-result li.log').length === 1`)
		body := tb.str(`document.querySelector('#logs-result .log-body').textContent`)
		if body != slowBody+" "+xssValue {
			t.Errorf("log body %q, want the text of the record, markup included", body)
		}
		if got := tb.str(`document.querySelector('#logs-result a.trace-link')?.getAttribute('href')`); got != "#/trace/"+data.slowTrace+"?span="+data.slowCharge {
			t.Errorf("trace link %q", got)
		}
		tb.screenshot("logs")
		// The text is searched in attributes too: a value, or key=value.
		tb.open("#/logs?q=" + strings.ToUpper(gatewayValue))
		tb.waitFor("the record with that attribute", `document.querySelectorAll('#logs-result li.log').length === 1`)
		if got := tb.str(`document.querySelector('#logs-result .log-body').textContent`); got != slowBody+" "+xssValue {
			t.Errorf("search by an attribute's value found %q", got)
		}
		if got := tb.str(`document.getElementById('log-text').placeholder`); !strings.Contains(got, "attribute") {
			t.Errorf("the search box says it searches %q", got)
		}
		tb.clear("#log-text")
		tb.do(chromedp.SendKeys(chromedp.CSS("#log-text"), "order.id=o-slow"),
			chromedp.Click(chromedp.CSS(`#logs-form button[type=submit]`)))
		tb.waitFor("the charge span's two records", `location.hash.includes('q=order.id%3Do-slow') && document.querySelectorAll('#logs-result li.log').length === 2`)
		tb.open("#/logs?q=declined")
		tb.waitFor("one record", `document.querySelectorAll('#logs-result li.log').length === 1`)
		tb.do(chromedp.Click(chromedp.CSS(`#logs-result a.trace-link`)))
		tb.checkSlowTrace(data, data.slowCharge)
		// The trace's logs link lists every log of the trace.
		tb.do(chromedp.Click(chromedp.CSS(`#trace-logs-link`)))
		tb.waitFor("the trace's logs", `location.hash.startsWith('#/logs?trace_id=`+data.slowTrace+`') && document.querySelectorAll('#logs-result li.log').length === 3`)
		// A trace's logs read oldest first, their time zone named.
		var bodies []string
		tb.eval(`[...document.querySelectorAll('#logs-result .log-body')].map(e => e.textContent)`, &bodies)
		if want := []string{rootBody, "charging card for order o-slow", slowBody + " " + xssValue}; !slices.Equal(bodies, want) {
			t.Errorf("trace's logs %q, want oldest first %q", bodies, want)
		}
		if got := tb.str(`document.getElementById('logs-caption').textContent`); !strings.Contains(got, "oldest first, times in ") {
			t.Errorf("caption %q names no order or time zone", got)
		}
		tb.noErrors()
	})
}

// checkSlowTrace waits for the trace view of the slow checkout with span
// selected, and checks the span's panel: its id, its attributes shown as
// text, and that span's logs and no other span's.
func (tb *tab) checkSlowTrace(data sent, span string) {
	tb.t.Helper()
	tb.waitFor("the trace view of the slow checkout", `location.hash === '#/trace/`+data.slowTrace+`?span=`+span+`' && document.getElementById('trace-id')?.textContent === '`+data.slowTrace+`'`)
	tb.waitFor("the span selected", `document.querySelector('.wf-row.selected')?.dataset.spanId === '`+span+`' && document.getElementById('selected-span-id')?.textContent === '`+span+`'`)
	if n := tb.str(`document.querySelectorAll('#waterfall .wf-row').length`); n != "3" {
		tb.t.Errorf("waterfall has %s rows, want 3", n)
	}
	if n := tb.str(`document.querySelectorAll('#waterfall .wf-row.critical').length`); n != "3" {
		tb.t.Errorf("%s spans on the critical path, want the 3 nested ones", n)
	}
	if n := tb.str(`document.querySelectorAll('#waterfall .wf-row.error').length`); n != "2" {
		tb.t.Errorf("waterfall marks %s spans as errors, want 2", n)
	}
	tb.waitFor("the span's logs", `document.querySelectorAll('#span-logs .log-body').length > 0`)
	var bodies []string
	tb.eval(`[...document.querySelectorAll('#span-logs .log-body')].map(e => e.textContent)`, &bodies)
	if want := []string{"charging card for order o-slow", slowBody + " " + xssValue}; !slices.Equal(bodies, want) {
		tb.t.Errorf("span logs %q, want the charge span's two records, oldest first", bodies)
	}
	if got := tb.str(`[...document.querySelectorAll('#span-details table.kv tr')].find(r => r.querySelector('th').textContent === 'evil')?.querySelector('td').textContent`); got != xssValue {
		tb.t.Errorf("attribute evil shown as %q, want its text", got)
	}
	var imgs int
	tb.eval(`document.querySelectorAll('main img, main script').length`, &imgs)
	if imgs != 0 {
		tb.t.Errorf("%d img or script elements in main: data became markup", imgs)
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
	tb.open("")
	tb.waitFor("the token dialog", `document.getElementById('token-dialog').open`)
	tb.screenshot("token")
	tb.do(chromedp.SendKeys(chromedp.CSS("#token-input"), "wrong"), chromedp.Click(chromedp.CSS("#token-submit")))
	tb.waitFor("the refusal", `document.getElementById('token-dialog').open && !document.getElementById('token-error').hidden`)
	tb.do(chromedp.SendKeys(chromedp.CSS("#token-input"), token), chromedp.Click(chromedp.CSS("#token-submit")))
	tb.waitFor("the empty state", `document.getElementById('empty-state')`)
	if got := tb.str(`sessionStorage.getItem('loupe.token')`); got != token {
		t.Errorf("sessionStorage token %q", got)
	}
	text := tb.str(`document.getElementById('empty-state').textContent`)
	for _, want := range []string{servertest.URL(srv, "otlp-http"), srv.Addrs("otlp-grpc")[0].String(), "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		if !strings.Contains(text, want) {
			t.Errorf("empty state lacks %q:\n%s", want, text)
		}
	}
	tb.screenshot("empty")
	// The other views use the kept token without asking again.
	tb.route("#/traces")
	tb.waitFor("the traces' empty state", `document.querySelector('main h1')?.textContent === 'Traces' && document.getElementById('empty-state')`)
	tb.route("#/logs")
	tb.waitFor("no logs", `document.getElementById('no-logs')`)
	if open := tb.str(`document.getElementById('token-dialog').open`); open != "false" {
		t.Errorf("the token dialog opened again")
	}
	// With logs alone, the Services home points to them.
	sendLog(t, srv.Addrs("otlp-http")[0].String(), token)
	tb.route("#/services")
	tb.waitFor("the pointer to the logs", `document.querySelector('#logs-only a[href="#/logs"]')`)
	tb.noErrors()
}

// sendLog sends one log record with the SDK's OTLP/HTTP exporter.
func sendLog(t *testing.T, otlpHTTP, token string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(otlpHTTP), otlploghttp.WithInsecure(),
		otlploghttp.WithHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(exp)))
	var r otellog.Record
	r.SetTimestamp(time.Now())
	r.SetBody(attribute.StringValue("started, no spans yet"))
	lp.Logger("solo").Emit(ctx, r)
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
