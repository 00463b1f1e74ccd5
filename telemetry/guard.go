package telemetry

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// This file keeps telemetry from hurting the service it observes. Spans and
// log records pass through a bounded queue ahead of the SDK's batch
// processor: when it is full they are dropped and counted, never waited for.
// Export failures are counted too, and reported in one rate-limited warning
// rather than one per batch.

// Stats counts what this Setup could not deliver (and what it did).
type Stats struct {
	SpansExported, SpansFailed, SpansDropped int64
	LogsExported, LogsFailed, LogsDropped    int64
	MetricExports, MetricExportsFailed       int64
}

type guard struct {
	warn *warner

	// abandoned is cancelled when Shutdown gives up at its deadline: exports
	// still running (and their retries) stop instead of outliving Shutdown.
	abandoned context.Context
	abandon   context.CancelFunc

	spansExported, spansFailed, spansDropped atomic.Int64
	logsExported, logsFailed, logsDropped    atomic.Int64
	metricExports, metricExportsFailed       atomic.Int64

	mu           sync.Mutex
	pendingSpans []*atomic.Int64 // one per gated span processor
	pendingLogs  []*atomic.Int64 // one per gated log processor
}

func (g *guard) track(spans bool) *atomic.Int64 {
	c := new(atomic.Int64)
	g.mu.Lock()
	defer g.mu.Unlock()
	if spans {
		g.pendingSpans = append(g.pendingSpans, c)
	} else {
		g.pendingLogs = append(g.pendingLogs, c)
	}
	return c
}

func newGuard(w *warner) *guard {
	g := &guard{warn: w}
	g.abandoned, g.abandon = context.WithCancel(context.Background())
	return g
}

// exportContext ties an export to the guard: it ends when ctx does or when
// Shutdown abandons the exports.
func (g *guard) exportContext(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(g.abandoned, cancel)
	return ctx, func() { stop(); cancel() }
}

// abandonPending stops running exports and counts as dropped what is still
// queued when Shutdown gives up at its deadline.
func (g *guard) abandonPending() {
	g.abandon()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.pendingSpans {
		if n := c.Swap(0); n > 0 {
			g.spansDropped.Add(n)
		}
	}
	for _, c := range g.pendingLogs {
		if n := c.Swap(0); n > 0 {
			g.logsDropped.Add(n)
		}
	}
}

func (g *guard) stats() Stats {
	return Stats{
		SpansExported: g.spansExported.Load(), SpansFailed: g.spansFailed.Load(), SpansDropped: g.spansDropped.Load(),
		LogsExported: g.logsExported.Load(), LogsFailed: g.logsFailed.Load(), LogsDropped: g.logsDropped.Load(),
		MetricExports: g.metricExports.Load(), MetricExportsFailed: g.metricExportsFailed.Load(),
	}
}

// DataLossError is part of Shutdown's error when anything was dropped or
// failed to export during the Setup's life.
type DataLossError struct{ Stats Stats }

func (e *DataLossError) Error() string {
	s := e.Stats
	return fmt.Sprintf("telemetry: data lost during this run: %d spans dropped and %d failed to export, %d log records dropped and %d failed, %d metric exports failed",
		s.SpansDropped, s.SpansFailed, s.LogsDropped, s.LogsFailed, s.MetricExportsFailed)
}

func (s Stats) lost() bool {
	return s.SpansDropped+s.SpansFailed+s.LogsDropped+s.LogsFailed+s.MetricExportsFailed > 0
}

// spanGate bounds the spans handed to a batch span processor. inflight counts
// spans enqueued and not yet exported; since the SDK's queue never holds more
// than that, it never overflows (and so never drops uncounted).
type spanGate struct {
	sdktrace.SpanProcessor
	g        *guard
	limit    int64
	inflight *atomic.Int64
	name     string
}

