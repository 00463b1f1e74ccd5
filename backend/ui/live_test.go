package ui_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/loupe-dev/loupe/internal/browsertest"
	"github.com/loupe-dev/loupe/internal/servertest"
)

// liveWait is longer than the UI's Live period (5 s) and a refresh of a
// small view: a refresh not seen after it did not happen.
const liveWait = 7 * time.Second

// TestBrowserLive: Live is on when a tab first opens the UI. A log record
// sent then appears in the logs view without a reload or a history entry,
// and the refresh keeps what the user was doing: the window's scroll, the
// focus, a search typed but not submitted. It waits while text in the view
// is selected. Paused, the view stays as it is, and the pause lasts the
// tab's session.
func TestBrowserLive(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "")
	otlp := srv.Addrs("otlp-http")[0].String()
	var first []string
	for i := range 60 {
		first = append(first, fmt.Sprintf("record %d", i+1))
	}
	sendLogs(t, otlp, "", first...)
	// A tab as a user's: Live as the page sets it.
	tb := &tab{browsertest.NewTab(t, browser, servertest.URL(srv, "http"))}
	tb.Open("#/logs")
	tb.WaitFor("the records", `document.querySelectorAll('#logs-result li.log').length === 60`)
	if got := tb.Str(`document.getElementById('live-toggle').getAttribute('aria-pressed')`); got != "true" {
		t.Errorf("Live toggle pressed %q at first open, want true (on)", got)
	}
	shown := func(body string) string {
		return `[...document.querySelectorAll('#logs-result .log-body')].some(e => e.textContent === ` + jsString(body) + `)`
	}
	drawn := func() string { return tb.Str(`document.querySelector('.view').dataset.drawn`) }

	// The user scrolled, typed a search without running it, and moved the
	// focus to the search button.
	tb.Do(chromedp.SendKeys(chromedp.CSS("#log-text"), "not yet"))
	tb.Eval(`window.__page = 'the same'; document.querySelector('#logs-form button[type=submit]').focus(); window.scrollTo(0, 400); true`, nil)
	if got := tb.Str(`window.scrollY`); got != "400" {
		t.Fatalf("scrolled to %s, want 400: the page is too short", got)
	}
	depth := tb.Str(`history.length`)
	sendLogs(t, otlp, "", "arrived live")
	tb.WaitFor("the new record, drawn by Live", shown("arrived live"))
	if got := tb.Str(`window.__page`); got != "the same" {
		t.Errorf("the page was loaded again")
	}
	if got := tb.Str(`history.length`); got != depth {
		t.Errorf("a refresh changed the history: %s entries, were %s", got, depth)
	}
	if got := tb.Str(`window.scrollY`); got != "400" {
		t.Errorf("scrolled to %s after a refresh, was 400", got)
	}
	if !tb.Is(`document.activeElement === document.querySelector('.view #logs-form button[type=submit]')`) {
		t.Errorf("the focus moved to %s, was on the search button", tb.Str(`document.activeElement.outerHTML.slice(0, 80)`))
	}
	if got := tb.Str(`document.getElementById('log-text').value`); got != "not yet" {
		t.Errorf("the search typed reads %q after a refresh, want %q", got, "not yet")
	}

	// Text selected: the view waits until the selection is gone.
	tb.Eval(`getSelection().selectAllChildren(document.querySelector('#logs-result .log-body')); true`, nil)
	before := drawn()
	sendLogs(t, otlp, "", "after the selection")
	time.Sleep(liveWait)
	if d := drawn(); d != before || tb.Is(shown("after the selection")) {
		t.Errorf("the view was drawn again while text in it was selected")
	}
	if got := tb.Str(`getSelection().toString()`); got != "arrived live" {
		t.Errorf("the selection reads %q, want %q", got, "arrived live")
	}
	tb.Eval(`getSelection().removeAllRanges(); true`, nil)
	tb.WaitFor("the record sent during the selection", shown("after the selection"))

	// Paused, the view stays; the pause lasts the session.
	tb.Do(chromedp.Click(chromedp.CSS(`#live-toggle`)))
	if got := tb.Str(`document.getElementById('live-toggle').getAttribute('aria-pressed')`); got != "false" {
		t.Errorf("Live toggle pressed %q after a click, want false (paused)", got)
	}
	before = drawn()
	sendLogs(t, otlp, "", "while paused")
	time.Sleep(liveWait)
	if d := drawn(); d != before || tb.Is(shown("while paused")) {
		t.Errorf("the view was drawn again with Live paused")
	}
	tb.Do(chromedp.Reload())
	tb.WaitFor("the record, after a reload", shown("while paused"))
	if got := tb.Str(`document.getElementById('live-toggle').getAttribute('aria-pressed')`); got != "false" {
		t.Errorf("Live toggle pressed %q after a reload, want false: the pause lasts the tab's session", got)
	}
	tb.NoErrors()
}
