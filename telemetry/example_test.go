package telemetry_test

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/loupe-dev/loupe/telemetry"
)

// Setup reads OTEL_* variables; an invalid value fails with an error that
// names the variable, the value and what is accepted.
func ExampleSetup_invalidConfiguration() {
	_, err := telemetry.Setup(context.Background(), telemetry.WithEnvLookup(func(name string) (string, bool) {
		if name == "OTEL_TRACES_SAMPLER" {
			return "sometimes", true
		}
		return "", false
	}))
	fmt.Println(err)
	// Output:
	// telemetry: OTEL_TRACES_SAMPLER="sometimes": want one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio
}

// Traced runs a function in a span and records its error.
func ExampleTraced() {
	tel, err := telemetry.Setup(context.Background(),
		telemetry.WithEnvLookup(func(string) (string, bool) { return "", false }),
		telemetry.WithExporters(telemetry.Traces, "none"),
		telemetry.WithExporters(telemetry.Metrics, "none"),
		telemetry.WithExporters(telemetry.Logs, "none"),
		telemetry.WithSpanProcessor(namePrinter{}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()

	_, err = telemetry.Traced(context.Background(), "fetch_user", func(ctx context.Context) (string, error) {
		return "", errors.New("not found")
	}, attribute.String("user.id", "42"))
	fmt.Println("error:", err)
	// Output:
	// span fetch_user status=Error "not found"
	// error: not found
}

// The effective configuration lists each value with its source.
func ExampleTelemetry_Config() {
	tel, err := telemetry.Setup(context.Background(),
		telemetry.WithEnvLookup(func(name string) (string, bool) {
			v, ok := map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}[name]
			return v, ok
		}),
		telemetry.WithServiceName("checkout"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	for _, name := range []string{"service.name", "traces.exporter", "traces.sampler"} {
		s, _ := tel.Config().Lookup(name)
		fmt.Printf("%s=%s (%s)\n", s.Name, s.Value, s.Source)
	}
	// Output:
	// service.name=checkout (code WithServiceName)
	// traces.exporter=none (env OTEL_TRACES_EXPORTER)
	// traces.sampler=parentbased_always_on (default)
}

// shipped is declared at package level, before any Setup, as a service
// declares its instruments.
var shipped = telemetry.Get("shop").Counter("orders.shipped", metric.WithUnit("{order}"))

// A counter declared once follows every Setup: before Setup it is a no-op,
// then it records into each Setup's MeterProvider in turn, with the options
// it was declared with. Looking it up by name returns the same handle.
func ExampleScope_Counter() {
	ctx := context.Background()
	shipped.Add(ctx, 1) // no Setup yet: a no-op

	for run := 1; run <= 2; run++ {
		reader := sdkmetric.NewManualReader()
		tel, err := telemetry.Setup(ctx,
			telemetry.WithEnvLookup(func(string) (string, bool) { return "", false }),
			telemetry.WithDefaultExporter("none"),
			telemetry.WithRuntimeMetrics(false),
			telemetry.WithMetricReader(reader),
		)
		if err != nil {
			fmt.Println(err)
			return
		}
		shipped.Add(ctx, 10)
		telemetry.Get("shop").Counter("orders.shipped").Add(ctx, int64(run)) // the same counter
		var rm metricdata.ResourceMetrics
		_ = reader.Collect(ctx, &rm)
		m := rm.ScopeMetrics[0].Metrics[0]
		fmt.Printf("Setup %d: %s %d %s\n", run, m.Name, m.Data.(metricdata.Sum[int64]).DataPoints[0].Value, m.Unit)
		_ = tel.Shutdown(ctx)
	}
	// Output:
	// Setup 1: orders.shipped 11 {order}
	// Setup 2: orders.shipped 12 {order}
}

// namePrinter prints each ended span's name and status.
type namePrinter struct{}

func (namePrinter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (namePrinter) Shutdown(context.Context) error                  { return nil }
func (namePrinter) ForceFlush(context.Context) error                { return nil }

func (namePrinter) OnEnd(s sdktrace.ReadOnlySpan) {
	fmt.Printf("span %s status=%s %q\n", s.Name(), s.Status().Code, s.Status().Description)
}