func (p *spanGate) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	if p.inflight.Add(1) > p.limit {
		p.inflight.Add(-1)
		p.g.spansDropped.Add(1)
		p.g.warn.Limited("drop:spans:"+p.name, "telemetry: span queue for %s is full (%d spans): dropping spans; is the collector down or slow?", p.name, p.limit)
		return
	}
	p.SpanProcessor.OnEnd(s)
}

// Shutdown counts as dropped whatever the processor could not export before
// the deadline.
func (p *spanGate) Shutdown(ctx context.Context) error {
	err := p.SpanProcessor.Shutdown(ctx)
	if left := p.inflight.Swap(0); left > 0 {
		p.g.spansDropped.Add(left)
	}
	return err
}

type spanExporter struct {
	sdktrace.SpanExporter
	g        *guard
	inflight *atomic.Int64
	name     string
}

func (e *spanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	ctx, done := e.g.exportContext(ctx)
	defer done()
	err := e.SpanExporter.ExportSpans(ctx, spans)
	e.inflight.Add(-int64(len(spans)))
	if err != nil {
		e.g.spansFailed.Add(int64(len(spans)))
		e.g.warn.Limited("fail:spans:"+e.name, "telemetry: %d spans could not be exported to %s: %v", len(spans), e.name, err)
		return nil // counted and reported here; the SDK would log every batch
	}
	e.g.spansExported.Add(int64(len(spans)))
	return nil
}

func gatedSpanProcessor(g *guard, exp sdktrace.SpanExporter, name string, b batchConfig) sdktrace.SpanProcessor {
	inflight := g.track(true)
	wrapped := &spanExporter{SpanExporter: exp, g: g, inflight: inflight, name: name}
	bsp := sdktrace.NewBatchSpanProcessor(wrapped,
		sdktrace.WithBatchTimeout(b.delay),
		sdktrace.WithExportTimeout(b.timeout),
		sdktrace.WithMaxQueueSize(b.maxQueue),
		sdktrace.WithMaxExportBatchSize(b.maxExport),
	)
	return &spanGate{SpanProcessor: bsp, g: g, limit: int64(b.maxQueue), inflight: inflight, name: name}
}

// logGate does for log records what spanGate does for spans.
type logGate struct {
	sdklog.Processor
	g        *guard
	limit    int64
	inflight *atomic.Int64
	name     string
}

func (p *logGate) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if p.inflight.Add(1) > p.limit {
		p.inflight.Add(-1)
		p.g.logsDropped.Add(1)
		p.g.warn.Limited("drop:logs:"+p.name, "telemetry: log queue for %s is full (%d records): dropping records; is the collector down or slow?", p.name, p.limit)
		return nil
	}
	return p.Processor.OnEmit(ctx, r)
}

func (p *logGate) Shutdown(ctx context.Context) error {
	err := p.Processor.Shutdown(ctx)
	if left := p.inflight.Swap(0); left > 0 {
		p.g.logsDropped.Add(left)
	}
	return err
}

type logExporter struct {
	sdklog.Exporter
	g        *guard
	inflight *atomic.Int64
	name     string
}

func (e *logExporter) Export(ctx context.Context, records []sdklog.Record) error {
	ctx, done := e.g.exportContext(ctx)
	defer done()
	err := e.Exporter.Export(ctx, records)
	e.inflight.Add(-int64(len(records)))
	if err != nil {
		e.g.logsFailed.Add(int64(len(records)))
		e.g.warn.Limited("fail:logs:"+e.name, "telemetry: %d log records could not be exported to %s: %v", len(records), e.name, err)
		return nil
	}
	e.g.logsExported.Add(int64(len(records)))
	return nil
}

func gatedLogProcessor(g *guard, exp sdklog.Exporter, name string, b batchConfig) sdklog.Processor {
	inflight := g.track(false)
	wrapped := &logExporter{Exporter: exp, g: g, inflight: inflight, name: name}
	bp := sdklog.NewBatchProcessor(wrapped,
		sdklog.WithExportInterval(b.delay),
		sdklog.WithExportTimeout(b.timeout),
		sdklog.WithMaxQueueSize(b.maxQueue),
		sdklog.WithExportMaxBatchSize(b.maxExport),
	)
	return &logGate{Processor: bp, g: g, limit: int64(b.maxQueue), inflight: inflight, name: name}
}

