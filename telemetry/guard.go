package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/loupe-dev/loupe/telemetry/internal/conf"
)

// This file keeps telemetry from hurting the service it observes. Spans and
// log records pass through a bounded queue ahead of the SDK's batch
// processor: when it is full they are dropped and counted, never waited for.
// Export failures are counted too, and reported in one rate-limited warning
// rather than one per batch.

// Stats counts what this Setup could not deliver (and what it did).
// MetricExportsFailed counts failed exports whose data is lost: a failed
// export of cumulative data counts only until a later export succeeds,
// which carries that data again.
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

	spans, logs                        counts
	metricExports, metricExportsFailed atomic.Int64
	// metricUnsent counts the failed exports since the last one that
	// succeeded whose data all a later export carries again (cumulative
	// sums and histograms, gauges): a success clears them, as the SDK's
	// periodic export cancelled by Shutdown is followed by its final one.
	metricUnsent atomic.Int64

	mu    sync.Mutex
	gates []*queueGate // every bounded queue, for abandonPending
}

// counts is what happened to the items of one signal.
type counts struct{ exported, failed, dropped atomic.Int64 }

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
	for _, q := range g.gates {
		q.abandon()
	}
}

func (g *guard) stats() Stats {
	return Stats{
		SpansExported: g.spans.exported.Load(), SpansFailed: g.spans.failed.Load(), SpansDropped: g.spans.dropped.Load(),
		LogsExported: g.logs.exported.Load(), LogsFailed: g.logs.failed.Load(), LogsDropped: g.logs.dropped.Load(),
		MetricExports: g.metricExports.Load(), MetricExportsFailed: g.metricExportsFailed.Load() + g.metricUnsent.Load(),
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

// queueGate bounds the items handed to one of the SDK's batch processors.
// inflight counts items admitted and not yet exported; since the SDK's queue
// never holds more than that, it never overflows (and so never drops
// uncounted). The processor side calls admit, the exporter side done.
type queueGate struct {
	g        *guard
	c        *counts
	what     string // "span" or "log record", for warnings
	name     string // the destination
	limit    int64
	inflight atomic.Int64
}

func (g *guard) newGate(c *counts, what, name string, limit int) *queueGate {
	q := &queueGate{g: g, c: c, what: what, name: name, limit: int64(limit)}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gates = append(g.gates, q)
	return q
}

// admit reports whether one more item fits; if not, it is counted as dropped.
func (q *queueGate) admit() bool {
	if q.inflight.Add(1) <= q.limit {
		return true
	}
	q.inflight.Add(-1)
	q.c.dropped.Add(1)
	q.g.warn.Limited("drop:"+q.what+":"+q.name, "telemetry: %s queue for %s is full (%d): dropping %ss; is the collector down or slow?", q.what, q.name, q.limit, q.what)
	return false
}

// export runs one export of n items, bounded by the guard, and counts the
// outcome. Errors are counted and reported here, rate-limited, and not
// returned: the SDK would log every failed batch.
func (q *queueGate) export(ctx context.Context, n int, do func(context.Context) error) {
	ctx, done := q.g.exportContext(ctx)
	defer done()
	err := do(ctx)
	q.inflight.Add(-int64(n))
	if err != nil {
		q.c.failed.Add(int64(n))
		q.g.warn.Limited("fail:"+q.what+":"+q.name, "telemetry: %d %ss could not be exported to %s: %v%s", n, q.what, q.name, err, portHint(err))
		return
	}
	q.c.exported.Add(int64(n))
}

// abandon counts as dropped whatever is still queued.
func (q *queueGate) abandon() {
	if left := q.inflight.Swap(0); left > 0 {
		q.c.dropped.Add(left)
	}
}

// spanGate and spanExporter put a queueGate around a batch span processor.
type spanGate struct {
	sdktrace.SpanProcessor
	q *queueGate
}

func (p *spanGate) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() && p.q.admit() {
		p.SpanProcessor.OnEnd(s)
	}
}

// Shutdown counts as dropped whatever the processor could not export before
// the deadline.
func (p *spanGate) Shutdown(ctx context.Context) error {
	err := p.SpanProcessor.Shutdown(ctx)
	p.q.abandon()
	return err
}

type spanExporter struct {
	sdktrace.SpanExporter
	q *queueGate
}

func (e *spanExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.q.export(ctx, len(spans), func(ctx context.Context) error { return e.SpanExporter.ExportSpans(ctx, spans) })
	return nil
}

func gatedSpanProcessor(g *guard, exp sdktrace.SpanExporter, name string, b conf.Batch) sdktrace.SpanProcessor {
	q := g.newGate(&g.spans, "span", name, b.MaxQueueSize)
	bsp := sdktrace.NewBatchSpanProcessor(&spanExporter{SpanExporter: exp, q: q},
		sdktrace.WithBatchTimeout(b.Delay),
		sdktrace.WithExportTimeout(b.ExportTimeout),
		sdktrace.WithMaxQueueSize(b.MaxQueueSize),
		sdktrace.WithMaxExportBatchSize(b.MaxExportBatchSize),
	)
	return &spanGate{SpanProcessor: bsp, q: q}
}

// logGate and logExporter do the same for log records.
type logGate struct {
	sdklog.Processor
	q *queueGate
}

func (p *logGate) OnEmit(ctx context.Context, r *sdklog.Record) error {
	if p.q.admit() {
		return p.Processor.OnEmit(ctx, r)
	}
	return nil
}

func (p *logGate) Shutdown(ctx context.Context) error {
	err := p.Processor.Shutdown(ctx)
	p.q.abandon()
	return err
}

type logExporter struct {
	sdklog.Exporter
	q *queueGate
}

func (e *logExporter) Export(ctx context.Context, records []sdklog.Record) error {
	e.q.export(ctx, len(records), func(ctx context.Context) error { return e.Exporter.Export(ctx, records) })
	return nil
}

func gatedLogProcessor(g *guard, exp sdklog.Exporter, name string, b conf.Batch) sdklog.Processor {
	q := g.newGate(&g.logs, "log record", name, b.MaxQueueSize)
	bp := sdklog.NewBatchProcessor(&logExporter{Exporter: exp, q: q},
		sdklog.WithExportInterval(b.Delay),
		sdklog.WithExportTimeout(b.ExportTimeout),
		sdklog.WithMaxQueueSize(b.MaxQueueSize),
		sdklog.WithExportMaxBatchSize(b.MaxExportBatchSize),
	)
	return &logGate{Processor: bp, q: q}
}

// portHint recognises an export error caused by speaking one OTLP protocol
// to the other's port, on whatever port number, and says what to change.
func portHint(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, `malformed HTTP response "\x00\x00`) || strings.Contains(msg, "malformed HTTP status code") ||
		strings.Contains(msg, "readLoopPeekFailLocked: %!w(<nil>)"):
		// An HTTP/1.1 client reading an HTTP/2 frame: as an answer, or,
		// when the server's SETTINGS frame came before the request was
		// sent, as bytes on an idle connection (net/http's peek error).
		return " (this looks like a gRPC port: set OTEL_EXPORTER_OTLP_PROTOCOL=grpc, or use the collector's OTLP/HTTP port, usually 4318)"
	case strings.Contains(msg, "error reading server preface") || strings.Contains(msg, "HTTP/1.1 header"):
		// A gRPC client reading an HTTP/1.1 answer.
		return " (this looks like an HTTP port: set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, or use the collector's OTLP/gRPC port, usually 4317)"
	}
	return ""
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
	if err == nil {
		e.g.metricUnsent.Store(0) // carried again by this one
		return nil
	}
	carried := carriedAgain(rm)
	if carried {
		e.g.metricUnsent.Add(1)
	} else {
		e.g.metricExportsFailed.Add(1)
	}
	// Shutdown cancels the SDK's periodic export in flight before it
	// exports once more: nothing to warn about unless that one fails too.
	if !carried || !errors.Is(err, context.Canceled) {
		e.g.warn.Limited("fail:metrics:"+e.name, "telemetry: metrics could not be exported to %s: %v%s", e.name, err, portHint(err))
	}
	return nil
}

// carriedAgain reports whether the next export carries everything rm
// does: its sums and histograms are cumulative, its gauges last values.
// Delta data that fails to export is lost.
func carriedAgain(rm *metricdata.ResourceMetrics) bool {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				if d.Temporality != metricdata.CumulativeTemporality {
					return false
				}
			case metricdata.Sum[float64]:
				if d.Temporality != metricdata.CumulativeTemporality {
					return false
				}
			case metricdata.Histogram[int64]:
				if d.Temporality != metricdata.CumulativeTemporality {
					return false
				}
			case metricdata.Histogram[float64]:
				if d.Temporality != metricdata.CumulativeTemporality {
					return false
				}
			case metricdata.ExponentialHistogram[int64]:
				if d.Temporality != metricdata.CumulativeTemporality {
					return false
				}
			case metricdata.ExponentialHistogram[float64]:
				if d.Temporality != metricdata.CumulativeTemporality {
					return false
				}
			}
		}
	}
	return true
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
