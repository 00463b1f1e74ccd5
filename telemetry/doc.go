// Package telemetry gives a Go service traces, metrics and logs, correlated
// with each other, in one call on the official OpenTelemetry Go SDK.
//
// # Set up once
//
// [Setup] builds the resource, exporters, sampler and propagators from code
// options and the standard OTEL_* environment variables, and returns a
// [Telemetry] whose Shutdown flushes every signal:
//
//	tel, err := telemetry.Setup(ctx, telemetry.WithServiceName("orchestrator"))
//	if err != nil {
//		log.Fatal(err) // e.g. telemetry: OTEL_TRACES_SAMPLER="sometimes": want one of always_on, …
//	}
//	defer tel.Shutdown(shutdownCtx)
//
// Precedence is code options, then the environment, then defaults; the kill
// switches OTEL_SDK_DISABLED=true and OTEL_ENABLED=false win over code, and a
// standard variable wins over its alias (OTEL_EXPORTER_ENDPOINT,
// OTEL_SAMPLING_RATE, OTEL_ENVIRONMENT, OTEL_EXPORTER_JAEGER_ENDPOINT) with a
// warning. [Telemetry.Config] prints every value with where it came from.
//
// # Use named scopes
//
// [Get] returns a [Scope]: spans ([Scope.Start], [Traced]), instruments
// created once and cached by name ([Scope.Counter], [Scope.Histogram],
// [Scope.Gauge], …) and an *slog.Logger ([Scope.Logger]) whose records carry
// trace_id and span_id locally (at the top level of the record, also from a
// logger inside groups) and the trace context over OTLP. Scopes may be
// package-level variables made before Setup: they follow every Setup and
// Shutdown, which the OpenTelemetry globals (they delegate once) cannot.
//
// # Declare instruments once
//
// The instruments are handles ([Counter], [Histogram], …) that follow Setup
// and Shutdown too, so declare each once, at package level, with its options:
//
//	var (
//		worker   = telemetry.Get("example.com/worker")
//		jobs     = worker.Counter("worker.jobs", metric.WithUnit("{job}"))
//		duration = worker.Histogram("worker.job.duration", metric.WithUnit("s"),
//			metric.WithExplicitBucketBoundaries(0.01, 0.1, 1))
//	)
//
//	jobs.Add(ctx, 1) // into the SDK instrument of the Setup in force
//
// Before any Setup they record into the OpenTelemetry global (a no-op unless
// something installed one); after Setup, into its MeterProvider; after
// Shutdown and a new Setup, into the new one, with the same options. An Add
// or Record costs what the SDK's own does (one more load, no allocation;
// BENCHMARKS.md). They implement the OpenTelemetry instrument interfaces
// ([metric.Int64Counter], …), so they go wherever those go. Looking one up by
// name on each call ([Scope.Counter] again) returns the same handle, for one
// map read more.
//
// # Never hurt the host
//
// Spans and log records go through bounded queues: with the collector down or
// slow, application calls stay fast, memory stays bounded, and what is
// dropped or fails is counted ([Telemetry.Stats], the loupe.telemetry.*
// metrics) and reported in one rate-limited warning. Shutdown returns by its
// context's deadline and reports the loss as a [*DataLossError].
//
// # Nothing hidden
//
// The SDK providers stay reachable ([Telemetry.TracerProvider], …) and raw
// SDK options pass through ([WithTracerProviderOptions], [WithSpanProcessor],
// …), so processors, views and contrib instrumentation plug in as usual.
// Package telemetrytest sets everything up in memory for tests.
//
// Semantic conventions follow one version across Loupe: [SchemaURL].
package telemetry