// metricExporter counts failed pushes and warns once when an instrument
// passes the cardinality limit.
type metricExporter struct {
	sdkmetric.Exporter
	g    *guard
	name string
}

var overflowKey = attribute.Key("otel.metric.overflow")

func (e *metricExporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.checkOverflow(rm)
	ctx, done := e.g.exportContext(ctx)
	defer done()
	err := e.Exporter.Export(ctx, rm)
	e.g.metricExports.Add(1)
	if err != nil {
		e.g.metricExportsFailed.Add(1)
		e.g.warn.Limited("fail:metrics:"+e.name, "telemetry: metrics could not be exported to %s: %v", e.name, err)
		return nil
	}
	return nil
}

func (e *metricExporter) checkOverflow(rm *metricdata.ResourceMetrics) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if hasOverflow(m.Data) {
				e.g.warn.Once("overflow:"+m.Name, "telemetry: metric %q passed the cardinality limit: new attribute sets are folded into otel.metric.overflow=true; reduce its attributes or raise WithCardinalityLimit", m.Name)
			}
		}
	}
}

func hasOverflow(data metricdata.Aggregation) bool {
	switch d := data.(type) {
	case metricdata.Sum[int64]:
		return anyOverflow(d.DataPoints, func(p metricdata.DataPoint[int64]) attribute.Set { return p.Attributes })
	case metricdata.Sum[float64]:
		return anyOverflow(d.DataPoints, func(p metricdata.DataPoint[float64]) attribute.Set { return p.Attributes })
	case metricdata.Gauge[int64]:
		return anyOverflow(d.DataPoints, func(p metricdata.DataPoint[int64]) attribute.Set { return p.Attributes })
	case metricdata.Gauge[float64]:
		return anyOverflow(d.DataPoints, func(p metricdata.DataPoint[float64]) attribute.Set { return p.Attributes })
	case metricdata.Histogram[int64]:
		return anyOverflow(d.DataPoints, func(p metricdata.HistogramDataPoint[int64]) attribute.Set { return p.Attributes })
	case metricdata.Histogram[float64]:
		return anyOverflow(d.DataPoints, func(p metricdata.HistogramDataPoint[float64]) attribute.Set { return p.Attributes })
	}
	return false
}

func anyOverflow[P any](points []P, attrs func(P) attribute.Set) bool {
	for _, p := range points {
		set := attrs(p)
		if v, ok := set.Value(overflowKey); ok && v.AsBool() {
			return true
		}
	}
	return false
}

// warner writes Loupe's own warnings: some once, some at most once per
// interval with a count of what was suppressed in between.
type warner struct {
	mu       sync.Mutex
	w        io.Writer
	interval time.Duration
	once     map[string]bool
	last     map[string]time.Time
	skipped  map[string]int
	now      func() time.Time
}

func newWarner(w io.Writer) *warner {
	if w == nil {
		w = os.Stderr
	}
	return &warner{w: w, interval: time.Minute, once: map[string]bool{}, last: map[string]time.Time{}, skipped: map[string]int{}, now: time.Now}
}

// Once writes the message the first time key is seen.
func (w *warner) Once(key, format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.once[key] {
		return
	}
	w.once[key] = true
	fmt.Fprintf(w.w, "loupe: warning: "+format+"\n", args...)
}

// Limited writes the message at most once per interval per key.
func (w *warner) Limited(key, format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if last, ok := w.last[key]; ok && now.Sub(last) < w.interval {
		w.skipped[key]++
		return
	}
	w.last[key] = now
	suffix := ""
	if n := w.skipped[key]; n > 0 {
		suffix = fmt.Sprintf(" (%d similar warnings suppressed in the last %s)", n, w.interval)
		w.skipped[key] = 0
	}
	fmt.Fprintf(w.w, "loupe: warning: "+format+suffix+"\n", args...)
}
