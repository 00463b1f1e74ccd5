package telemetry

import (
	"context"
	"io"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// A Setup that lands while a handle is resolving, after the instrument was
// made in the state it replaces: that instrument may take the call under way,
// never the calls after the Setup.
func TestSetupDuringResolution(t *testing.T) {
	newState := func() (*state, *sdkmetric.ManualReader) {
		r := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
		t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		return &state{tp: tracenoop.NewTracerProvider(), mp: mp, warn: newWarner(io.Discard)}, r
	}
	sum := func(r *sdkmetric.ManualReader) int64 {
		var rm metricdata.ResourceMetrics
		if err := r.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					total += dp.Value
				}
			}
		}
		return total
	}

	c := Get("resolution.race").Counter("c")
	stA, rA := newState()
	stB, rB := newState()
	restoreA := swapState(stA)
	defer restoreA()
	var restoreB func()
	testHookResolved = func() {
		testHookResolved = nil
		restoreB = swapState(stB) // the Setup lands here
	}
	defer func() { testHookResolved = nil }()

	c.Add(context.Background(), 1) // resolves in A; B is installed meanwhile
	if restoreB == nil {
		t.Fatal("the hook did not run: the handle did not resolve")
	}
	defer restoreB()
	c.Add(context.Background(), 10)
	if a, b := sum(rA), sum(rB); a != 1 || b != 10 {
		t.Errorf("A got %d and B %d, want 1 and 10: the instrument made for A outlived B's Setup", a, b)
	}
}
