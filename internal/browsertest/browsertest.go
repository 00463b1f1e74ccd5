// Package browsertest drives the web UI in headless Chromium for tests:
// it starts the browser (skipping the test when Chromium is missing,
// failing it under CI=true), opens tabs that record the page's errors, and
// waits for conditions in the page, each step bounded. backend/ui's browser
// tests and the demo's journey test in cmd/loupe use it. Only tests import
// it.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// ChromiumPath is where scripts/install-chromium puts Chromium.
const ChromiumPath = "/usr/bin/chromium"

// StepTimeout bounds one action or one wait in the page.
const StepTimeout = 20 * time.Second

// watchErrors runs before the page's own scripts: it records uncaught
// errors, rejected promises and Content-Security-Policy violations, which
// NoErrors then requires to be none.
const watchErrors = `
window.__errors = [];
window.addEventListener('error', (e) => window.__errors.push('error: ' + e.message + ' at ' + e.filename + ':' + e.lineno));
window.addEventListener('unhandledrejection', (e) => window.__errors.push('unhandled rejection: ' + (e.reason && e.reason.stack || e.reason)));
document.addEventListener('securitypolicyviolation', (e) => window.__errors.push('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
`

// NewBrowser starts headless Chromium for t, bounded by timeout (its start
// included); it is stopped, and its temporary profile removed, when t ends.
// Without Chromium at ChromiumPath it skips t, or fails it under CI=true.
func NewBrowser(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v; scripts/install-chromium installs it (.ci/run calls it) — CI=true does not skip", ChromiumPath, err)
		}
		t.Skipf("no Chromium at %s: run scripts/install-chromium to run the browser test", ChromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
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
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
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

// Tab is the browser's tab on one server. Its methods fail T, which a
// subtest may replace with its own.
type Tab struct {
	T     testing.TB
	ctx   context.Context
	base  string
	shots string
}

// NewTab opens a tab on the UI at base (http://host:port); it is closed
// when t ends. Screenshots go to $LOUPE_UI_SCREENSHOTS, or a temporary
// directory.
func NewTab(t testing.TB, browser context.Context, base string) *Tab {
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
	tb := &Tab{T: t, ctx: ctx, base: strings.TrimSuffix(base, "/"), shots: shots}
	tb.BeforeScripts(watchErrors)
	return tb
}

// BeforeScripts has every document the tab loads from now on run script
// before the page's own scripts.
func (tb *Tab) BeforeScripts(script string) {
	tb.T.Helper()
	tb.Do(chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	}))
}

// Do runs actions, within StepTimeout.
func (tb *Tab) Do(actions ...chromedp.Action[chromedp.Void]) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, StepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.Fatalf("%v", err)
	}
}

// Eval evaluates a JavaScript expression through the DevTools protocol
// (which the page's Content-Security-Policy does not apply to) and decodes
// its JSON value into v.
func (tb *Tab) Eval(expr string, v any) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, StepTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr))
	if err != nil {
		tb.T.Fatalf("evaluating %s: %v", expr, err)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			tb.T.Fatalf("evaluating %s: %v (%s)", expr, err, raw)
		}
	}
}

// Str is the value of a JavaScript expression as a string ("" for null
// or undefined).
func (tb *Tab) Str(expr string) string {
	tb.T.Helper()
	var s string
	tb.Eval(`String(`+expr+` ?? '')`, &s)
	return s
}

// Is tells whether a JavaScript condition holds now.
func (tb *Tab) Is(cond string) bool {
	tb.T.Helper()
	var ok bool
	tb.Eval(`Boolean(`+cond+`)`, &ok)
	return ok
}

// WaitFor polls a JavaScript condition until it is true, for StepTimeout
// at most. (chromedp's Poll builds its predicate with new Function, which
// the page's policy forbids.)
func (tb *Tab) WaitFor(what, cond string) {
	tb.T.Helper()
	deadline := time.Now().Add(StepTimeout)
	for !tb.Is(cond) {
		if time.Now().After(deadline) {
			tb.Fatalf("waiting %v for %s (%s)", StepTimeout, what, cond)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Fatalf fails with what the page shows, its URL and its recorded errors.
func (tb *Tab) Fatalf(format string, args ...any) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + '\n' + JSON.stringify(window.__errors) + '\n' + (document.querySelector('main')?.innerText || '').slice(0, 2000)`))
	tb.Screenshot("failure-" + strings.NewReplacer("/", "-", " ", "_").Replace(tb.T.Name()))
	tb.T.Fatalf("%s\npage: %s", fmt.Sprintf(format, args...), state)
}

// Clear empties the input that sel finds (chromedp's SetValue refuses "").
func (tb *Tab) Clear(sel string) {
	tb.T.Helper()
	tb.Eval(`document.querySelector(`+JSString(sel)+`).value = ''`, nil)
}

// Open loads the page at hash ("#/traces?…", or "" for the home page).
func (tb *Tab) Open(hash string) {
	tb.T.Helper()
	tb.Do(chromedp.Navigate(tb.base + "/" + hash))
}

// Route sets the hash as a click on a link does (no reload).
func (tb *Tab) Route(hash string) {
	tb.T.Helper()
	tb.Eval(`location.hash = `+JSString(hash), nil)
}

// Screenshot saves the whole page as name.png and logs where.
func (tb *Tab) Screenshot(name string) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, StepTimeout)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.T.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(tb.shots, name+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		tb.T.Fatal(err)
	}
	tb.T.Logf("screenshot: %s", p)
}

// NoErrors checks that the page had no uncaught error, rejected promise,
// policy violation or injected script run (window.__xss set).
func (tb *Tab) NoErrors() {
	tb.T.Helper()
	var errs []string
	tb.Eval(`window.__errors || ['the error watcher did not run']`, &errs)
	if len(errs) > 0 {
		tb.T.Errorf("errors in the page:\n%s", strings.Join(errs, "\n"))
	}
	var xss any
	tb.Eval(`window.__xss ?? null`, &xss)
	if xss != nil {
		tb.T.Errorf("data was run as script: window.__xss = %v", xss)
	}
}

// PerSecond parses a rate as the UI shows it ("0.0047/s", "4.3/s",
// "12.5k/s").
func PerSecond(s string) (float64, error) {
	num, ok := strings.CutSuffix(s, "/s")
	mult := 1.0
	for _, p := range []struct {
		suffix string
		mult   float64
	}{{"k", 1e3}, {"M", 1e6}, {"G", 1e9}} {
		if n, cut := strings.CutSuffix(num, p.suffix); cut {
			num, mult = n, p.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("rate %q: want a number per second", s)
	}
	return v * mult, nil
}

// JSString quotes s as a JavaScript string literal.
func JSString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
