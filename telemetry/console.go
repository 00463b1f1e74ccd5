package telemetry

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// consoleSpanExporter writes one readable line per span:
//
//	SPAN process_job 12.4ms OK [trace:5f8a3b2c…] [span:abcd…] [parent:…] job.id=42
type consoleSpanExporter struct {
	mu sync.Mutex
	w  io.Writer
}

func (e *consoleSpanExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	var b strings.Builder
	for _, s := range spans {
		status := "OK"
		if s.Status().Code == codes.Error {
			status = "ERROR"
			if d := s.Status().Description; d != "" {
				status += " " + quoteIfNeeded(d)
			}
		}
		fmt.Fprintf(&b, "SPAN %s %s %s [trace:%s] [span:%s]", s.Name(), s.EndTime().Sub(s.StartTime()).Round(time.Microsecond), status, s.SpanContext().TraceID(), s.SpanContext().SpanID())
		if p := s.Parent(); p.IsValid() {
			fmt.Fprintf(&b, " [parent:%s]", p.SpanID())
		}
		writeAttrs(&b, s.Attributes())
		for _, ev := range s.Events() {
			fmt.Fprintf(&b, " {event %s", ev.Name)
			writeAttrs(&b, ev.Attributes)
			b.WriteString("}")
		}
		b.WriteByte('\n')
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := io.WriteString(e.w, b.String())
	return err
}

func (e *consoleSpanExporter) Shutdown(context.Context) error { return nil }

func writeAttrs(b *strings.Builder, attrs []attribute.KeyValue) {
	for _, kv := range attrs {
		fmt.Fprintf(b, " %s=%s", kv.Key, quoteIfNeeded(kv.Value.String()))
	}
}

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

// consoleLogExporter writes one readable line per log record:
//
//	INFO Processing started [trace:5f8a3b2c…] [span:abcd…] step=1
type consoleLogExporter struct {
	mu sync.Mutex
	w  io.Writer
}

func (e *consoleLogExporter) Export(_ context.Context, records []sdklog.Record) error {
	var b strings.Builder
	for i := range records {
		r := &records[i]
		sev := r.SeverityText()
		if sev == "" {
			sev = r.Severity().String()
		}
		fmt.Fprintf(&b, "%s %s", sev, r.Body().String())
		if r.TraceID().IsValid() {
			fmt.Fprintf(&b, " [trace:%s] [span:%s]", r.TraceID(), r.SpanID())
		}
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			fmt.Fprintf(&b, " %s=%s", kv.Key, quoteIfNeeded(kv.Value.String()))
			return true
		})
		b.WriteByte('\n')
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := io.WriteString(e.w, b.String())
	return err
}

func (e *consoleLogExporter) Shutdown(context.Context) error   { return nil }
func (e *consoleLogExporter) ForceFlush(context.Context) error { return nil }

// consoleMetricExporter writes one readable line per data point:
//
//	METRIC jobs.started{region=eu} 3
//	METRIC jobs.fetch.duration{} count=3 sum=0.0096 min=0.0011 max=0.0053 s exemplars=2
type consoleMetricExporter struct {
	mu sync.Mutex
	w  io.Writer
}

func (e *consoleMetricExporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	return sdkmetric.DefaultTemporalitySelector(k)
}

func (e *consoleMetricExporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

func (e *consoleMetricExporter) Export(_ context.Context, rm *metricdata.ResourceMetrics) error {
	var b strings.Builder
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			writeMetric(&b, m)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	_, err := io.WriteString(e.w, b.String())
	return err
}

func writeMetric(b *strings.Builder, m metricdata.Metrics) {
	unit := ""
	if m.Unit != "" {
		unit = " " + m.Unit
	}
	point := func(attrs attribute.Set, value string) {
		fmt.Fprintf(b, "METRIC %s{", m.Name)
		for i, kv := range attrs.ToSlice() {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(b, "%s=%s", kv.Key, quoteIfNeeded(kv.Value.String()))
		}
		fmt.Fprintf(b, "} %s%s\n", value, unit)
	}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			point(p.Attributes, fmt.Sprint(p.Value))
		}
	case metricdata.Sum[float64]:
		for _, p := range d.DataPoints {
			point(p.Attributes, fmt.Sprint(p.Value))
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			point(p.Attributes, fmt.Sprint(p.Value))
		}
	case metricdata.Gauge[float64]:
		for _, p := range d.DataPoints {
			point(p.Attributes, fmt.Sprint(p.Value))
		}
	case metricdata.Histogram[int64]:
		for _, p := range d.DataPoints {
			point(p.Attributes, histogramText(p.Count, float64(p.Sum), len(p.Exemplars)))
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			point(p.Attributes, histogramText(p.Count, p.Sum, len(p.Exemplars)))
		}
	}
}

func histogramText(count uint64, sum float64, exemplars int) string {
	mean := 0.0
	if count > 0 {
		mean = sum / float64(count)
	}
	return fmt.Sprintf("count=%d sum=%.6g mean=%.6g exemplars=%d", count, sum, mean, exemplars)
}

func (e *consoleMetricExporter) ForceFlush(context.Context) error { return nil }
func (e *consoleMetricExporter) Shutdown(context.Context) error   { return nil }
