package telemetry_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/loupe-dev/loupe/telemetry"
	"github.com/loupe-dev/loupe/telemetry/telemetrytest"
)

// Instruments declared at package level, as a service declares them: made
// before any Setup, they must follow every Setup and Shutdown.
var (
	pkgJobs = telemetry.Get("example.com/worker").Counter("worker.jobs",
		metric.WithUnit("{job}"), metric.WithDescription("Jobs processed."))
	pkgJobTime = telemetry.Get("example.com/worker").Histogram("worker.job.duration",
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.1, 1))
)

// setupReader sets up telemetry with the SDK's in-memory reader.
func setupReader(t *testing.T) (*telemetry.Telemetry, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	tel, err := telemetry.Setup(context.Background(), noEnv,
		telemetry.WithDefaultExporter("none"),
		telemetry.WithRuntimeMetrics(false),
		telemetry.WithMetricReader(reader))
	if err != nil {
		t.Fatal(err)
	}
	return tel, reader
}

func collect(t *testing.T, r *sdkmetric.ManualReader) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// sumOf returns the total of an int64 sum over its points, and the points.
func sumOf(rm metricdata.ResourceMetrics, name string) (total int64, points []metricdata.DataPoint[int64]) {
	m, ok := telemetrytest.FindMetric(rm, name)
	if !ok {
		return 0, nil
	}
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		total += dp.Value
		points = append(points, dp)
	}
	return total, points
}

func TestInstrumentsDeclaredBeforeSetupFollowIt(t *testing.T) {
	ctx := context.Background()
	eu := metric.WithAttributeSet(attribute.NewSet(attribute.String("region", "eu")))
	pkgJobs.Add(ctx, 100) // no Setup: goes nowhere, and not into a later Setup
	pkgJobTime.Record(ctx, 100)

	for round := 1; round <= 2; round++ {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			tel, reader := setupReader(t)
			pkgJobs.Add(ctx, 2)
			pkgJobs.Add(ctx, 3, eu)
			pkgJobs.Add(ctx, 4, metric.WithAttributes(attribute.String("region", "us")))
			pkgJobTime.Record(ctx, 0.5, eu)
			if !pkgJobs.Enabled(ctx) {
				t.Error("Enabled is false under a Setup with a reader")
			}
			rm := collect(t, reader)
			if err := tel.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			pkgJobs.Add(ctx, 1000) // after Shutdown: not into the next Setup

			total, points := sumOf(rm, "worker.jobs")
			if total != 9 || len(points) != 3 {
				t.Fatalf("worker.jobs: total %d over %d points in round %d, want 9 over 3 (this Setup only)", total, len(points), round)
			}
			for _, dp := range points {
				region, _ := dp.Attributes.Value("region")
				if want := map[string]int64{"": 2, "eu": 3, "us": 4}[region.AsString()]; dp.Value != want {
					t.Errorf("region %q = %d, want %d", region.AsString(), dp.Value, want)
				}
			}
			jobs, _ := telemetrytest.FindMetric(rm, "worker.jobs")
			if jobs.Unit != "{job}" || jobs.Description != "Jobs processed." {
				t.Errorf("worker.jobs unit %q description %q: the declared options were lost", jobs.Unit, jobs.Description)
			}
			dur, ok := telemetrytest.FindMetric(rm, "worker.job.duration")
			if !ok {
				t.Fatal("worker.job.duration not recorded")
			}
			h := dur.Data.(metricdata.Histogram[float64]).DataPoints
			if dur.Unit != "s" || len(h) != 1 || fmt.Sprint(h[0].Bounds) != "[0.1 1]" || fmt.Sprint(h[0].BucketCounts) != "[0 1 0]" {
				t.Errorf("worker.job.duration unit %q points %+v, want s with bounds [0.1 1] and one 0.5", dur.Unit, h)
			}
			if region, _ := h[0].Attributes.Value("region"); region.AsString() != "eu" {
				t.Errorf("histogram attributes %v", h[0].Attributes)
			}
		})
	}
}

