package telemetry_test

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
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

// Instruments are created on first use and cached by name.
func ExampleScope_Counter() {
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(context.Background(),
		telemetry.WithEnvLookup(func(string) (string, bool) { return "", false }),
		telemetry.WithDefaultExporter("none"),
		telemetry.WithRuntimeMetrics(false),
		telemetry.WithMetricReader(reader),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()

	orders := telemetry.Get("shop")
	for range 3 {
		orders.Counter("orders.placed").Add(context.Background(), 1)
	}
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	sum := rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64])
	fmt.Println(rm.ScopeMetrics[0].Metrics[0].Name, sum.DataPoints[0].Value)
	// Output:
	// orders.placed 3
}

// namePrinter prints each ended span's name and status.
type namePrinter struct{}

func (namePrinter) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (namePrinter) Shutdown(context.Context) error                  { return nil }
func (namePrinter) ForceFlush(context.Context) error                { return nil }

func (namePrinter) OnEnd(s sdktrace.ReadOnlySpan) {
	fmt.Printf("span %s status=%s %q\n", s.Name(), s.Status().Code, s.Status().Description)
}
