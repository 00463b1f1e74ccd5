package telemetrytest_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/loupe-dev/loupe/telemetry"
	"github.com/loupe-dev/loupe/telemetry/telemetrytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRecordsAllThreeSignals(t *testing.T) {
	tel := telemetrytest.New(t)
	s := telemetry.Get("checkout")
	ctx, span := s.Start(context.Background(), "pay", attribute.String("order.id", "A1"))
	s.Counter("payments").Add(ctx, 2)
	s.Logger().InfoContext(ctx, "paid")
	span.End()

	got := tel.Span("pay")
	if v, ok := telemetrytest.Attr(got, "order.id"); !ok || v.AsString() != "A1" {
		t.Errorf("order.id = %v", v)
	}
	if _, ok := telemetrytest.Attr(got, "missing"); ok {
		t.Error("Attr found an attribute that was never set")
	}
	if v := tel.Metric("payments").Data.(metricdata.Sum[int64]).DataPoints[0].Value; v != 2 {
		t.Errorf("payments = %d", v)
	}
	recs := tel.Logs.Records()
	if len(recs) != 1 || recs[0].SpanID() != span.SpanContext().SpanID() {
		t.Fatalf("log records %v", recs)
	}
	if _, ok := telemetrytest.FindMetric(tel.Collect(), "absent"); ok {
		t.Error("FindMetric found a metric that was never recorded")
	}
}

func TestIgnoresMachineEnvironment(t *testing.T) {
	t.Setenv("OTEL_SDK_DISABLED", "true")
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	tel := telemetrytest.New(t)
	if tel.Config().Disabled() {
		t.Fatal("the machine's OTEL_SDK_DISABLED leaked into the in-memory setup")
	}
	_, span := telemetry.Get("x").Start(context.Background(), "s")
	span.End()
	if len(tel.Ended()) != 1 {
		t.Fatal("span not recorded")
	}
}
