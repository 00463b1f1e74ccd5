package ui_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/internal/servertest"
)

// largeSpans is the size of the large trace: Jaeger UI slows past about
// 2,000 spans.
const largeSpans = 10_000

// sendLargeTrace sends one trace of n spans with the SDK: a root, 100
// children, each with the rest spread below it, with a long
// attribute value on every tenth child. It returns the trace id.
func sendLargeTrace(t *testing.T, otlpHTTP string, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(otlpHTTP), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp, sdktrace.WithMaxExportBatchSize(2000), sdktrace.WithMaxQueueSize(n+10)),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "bulk"))))
	tr := tp.Tracer("bulk")
	t0 := time.Now().Add(-10 * time.Second)
	rctx, root := tr.Start(ctx, "import", trace.WithTimestamp(t0), trace.WithSpanKind(trace.SpanKindServer))
	long := strings.Repeat("long value ", 2000)
	made := 1
	for i := 0; made < n; i++ {
		var attrs []attribute.KeyValue
		if i%10 == 0 {
			attrs = append(attrs, attribute.String("long", long))
		}
		cctx, c := tr.Start(rctx, fmt.Sprintf("batch %d", i), trace.WithTimestamp(t0.Add(time.Duration(i)*time.Millisecond)),
			trace.WithAttributes(attrs...))
		made++
		for j := 0; j < 99 && made < n; j++ {
			_, g := tr.Start(cctx, "row", trace.WithTimestamp(t0.Add(time.Duration(i)*time.Millisecond+time.Duration(j)*time.Microsecond)))
			g.End(trace.WithTimestamp(t0.Add(time.Duration(i+1) * time.Millisecond)))
			made++
		}
		c.End(trace.WithTimestamp(t0.Add(time.Duration(i+1) * time.Millisecond)))
	}
	root.End(trace.WithTimestamp(t0.Add(time.Second)))
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return root.SpanContext().TraceID().String()
}

// sendOrphans sends a trace whose two spans name a parent that never
// arrives (a service whose caller does not export): it returns the trace,
// the missing parent and the first span.
func sendOrphans(t *testing.T, otlpHTTP string) (traceID, parent, first string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(otlpHTTP), otlptracehttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "orphan"))))
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{8, 7, 6, 5, 4, 3, 2, 1}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	pctx := trace.ContextWithRemoteSpanContext(ctx, remote)
	_, a := tp.Tracer("orphan").Start(pctx, "first", trace.WithSpanKind(trace.SpanKindServer))
	a.End()
	_, b := tp.Tracer("orphan").Start(pctx, "second", trace.WithSpanKind(trace.SpanKindConsumer))
	b.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return remote.TraceID().String(), remote.SpanID().String(), a.SpanContext().SpanID().String()
}

// TestBrowserLargeTrace opens a trace of 10,000 spans, and one whose
// spans' parent is missing.
func TestBrowserLargeTrace(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "")
	id := sendLargeTrace(t, srv.Addrs("otlp-http")[0].String(), largeSpans)
	orphans, missing, first := sendOrphans(t, srv.Addrs("otlp-http")[0].String())
	tb := newTab(t, browser, servertest.URL(srv, "http"))
	// The home drawn to its end (its service map too) before the clock
	// starts: the time is the trace's, not the home's last requests'.
	tb.Open("#/services")
	tb.WaitFor("the home", `document.querySelector('.view[data-drawn] #services-table')`)
	began := time.Now()
	tb.Route("#/trace/" + id)
	tb.WaitFor("the trace", `document.getElementById('trace-id')?.textContent === '`+id+`' && document.querySelector('.wf-row.selected')`)
	took := time.Since(began)
	var fetch struct{ Duration, Size float64 }
	tb.Eval(`(() => { const e = performance.getEntriesByType('resource').find(e => e.name.includes('/api/traces/`+id+`')); return {Duration: e?.duration || 0, Size: e?.encodedBodySize || 0}; })()`, &fetch)
	t.Logf("of which fetching the trace (%.1f MB): %.0f ms", fetch.Size/1e6, fetch.Duration)
	var rows int
	tb.Eval(`document.querySelectorAll('#waterfall .wf-row').length`, &rows)
	t.Logf("a trace of %d spans opened in %v, %d rows in the page", largeSpans, took, rows)
	// Jaeger UI takes seconds at this size. Here, on 2 cores, it opened in
	// 0.52-0.64 s at load 2-4.6 and in 1.7-2.2 s with four busy loops
	// beside it (load 5-8): the bound leaves a loaded CI machine a third
	// more (see BENCHMARKS.md; drawing every row took 7.5 s).
	if took > 3*time.Second || rows > 200 {
		t.Errorf("%d spans: %v to open, %d rows drawn; want under 3 s and only the rows in view", largeSpans, took, rows)
	}
	tb.Screenshot("large-trace")
	// The critical path: the root, each batch (they follow each other), and
	// in a batch whose rows all end with it, the row that started first.
	var critical []bool
	tb.Eval(`[...document.querySelectorAll('#waterfall .wf-row')].sort((a, b) => a.getAttribute('aria-posinset') - b.getAttribute('aria-posinset')).slice(0, 4).map(r => r.classList.contains('critical'))`, &critical)
	if want := []bool{true, true, true, false}; !slices.Equal(critical, want) {
		t.Errorf("critical path marks of import, batch 0 and its first two rows: %v, want %v", critical, want)
	}
	// Scrolled to the end, the last rows are drawn, and only those near.
	began = time.Now()
	tb.Eval(`(() => { const s = document.getElementById('wf-scroll'); s.scrollTop = s.scrollHeight; return true; })()`, nil)
	tb.WaitFor("the last row", `document.querySelector('#waterfall .wf-row[aria-posinset="`+fmt.Sprint(largeSpans)+`"]')`)
	t.Logf("scrolled to the end and drawn in %v", time.Since(began))
	tb.Eval(`document.querySelectorAll('#waterfall .wf-row').length`, &rows)
	if rows > 200 {
		t.Errorf("%d rows in the page after scrolling, want only those in view", rows)
	}
	// Keys move the selection from the last span up, drawing as they go.
	tb.Do(chromedp.Click(chromedp.CSS(`#waterfall .wf-row[aria-posinset="` + fmt.Sprint(largeSpans) + `"]`)))
	tb.Do(chromedp.KeyEvent(kb.ArrowUp))
	tb.WaitFor("the span before the last selected", `document.querySelector('.wf-row.selected')?.getAttribute('aria-posinset') === '`+fmt.Sprint(largeSpans-1)+`' && document.activeElement === document.querySelector('.wf-row.selected')`)

	// Spans whose parent never came are roots, and say so.
	tb.Route("#/trace/" + orphans)
	tb.WaitFor("the orphans' trace", `document.getElementById('trace-id')?.textContent === '`+orphans+`' && document.querySelectorAll('#waterfall .wf-row').length === 2`)
	var depths []string
	tb.Eval(`[...document.querySelectorAll('#waterfall .wf-row .wf-label')].map(e => e.style.paddingLeft)`, &depths)
	if len(depths) != 2 || depths[0] != depths[1] {
		t.Errorf("orphan rows indented %q, want both as roots", depths)
	}
	tb.Do(chromedp.Click(chromedp.CSS(`#waterfall .wf-row[data-span-id="` + first + `"]`)))
	tb.WaitFor("the first span's parent", `document.getElementById('selected-span-parent')?.textContent === '`+missing+` (not in the trace: shown as a root)'`)
	tb.NoErrors()
}
