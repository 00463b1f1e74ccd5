// Command quickstart shows Loupe's telemetry in one small program: it sets up
// traces, metrics and logs, does a little work, and exits. By default it
// prints everything to the console; set the OTEL_* variables to send it
// elsewhere, for example to a local `loupe serve` or a collector:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/loupe-dev/loupe/telemetry"
)

// jobs is a named scope: a tracer, cached instruments and a logger. Made at
// package level, before Setup, it follows Setup when it happens.
var jobs = telemetry.Get("quickstart/jobs")

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run() (err error) {
	ctx := context.Background()
	tel, err := telemetry.Setup(ctx,
		telemetry.WithServiceName("quickstart"),
		telemetry.WithServiceVersion("0.1.0"),
		telemetry.WithDefaultExporter("console"), // when no OTEL_*_EXPORTER says otherwise
		telemetry.WithRuntimeMetrics(false),      // keep the console output short
	)
	if err != nil {
		return err
	}
	defer func() {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, tel.Shutdown(shutdownCtx))
	}()
	if os.Getenv("LOUPE_PRINT_CONFIG") != "" {
		fmt.Fprint(os.Stderr, tel.Config())
	}

	for i := range 3 {
		if err := process(ctx, fmt.Sprintf("job-%d", i)); err != nil {
			jobs.Logger().WarnContext(ctx, "job failed", telemetry.Err(err))
		}
	}
	return nil
}

func process(ctx context.Context, id string) (err error) {
	ctx, span := jobs.Start(ctx, "process_job", attribute.String("job.id", id))
	defer func() { telemetry.End(span, err) }()

	log := jobs.Logger()
	log.InfoContext(ctx, "processing started", "job.id", id)
	jobs.Counter("jobs.started", metric.WithDescription("Jobs started.")).Add(ctx, 1)

	start := time.Now()
	n, err := telemetry.Traced(ctx, "fetch_data", fetch)
	jobs.Histogram("jobs.fetch.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.001, 0.005, 0.01, 0.05)).
		Record(ctx, time.Since(start).Seconds())
	if err != nil {
		return fmt.Errorf("fetch for %s: %w", id, err)
	}
	log.InfoContext(ctx, "processing finished", "job.id", id, "rows", n)
	return nil
}

var (
	errUpstream = errors.New("upstream unavailable")
	failNext    bool
)

func fetch(ctx context.Context) (int, error) {
	time.Sleep(time.Duration(1+rand.IntN(5)) * time.Millisecond)
	if failNext {
		failNext = false
		return 0, errUpstream
	}
	failNext = true // every other call fails, to show errors in traces and logs
	return rand.IntN(100), nil
}
