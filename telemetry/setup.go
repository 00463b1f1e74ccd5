package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/log"
	lognoop "go.opentelemetry.io/otel/log/noop"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/exemplar"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/loupe-dev/loupe/telemetry/internal/conf"
)

// Telemetry is one Setup: the SDK providers it built and the Shutdown that
// flushes them. The providers stay reachable, so nothing of the SDK is hidden.
type Telemetry struct {
	cfg   *EffectiveConfig
	tp    *sdktrace.TracerProvider
	mp    *sdkmetric.MeterProvider
	lp    *sdklog.LoggerProvider
	guard *guard
	prop  propagation.TextMapPropagator

	logWorker *logWorker

	metricsHandler http.Handler
	promServer     *http.Server
	promListener   net.Listener

	restore []func() // undone in reverse order by Shutdown

	shutdownOnce sync.Once
	shutdownErr  error
}

// AlreadySetUpError is returned by a second Setup before the first one's
// Shutdown.
type AlreadySetUpError struct {
	ServiceName string // the service of the Setup still active
}

func (e *AlreadySetUpError) Error() string {
	return fmt.Sprintf("telemetry: Setup already called for service %q: call its Shutdown before setting up again", e.ServiceName)
}

var (
	activeMu sync.Mutex
	active   *Telemetry
)

// Setup configures traces, metrics and logs in one call and makes every
// scope from [Get] use them. Code options win over the OTEL_* environment
// variables, which win over the defaults; OTEL_SDK_DISABLED=true and
// OTEL_ENABLED=false turn everything off whatever the code says (Setup then
// writes one line saying so). Invalid values fail Setup all at once, each
// once, as a *ConfigError (or a *MultiConfigError of them) naming the
// variable or option, the value and what is accepted. Every resolved
// exporter setting is passed to the SDK explicitly, so [Telemetry.Config]
// is what goes on the wire. Defaults:
//
//   - exporters: otlp for each signal (OTEL_{TRACES,METRICS,LOGS}_EXPORTER),
//     over http/protobuf to http://localhost:4318 (grpc: localhost:4317)
//   - sampler: parentbased_always_on; propagators: tracecontext,baggage
//   - batching: spans every 5s, up to 2048 queued, 512 per export; log
//     records every 1s; metrics pushed every 60s; Go runtime metrics on
//   - cardinality limit: 2000 attribute sets per instrument
//   - logs: JSON to stderr at info (LOUPE_LOG_FORMAT, LOUPE_LOG_LEVEL)
//
// Setup sets the OpenTelemetry globals (unless [WithoutGlobals]) and never
// blocks on the network. If a step fails, what was already built is shut
// down. A second Setup before Shutdown returns *AlreadySetUpError.
func Setup(ctx context.Context, opts ...Option) (*Telemetry, error) {
	cfg := newConfig(opts)
	ec, err := resolve(cfg)
	if err != nil {
		return nil, err
	}

	activeMu.Lock()
	defer activeMu.Unlock()
	if active != nil {
		return nil, &AlreadySetUpError{ServiceName: active.cfg.c.ServiceName}
	}

	warn := newWarner(cfg.warnWriter)
	for _, w := range ec.Warnings {
		warn.Once(w, "telemetry: %s", w)
	}
	if ec.c.Disabled {
		warn.Once("disabled", "telemetry: disabled by %s: no spans, metrics or logs are recorded nor exported (local logs still print)", ec.c.DisabledBy)
	}
	t := &Telemetry{cfg: ec, guard: newGuard(warn)}
	if err := t.build(ctx, cfg, ec.c, warn); err != nil {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return nil, errors.Join(err, t.shutdown(shutdownCtx))
	}
	active = t
	return t, nil
}