// Every kind of handle follows Setup, and Scope's by-name lookup returns the
// handle itself: one cache, not one per Setup.
func TestEveryInstrumentKindFollowsSetup(t *testing.T) {
	ctx := context.Background()
	s := telemetry.Get("kinds")
	fc, udc, ih, g := s.FloatCounter("f"), s.UpDownCounter("ud"), s.IntHistogram("ih"), s.Gauge("g")
	if s.FloatCounter("f") != fc || s.UpDownCounter("ud") != udc || s.IntHistogram("ih") != ih || s.Gauge("g") != g ||
		telemetry.Get("example.com/worker").Counter("worker.jobs") != pkgJobs {
		t.Fatal("the by-name lookup returned another handle")
	}
	for round := 1; round <= 2; round++ {
		tel, reader := setupReader(t)
		fc.Add(ctx, 1.5)
		udc.Add(ctx, -int64(round))
		ih.Record(ctx, 7)
		g.Record(ctx, float64(round))
		rm := collect(t, reader)
		_ = tel.Shutdown(ctx)

		got := map[string]string{}
		for _, name := range []string{"f", "ud", "ih", "g"} {
			m, ok := telemetrytest.FindMetric(rm, name)
			if !ok {
				t.Fatalf("round %d: %s not recorded", round, name)
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[float64]:
				got[name] = fmt.Sprint(d.DataPoints[0].Value)
			case metricdata.Sum[int64]:
				got[name] = fmt.Sprint(d.DataPoints[0].Value)
			case metricdata.Histogram[int64]:
				got[name] = fmt.Sprint(d.DataPoints[0].Count)
			case metricdata.Gauge[float64]:
				got[name] = fmt.Sprint(d.DataPoints[0].Value)
			}
		}
		want := map[string]string{"f": "1.5", "ud": fmt.Sprint(-round), "ih": "1", "g": fmt.Sprint(round)}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("round %d: %v, want %v", round, got, want)
		}
	}
}

// A handle allocates no more than the SDK's own instrument: nothing with the
// options in a slice made once, and the same with options written in the
// call (Go puts a variadic slice that an interface method receives on the
// heap, for the SDK's instrument as for a handle).
func TestInstrumentHandlesAllocateNoMoreThanTheSDK(t *testing.T) {
	tel, _ := setupReader(t)
	defer func() { _ = tel.Shutdown(context.Background()) }()
	ctx := context.Background()
	set := metric.WithAttributeSet(attribute.NewSet(attribute.String("k", "v")))
	opts := []metric.AddOption{set}
	raw, err := tel.MeterProvider().Meter("allocs.raw").Int64Counter("raw")
	if err != nil {
		t.Fatal(err)
	}
	s := telemetry.Get("allocs")
	for _, tc := range []struct {
		name        string
		raw, handle func()
	}{
		{"options made once", func() { raw.Add(ctx, 1, opts...) }, func() { pkgJobs.Add(ctx, 1, opts...) }},
		{"by name", func() { raw.Add(ctx, 1, opts...) }, func() { s.Counter("by.name").Add(ctx, 1, opts...) }},
		{"options in the call", func() { raw.Add(ctx, 1, set) }, func() { pkgJobs.Add(ctx, 1, set) }},
	} {
		base, got := testing.AllocsPerRun(1000, tc.raw), testing.AllocsPerRun(1000, tc.handle)
		if got != base || (tc.name != "options in the call" && got != 0) {
			t.Errorf("%s: %v allocations per call, the SDK's instrument %v", tc.name, got, base)
		}
	}
}

// Goroutines keep adding while Setup and Shutdown alternate (run with -race):
// after each Setup returns, what the test adds lands in that Setup, even while
// other goroutines resolve the handle for the state that Setup replaced.
func TestInstrumentsFollowSetupUnderConcurrentAdds(t *testing.T) {
	ctx := context.Background()
	s := telemetry.Get("concurrent")
	held := s.Counter("held")
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				held.Add(ctx, 1)
				s.Counter("by.name").Add(ctx, 1)
				s.Histogram("h").Record(ctx, 1)
			}
		})
	}
	for round := range 30 {
		tel, reader := setupReader(t)
		const mine = 1_000_000_000
		held.Add(ctx, mine, metric.WithAttributes(attribute.Bool("mine", true)))
		rm := collect(t, reader)
		_ = tel.Shutdown(ctx)
		if total, _ := sumOf(rm, "held"); total < mine {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("round %d: held = %d, want at least %d (an Add after Setup went elsewhere)", round, total, mine)
		}
	}
	stop.Store(true)
	wg.Wait()

	tel, reader := setupReader(t)
	defer func() { _ = tel.Shutdown(ctx) }()
	held.Add(ctx, 5)
	if total, _ := sumOf(collect(t, reader), "held"); total != 5 {
		t.Errorf("held = %d after the adders stopped, want 5", total)
	}
}

// With no Setup at all in the process, a handle is the OpenTelemetry global's
// no-op: nothing is enabled, nothing panics. A fresh process is needed, since
// the other tests' Setups have set the globals.
func TestInstrumentsWithoutSetupAreNoOps(t *testing.T) {
	if os.Getenv("LOUPE_TEST_NO_SETUP") == "1" {
		ctx := context.Background()
		c := telemetry.Get("never.set.up").Counter("c")
		c.Add(ctx, 1)
		pkgJobTime.Record(ctx, 1)
		if c.Enabled(ctx) || pkgJobTime.Enabled(ctx) {
			fmt.Println("enabled without Setup")
			os.Exit(1)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInstrumentsWithoutSetupAreNoOps$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LOUPE_TEST_NO_SETUP=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
