package exporttest

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"
)

// Process is one run of a service: a meter provider with a manual reader
// and the OTLP/HTTP exporter. Its cumulative streams start at its start
// time.
type Process struct {
	t      testing.TB
	reader *sdkmetric.ManualReader
	exp    sdkmetric.Exporter
	start  time.Time
	// Meter makes the instruments the test records to.
	Meter metric.Meter
}

// NewProcess starts a run that began at start, with a resource of attrs
// (service.name, service.instance.id, …), exporting to url (such as
// "http://127.0.0.1:4318/v1/metrics"). Its provider and exporter shut
// down when t ends.
func NewProcess(t testing.TB, url string, start time.Time, attrs ...attribute.KeyValue) *Process {
	t.Helper()
	ctx := context.Background()
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(url))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(resource.NewSchemaless(attrs...)))
	t.Cleanup(func() {
		if err := mp.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := exp.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return &Process{t: t, reader: reader, exp: exp, start: start, Meter: mp.Meter("loupe.test/exporttest")}
}

// Export sends what the SDK holds as an export made at at: every point's
// time is at and its start time the process's start (a gauge's none). Sums and histograms
// of int64 and float64, and gauges, are supported; another kind fails the
// test.
func (p *Process) Export(at time.Time) {
	p.t.Helper()
	ctx := context.Background()
	var rm metricdata.ResourceMetrics
	if err := p.reader.Collect(ctx, &rm); err != nil {
		p.t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				retime(d.DataPoints, p.start, at)
			case metricdata.Sum[float64]:
				retime(d.DataPoints, p.start, at)
			case metricdata.Gauge[int64]:
				retime(d.DataPoints, time.Time{}, at)
			case metricdata.Gauge[float64]:
				retime(d.DataPoints, time.Time{}, at)
			case metricdata.Histogram[int64]:
				retimeHistogram(d.DataPoints, p.start, at)
			case metricdata.Histogram[float64]:
				retimeHistogram(d.DataPoints, p.start, at)
			default:
				p.t.Fatalf("exporttest: %s: %T is not supported", m.Name, d)
			}
		}
	}
	if err := p.exp.Export(ctx, &rm); err != nil {
		p.t.Fatal(err)
	}
}

func retime[N int64 | float64](dps []metricdata.DataPoint[N], start, at time.Time) {
	for i := range dps {
		dps[i].StartTime, dps[i].Time = start, at
	}
}

func retimeHistogram[N int64 | float64](dps []metricdata.HistogramDataPoint[N], start, at time.Time) {
	for i := range dps {
		dps[i].StartTime, dps[i].Time = start, at
	}
}