func (t *Telemetry) build(ctx context.Context, cfg *config, ec *conf.Config, warn *warner) error {
	st := &state{warn: warn, prop: buildPropagator(ec.Propagators)}
	t.prop = st.prop
	level := new(slog.LevelVar)
	level.Set(ec.LogLevel)
	st.logs = &logPipeline{level: level}
	writer := cfg.logWriter
	if slices.Contains(ec.Exporters[Logs], "console") && !cfg.logWriterSet {
		writer = nil // the console exporter is the local output
	}
	st.logs.local = newLocalHandler(writer, ec.LogFormat, level)

	if ec.Disabled {
		st.disabled = true
		st.tp, st.mp = tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider()
		t.install(st, cfg, lognoop.NewLoggerProvider())
		return nil
	}

	res, err := buildResource(ctx, ec, cfg.resourceOpts, cfg.resourceDetectTTL, warn)
	if err != nil {
		return err
	}

	// Traces.
	traceOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(samplerFor(cfg, ec.Sampler)), sdktrace.WithRawSpanLimits(spanLimits(ec.SpanLimits))}
	for _, name := range ec.Exporters[Traces] {
		switch name {
		case "otlp":
			exp, err := newSpanExporter(ctx, ec.OTLP[Traces])
			if err != nil {
				return fmt.Errorf("telemetry: traces exporter: %w", err)
			}
			traceOpts = append(traceOpts, sdktrace.WithSpanProcessor(gatedSpanProcessor(t.guard, exp, target(ec.OTLP[Traces]), ec.BSP)))
		case "console":
			traceOpts = append(traceOpts, sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(&consoleSpanExporter{w: cfg.warnWriter})))
		}
	}
	for _, p := range cfg.spanProcs {
		traceOpts = append(traceOpts, sdktrace.WithSpanProcessor(p))
	}
	t.tp = sdktrace.NewTracerProvider(append(traceOpts, cfg.traceOpts...)...)

	// Metrics.
	metricOpts := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithExemplarFilter(exemplarFilter(ec.ExemplarFilter))}
	if ec.Cardinality > 0 {
		metricOpts = append(metricOpts, sdkmetric.WithCardinalityLimit(ec.Cardinality))
	}
	periodic := func(exp sdkmetric.Exporter, name string) sdkmetric.Reader {
		return sdkmetric.NewPeriodicReader(&metricExporter{Exporter: exp, g: t.guard, name: name},
			sdkmetric.WithInterval(ec.MetricInterval), sdkmetric.WithTimeout(ec.MetricTimeout))
	}
	for _, name := range ec.Exporters[Metrics] {
		switch name {
		case "otlp":
			exp, err := newMetricExporter(ctx, ec.OTLP[Metrics], ec)
			if err != nil {
				return fmt.Errorf("telemetry: metrics exporter: %w", err)
			}
			metricOpts = append(metricOpts, sdkmetric.WithReader(periodic(exp, target(ec.OTLP[Metrics]))))
		case "console":
			metricOpts = append(metricOpts, sdkmetric.WithReader(periodic(&consoleMetricExporter{w: cfg.warnWriter}, "console")))
		case "prometheus":
			reg := prometheus.NewRegistry()
			exp, err := otelprom.New(otelprom.WithRegisterer(reg))
			if err != nil {
				return fmt.Errorf("telemetry: prometheus exporter: %w", err)
			}
			metricOpts = append(metricOpts, sdkmetric.WithReader(exp))
			t.metricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
		}
	}
	for _, r := range cfg.metricReaders {
		metricOpts = append(metricOpts, sdkmetric.WithReader(r))
	}
	t.mp = sdkmetric.NewMeterProvider(append(metricOpts, cfg.metricOpts...)...)
	if ec.RuntimeMetrics {
		if err := runtime.Start(runtime.WithMeterProvider(t.mp)); err != nil {
			return fmt.Errorf("telemetry: runtime metrics: %w", err)
		}
	}
	if usesOTLP(ec) {
		if err := t.registerSelfMetrics(); err != nil {
			return err
		}
	}

	// Logs.
	var logOpts []sdklog.LoggerProviderOption
	for _, name := range ec.Exporters[Logs] {
		switch name {
		case "otlp":
			exp, err := newLogExporter(ctx, ec.OTLP[Logs])
			if err != nil {
				return fmt.Errorf("telemetry: logs exporter: %w", err)
			}
			logOpts = append(logOpts, sdklog.WithProcessor(gatedLogProcessor(t.guard, exp, target(ec.OTLP[Logs]), ec.BLRP)))
		case "console":
			logOpts = append(logOpts, sdklog.WithProcessor(sdklog.NewSimpleProcessor(&consoleLogExporter{w: cfg.warnWriter})))
		}
	}
	for _, p := range cfg.logProcs {
		logOpts = append(logOpts, sdklog.WithProcessor(p))
	}
	var lp log.LoggerProvider
	if len(logOpts) > 0 {
		base := []sdklog.LoggerProviderOption{
			sdklog.WithResource(res),
			sdklog.WithAttributeCountLimit(ec.LogAttrCount),
			sdklog.WithAttributeValueLengthLimit(ec.LogAttrLength),
		}
		t.lp = sdklog.NewLoggerProvider(append(append(base, logOpts...), cfg.logOpts...)...)
		lp = t.lp
		st.logs.lp = t.lp
		if !cfg.syncLogs {
			t.logWorker = newLogWorker(t.guard, ec.BLRP.MaxQueueSize)
			st.logs.worker = t.logWorker
		}
	}

	if ec.PromAddr != "" && t.metricsHandler != nil {
		if err := t.listenPrometheus(ec.PromAddr); err != nil {
			return err
		}
	}

	st.tp, st.mp = t.tp, t.mp
	if lp == nil {
		lp = lognoop.NewLoggerProvider()
	}
	t.install(st, cfg, lp)
	return nil
}

