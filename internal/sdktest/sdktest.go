// Package sdktest gives the instrumentation and genai tests an in-memory
// OpenTelemetry SDK: a span recorder and a manual metric reader, plus small helpers to read
// what they hold.
package sdktest

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// SDK is a tracer provider recording every span and a meter provider read on
// demand. Both shut down when the test ends.
type SDK struct {
	Spans  *tracetest.SpanRecorder
	TP     *sdktrace.TracerProvider
	Reader *sdkmetric.ManualReader
	MP     *sdkmetric.MeterProvider
}

// New returns a fresh SDK for t.
func New(t testing.TB) *SDK {
	t.Helper()
	s := &SDK{Spans: tracetest.NewSpanRecorder(), Reader: sdkmetric.NewManualReader()}
	s.TP = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.Spans))
	s.MP = sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.Reader))
	t.Cleanup(func() {
		_ = s.TP.Shutdown(context.Background())
		_ = s.MP.Shutdown(context.Background())
	})
	return s
}

// Root starts a span for the test to parent the calls under.
func (s *SDK) Root(ctx context.Context) (context.Context, trace.Span) {
	return s.TP.Tracer("test").Start(ctx, "root")
}

// ChildrenOf returns the ended spans whose parent is root, in end order,
// except those named in skip.
func (s *SDK) ChildrenOf(root trace.Span, skip ...string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
next:
	for _, sp := range s.Spans.Ended() {
		if sp.Parent().SpanID() != root.SpanContext().SpanID() {
			continue
		}
		for _, n := range skip {
			if sp.Name() == n {
				continue next
			}
		}
		out = append(out, sp)
	}
	return out
}

// Collect returns the metrics recorded so far.
func (s *SDK) Collect(t testing.TB) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.Reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// Metrics collects and returns the metrics by name.
func (s *SDK) Metrics(t testing.TB) map[string]metricdata.Metrics {
	t.Helper()
	rm := s.Collect(t)
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// Histogram returns the data points of the named float64 histogram (none if
// it was not recorded).
func (s *SDK) Histogram(t testing.TB, name string) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	m, ok := s.Metrics(t)[name]
	if !ok {
		return nil
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is %T, want a float64 histogram", name, m.Data)
	}
	return h.DataPoints
}

// Attrs maps attribute keys to their values as strings.
func Attrs(kvs []attribute.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// discard is a span processor that keeps nothing: spans are sampled and
// recorded as in production, without a benchmark growing a recorder.
type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }

// Bench returns providers for benchmarks: every span sampled and recorded
// then dropped, metrics aggregated by a manual reader nobody reads. opts are
// added to the meter provider's (views, for instance).
func Bench(b testing.TB, opts ...sdkmetric.Option) (*sdktrace.TracerProvider, *sdkmetric.MeterProvider) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{}))
	mp := sdkmetric.NewMeterProvider(append([]sdkmetric.Option{sdkmetric.WithReader(sdkmetric.NewManualReader())}, opts...)...)
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return tp, mp
}
