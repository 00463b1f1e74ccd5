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
		fmt.Fprintf(b, " %s=%s", kv.Key, quoteIfNeeded(kv.Value.Emit()))
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
		fmt.Fprintf(&b, "%s %s", sev, r.Body().Emit())
		if r.TraceID().IsValid() {
			fmt.Fprintf(&b, " [trace:%s] [span:%s]", r.TraceID(), r.SpanID())
		}
		r.WalkAttributes(func(kv attribute.KeyValue) bool {
			fmt.Fprintf(&b, " %s=%s", kv.Key, quoteIfNeeded(kv.Value.Emit()))
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