// install makes st current and, unless told otherwise, sets the OTel
// globals; Shutdown undoes both.
func (t *Telemetry) install(st *state, cfg *config, lp log.LoggerProvider) {
	st.lp = lp
	t.restore = append(t.restore, swapState(st))
	if cfg.noGlobals {
		return
	}
	prevTP, prevMP, prevLP, prevProp := otel.GetTracerProvider(), otel.GetMeterProvider(), otel.GetLoggerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(st.tp)
	otel.SetMeterProvider(st.mp)
	otel.SetLoggerProvider(lp)
	otel.SetTextMapPropagator(st.prop)
	t.restore = append(t.restore, func() {
		otel.SetTracerProvider(prevTP)
		otel.SetMeterProvider(prevMP)
		otel.SetLoggerProvider(prevLP)
		otel.SetTextMapPropagator(prevProp)
	})
}

// usesOTLP reports whether any signal exports over OTLP, the only path where
// spans and records can be dropped or fail, and so where self-metrics matter.
func usesOTLP(ec *conf.Config) bool {
	for _, s := range signals {
		if slices.Contains(ec.Exporters[s], "otlp") {
			return true
		}
	}
	return false
}

func samplerFor(cfg *config, s conf.Sampler) sdktrace.Sampler {
	if cfg.sampler != nil {
		return cfg.sampler
	}
	switch s.Name {
	case "always_on":
		return sdktrace.AlwaysSample()
	case "always_off":
		return sdktrace.NeverSample()
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(s.Arg)
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample())
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(s.Arg))
	}
	return sdktrace.ParentBased(sdktrace.AlwaysSample())
}

func spanLimits(l conf.SpanLimits) sdktrace.SpanLimits {
	return sdktrace.SpanLimits{
		AttributeValueLengthLimit:   l.AttributeValueLength,
		AttributeCountLimit:         l.AttributeCount,
		EventCountLimit:             l.EventCount,
		LinkCountLimit:              l.LinkCount,
		AttributePerEventCountLimit: l.AttributesPerEvent,
		AttributePerLinkCountLimit:  l.AttributesPerLink,
	}
}

func exemplarFilter(name string) exemplar.Filter {
	switch name {
	case "always_on":
		return exemplar.AlwaysOnFilter
	case "always_off":
		return exemplar.AlwaysOffFilter
	}
	return exemplar.TraceBasedFilter
}

// registerSelfMetrics exposes what the guard counts as observable counters.
func (t *Telemetry) registerSelfMetrics() error {
	m := t.mp.Meter("github.com/loupe-dev/loupe/telemetry", metric.WithSchemaURL(SchemaURL))
	type counter struct {
		name, desc string
		read       func(Stats) int64
	}
	counters := []counter{
		{"loupe.telemetry.spans.exported", "Spans exported successfully.", func(s Stats) int64 { return s.SpansExported }},
		{"loupe.telemetry.spans.failed", "Spans whose export failed.", func(s Stats) int64 { return s.SpansFailed }},
		{"loupe.telemetry.spans.dropped", "Spans dropped because the export queue was full.", func(s Stats) int64 { return s.SpansDropped }},
		{"loupe.telemetry.logs.exported", "Log records exported successfully.", func(s Stats) int64 { return s.LogsExported }},
		{"loupe.telemetry.logs.failed", "Log records whose export failed.", func(s Stats) int64 { return s.LogsFailed }},
		{"loupe.telemetry.logs.dropped", "Log records dropped because the export queue was full.", func(s Stats) int64 { return s.LogsDropped }},
		{"loupe.telemetry.metric_exports.failed", "Metric pushes that failed.", func(s Stats) int64 { return s.MetricExportsFailed }},
	}
	insts := make([]metric.Observable, len(counters))
	obs := make([]metric.Int64ObservableCounter, len(counters))
	for i, c := range counters {
		o, err := m.Int64ObservableCounter(c.name, metric.WithDescription(c.desc), metric.WithUnit("{item}"))
		if err != nil {
			return fmt.Errorf("telemetry: self-metrics: %w", err)
		}
		insts[i], obs[i] = o, o
	}
	_, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := t.guard.stats()
		for i, c := range counters {
			o.ObserveInt64(obs[i], c.read(s))
		}
		return nil
	}, insts...)
	return err
}

