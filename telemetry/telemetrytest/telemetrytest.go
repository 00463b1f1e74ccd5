package telemetrytest

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/loupe-dev/loupe/telemetry"
)

// Telemetry is an in-memory Setup for tests: every span, metric and log
// record stays in the recorders below. It embeds the real *telemetry.Telemetry.
type Telemetry struct {
	*telemetry.Telemetry
	Spans   *tracetest.SpanRecorder
	Metrics *sdkmetric.ManualReader
	Logs    *LogRecorder
	tb      testing.TB
}

// New sets up telemetry in memory for the rest of the test and shuts it down
// in t.Cleanup, restoring the previous state. No exporter runs and the
// process environment is not read (OTEL_* variables of the machine cannot
// leak into the test); opts are applied after Loupe's test defaults, so
// WithEnvLookup or WithExporters can bring them back. Tests that call New
// cannot run in parallel with each other: Setup is process-wide.
func New(tb testing.TB, opts ...telemetry.Option) *Telemetry {
	tb.Helper()
	t := &Telemetry{
		Spans:   tracetest.NewSpanRecorder(),
		Metrics: sdkmetric.NewManualReader(),
		Logs:    &LogRecorder{},
		tb:      tb,
	}
	base := []telemetry.Option{
		telemetry.WithEnvLookup(func(string) (string, bool) { return "", false }),
		telemetry.WithServiceName("telemetrytest"),
		telemetry.WithExporters(telemetry.Traces, "none"),
		telemetry.WithExporters(telemetry.Metrics, "none"),
		telemetry.WithExporters(telemetry.Logs, "none"),
		telemetry.WithRuntimeMetrics(false),
		telemetry.WithLogWriter(io.Discard),
		telemetry.WithSpanProcessor(t.Spans),
		telemetry.WithMetricReader(t.Metrics),
		telemetry.WithLogProcessor(t.Logs),
		telemetry.WithSyncLogs(), // records are readable as soon as they are logged
	}
	tel, err := telemetry.Setup(context.Background(), append(base, opts...)...)
	if err != nil {
		tb.Fatalf("telemetrytest: Setup: %v", err)
	}
	t.Telemetry = tel
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tel.Shutdown(ctx); err != nil {
			tb.Errorf("telemetrytest: Shutdown: %v", err)
		}
	})
	return t
}

// Ended returns the spans ended so far, in the order they ended.
func (t *Telemetry) Ended() []sdktrace.ReadOnlySpan { return t.Spans.Ended() }

// Span returns the one ended span with that name, failing the test if there
// is none or more than one.
func (t *Telemetry) Span(name string) sdktrace.ReadOnlySpan {
	t.tb.Helper()
	var found []sdktrace.ReadOnlySpan
	for _, s := range t.Spans.Ended() {
		if s.Name() == name {
			found = append(found, s)
		}
	}
	if len(found) != 1 {
		names := make([]string, 0)
		for _, s := range t.Spans.Ended() {
			names = append(names, s.Name())
		}
		t.tb.Fatalf("telemetrytest: want exactly one ended span %q, found %d among %q", name, len(found), names)
	}
	return found[0]
}

// Collect reads every metric once from the manual reader.
func (t *Telemetry) Collect() metricdata.ResourceMetrics {
	t.tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := t.Metrics.Collect(context.Background(), &rm); err != nil {
		t.tb.Fatalf("telemetrytest: collect metrics: %v", err)
	}
	return rm
}

// Metric returns the collected metric with that name, failing the test if
// there is none.
func (t *Telemetry) Metric(name string) metricdata.Metrics {
	t.tb.Helper()
	if m, ok := FindMetric(t.Collect(), name); ok {
		return m
	}
	t.tb.Fatalf("telemetrytest: no metric %q was recorded", name)
	return metricdata.Metrics{}
}

// FindMetric looks a metric up by name in collected data.
func FindMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// Attr returns the value of key among the span's attributes.
func Attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// LogRecorder is an sdklog.Processor that keeps a copy of every record.
type LogRecorder struct {
	mu      sync.Mutex
	records []sdklog.Record
}

// OnEmit keeps a clone of r.
func (l *LogRecorder) OnEmit(_ context.Context, r *sdklog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, r.Clone())
	return nil
}

// Enabled reports true: the recorder wants every record.
func (l *LogRecorder) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }

// Shutdown does nothing; records stay readable.
func (l *LogRecorder) Shutdown(context.Context) error { return nil }

// ForceFlush does nothing.
func (l *LogRecorder) ForceFlush(context.Context) error { return nil }

// Records returns the records emitted so far.
func (l *LogRecorder) Records() []sdklog.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]sdklog.Record(nil), l.records...)
}