func (t *Telemetry) listenPrometheus(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("telemetry: prometheus listener on %s: %w (set OTEL_EXPORTER_PROMETHEUS_PORT to a free port)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", t.metricsHandler)
	t.promListener = ln
	t.promServer = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,  // a scraper sends its headers at once
		WriteTimeout:      30 * time.Second, // bounded by the scrape timeout anyway
		IdleTimeout:       2 * time.Minute,  // scrapers keep connections between scrapes
	}
	go func() { _ = t.promServer.Serve(ln) }()
	return nil
}

// ForceFlush hands every queued log record to the SDK and flushes the
// providers' processors and push exporters, bounded by ctx.
func (t *Telemetry) ForceFlush(ctx context.Context) error {
	var errs []error
	if t.logWorker != nil {
		errs = append(errs, t.logWorker.flush(ctx))
	}
	if t.tp != nil {
		errs = append(errs, t.tp.ForceFlush(ctx))
	}
	if t.mp != nil {
		errs = append(errs, t.mp.ForceFlush(ctx))
	}
	if t.lp != nil {
		errs = append(errs, t.lp.ForceFlush(ctx))
	}
	return errors.Join(errs...)
}

// Config returns the effective configuration with the source of each value.
func (t *Telemetry) Config() *EffectiveConfig { return t.cfg }

// TracerProvider returns the SDK tracer provider (nil when disabled).
func (t *Telemetry) TracerProvider() *sdktrace.TracerProvider { return t.tp }

// MeterProvider returns the SDK meter provider (nil when disabled).
func (t *Telemetry) MeterProvider() *sdkmetric.MeterProvider { return t.mp }

// LoggerProvider returns the SDK logger provider (nil when no logs exporter
// is configured or telemetry is disabled).
func (t *Telemetry) LoggerProvider() *sdklog.LoggerProvider { return t.lp }

// Propagator returns the configured propagator.
func (t *Telemetry) Propagator() propagation.TextMapPropagator { return t.prop }

// Stats returns what was exported, dropped and failed so far.
func (t *Telemetry) Stats() Stats { return t.guard.stats() }

// MetricsHandler serves the metrics in the Prometheus text format or, when
// the scraper asks for it, OpenMetrics with exemplars. It answers 404 unless
// "prometheus" is among the metrics exporters.
func (t *Telemetry) MetricsHandler() http.Handler {
	if t.metricsHandler == nil {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "telemetry: no Prometheus exporter: set OTEL_METRICS_EXPORTER=prometheus (or add it to the list)", http.StatusNotFound)
		})
	}
	return t.metricsHandler
}

// PrometheusAddr returns the address of the Prometheus listener Setup
// started, or "" when there is none.
func (t *Telemetry) PrometheusAddr() string {
	if t.promListener == nil {
		return ""
	}
	return t.promListener.Addr().String()
}

// Shutdown flushes and stops traces, metrics and logs in parallel, bounded by
// ctx, and joins their errors. It returns by ctx's deadline even if an
// exporter hangs, restores the previous providers, and reports data lost
// during the run as a *DataLossError. Calling it again returns the first
// result.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	t.shutdownOnce.Do(func() {
		t.shutdownErr = t.shutdown(ctx)
		activeMu.Lock()
		if active == t {
			active = nil
		}
		activeMu.Unlock()
	})
	return t.shutdownErr
}

func (t *Telemetry) shutdown(ctx context.Context) error {
	for i := len(t.restore) - 1; i >= 0; i-- {
		t.restore[i]()
	}
	t.restore = nil

	var parts []func(context.Context) error
	if t.tp != nil {
		parts = append(parts, t.tp.Shutdown)
	}
	if t.mp != nil {
		parts = append(parts, t.mp.Shutdown)
	}
	if t.lp != nil {
		parts = append(parts, func(ctx context.Context) error {
			if t.logWorker != nil {
				if err := t.logWorker.stop(ctx); err != nil {
					return err
				}
			}
			return t.lp.Shutdown(ctx)
		})
	}
	if t.promServer != nil {
		parts = append(parts, t.promServer.Shutdown)
	}
	errs := make(chan error, len(parts)) // buffered: a late part never blocks
	for _, p := range parts {
		go func() { errs <- p(ctx) }()
	}
	var all []error
	for range parts {
		select {
		case err := <-errs:
			all = append(all, err)
		case <-ctx.Done():
			all = append(all, fmt.Errorf("telemetry: shutdown did not finish: %w", ctx.Err()))
			t.guard.abandonPending()
			return errors.Join(append(all, t.lossError())...)
		}
	}
	t.guard.abandon() // nothing is in flight any more; release the context
	return errors.Join(append(all, t.lossError())...)
}

func (t *Telemetry) lossError() error {
	if s := t.guard.stats(); s.lost() {
		return &DataLossError{Stats: s}
	}
	return nil
}
