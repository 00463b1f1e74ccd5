package telemetry

import (
	"io"
	"log/slog"
	"os"
	"time"

	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/loupe-dev/loupe/telemetry/internal/conf"
)

// Option configures Setup. Options given in code win over the environment,
// which wins over defaults; see [Setup] for the full list. A zero value
// given in code is not set: `WithServiceName(os.Getenv("NAME"))` with NAME
// unset leaves the name to OTEL_SERVICE_NAME, and so for every option that
// takes a string, a duration or a list.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// BatchOptions tune a batching processor (spans or log records). Zero fields
// keep the environment's value or the default.
type BatchOptions struct {
	Delay              time.Duration // OTEL_BSP_SCHEDULE_DELAY / OTEL_BLRP_SCHEDULE_DELAY
	ExportTimeout      time.Duration // OTEL_BSP_EXPORT_TIMEOUT / OTEL_BLRP_EXPORT_TIMEOUT
	MaxQueueSize       int           // OTEL_BSP_MAX_QUEUE_SIZE / OTEL_BLRP_MAX_QUEUE_SIZE
	MaxExportBatchSize int           // OTEL_BSP_MAX_EXPORT_BATCH_SIZE / OTEL_BLRP_MAX_EXPORT_BATCH_SIZE
}

// config holds the options: code's configuration values, which the resolver
// reads (zero values are not set), and what passes to the SDK as it is.
type config struct {
	lookup func(string) (string, bool)
	code   conf.Code

	sampler           sdktrace.Sampler
	logWriter         io.Writer
	logWriterSet      bool
	warnWriter        io.Writer
	noGlobals         bool
	syncLogs          bool
	resourceDetectTTL time.Duration

	resourceOpts  []resource.Option
	traceOpts     []sdktrace.TracerProviderOption
	metricOpts    []sdkmetric.Option
	logOpts       []sdklog.LoggerProviderOption
	spanProcs     []sdktrace.SpanProcessor
	metricReaders []sdkmetric.Reader
	logProcs      []sdklog.Processor
}

func newConfig(opts []Option) *config {
	c := &config{
		lookup:            os.LookupEnv,
		code:              conf.Code{Exporters: map[Signal][]string{}},
		logWriter:         os.Stderr,
		warnWriter:        os.Stderr,
		resourceDetectTTL: 2 * time.Second,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c
}

// WithServiceName sets service.name (OTEL_SERVICE_NAME).
func WithServiceName(name string) Option {
	return optionFunc(func(c *config) { c.code.ServiceName = name })
}

// WithServiceVersion sets service.version.
func WithServiceVersion(version string) Option {
	return optionFunc(func(c *config) { c.code.ServiceVersion = version })
}

// WithServiceInstanceID sets service.instance.id, which otherwise comes from
// OTEL_RESOURCE_ATTRIBUTES or is a random UUID (version 4) generated once
// per process, as the resource semantic conventions recommend: it tells
// apart the replicas of one service.
func WithServiceInstanceID(id string) Option {
	return optionFunc(func(c *config) { c.code.ServiceInstanceID = id })
}

// WithEnvironment sets deployment.environment.name (alias OTEL_ENVIRONMENT).
func WithEnvironment(env string) Option {
	return optionFunc(func(c *config) { c.code.Environment = env })
}

// WithDisabled turns every signal off: spans, metrics and logs become no-ops
// (the local log handler still writes). OTEL_SDK_DISABLED=true and
// OTEL_ENABLED=false disable telemetry whatever this option says.
func WithDisabled(disabled bool) Option {
	return optionFunc(func(c *config) { c.code.Disabled = &disabled })
}

// WithExporters chooses the exporters of one signal, as
// OTEL_{TRACES,METRICS,LOGS}_EXPORTER would: "otlp", "console", "none", and
// for metrics "prometheus".
func WithExporters(s Signal, names ...string) Option {
	return optionFunc(func(c *config) { c.code.Exporters[s] = append([]string(nil), names...) })
}

// WithDefaultExporter replaces the spec's default exporter ("otlp") for every
// signal with name, used only when neither code nor the environment chose one
// and the environment names no OTLP endpoint for the signal (setting
// OTEL_EXPORTER_OTLP_ENDPOINT alone is enough to export over OTLP). Examples
// use "console" so that they show something with no collector running.
func WithDefaultExporter(name string) Option {
	return optionFunc(func(c *config) { c.code.FallbackExporter = name })
}

// WithOTLPEndpoint sets the OTLP endpoint of every signal as a URL
// (http://localhost:4318, https://collector:4317): http:// is plaintext,
// https:// TLS. For HTTP the signal path (/v1/traces, …) is appended. gRPC
// also takes host:port, reached over TLS unless [WithOTLPInsecure] or
// OTEL_EXPORTER_OTLP_INSECURE=true says plaintext.
func WithOTLPEndpoint(url string) Option {
	return optionFunc(func(c *config) { c.code.Endpoint = url })
}

// WithOTLPProtocol sets the OTLP protocol: "grpc", "http/protobuf" (the
// default) or "http/json" (traces only, as the Go SDK allows).
func WithOTLPProtocol(protocol string) Option {
	return optionFunc(func(c *config) { c.code.Protocol = protocol })
}

// WithOTLPHeaders adds headers to every OTLP request; they win over
// OTEL_EXPORTER_OTLP_HEADERS for the same key (case-insensitive), and the
// variable's other headers are kept. Values are never printed.
func WithOTLPHeaders(headers map[string]string) Option {
	return optionFunc(func(c *config) {
		if c.code.Headers == nil {
			c.code.Headers = map[string]string{}
		}
		for k, v := range headers {
			c.code.Headers[k] = v
		}
	})
}

// WithOTLPTimeout bounds each OTLP export (OTEL_EXPORTER_OTLP_TIMEOUT, default 10s).
func WithOTLPTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.code.Timeout = d })
}

// WithOTLPCompression sets "gzip" or "none" (OTEL_EXPORTER_OTLP_COMPRESSION).
func WithOTLPCompression(compression string) Option {
	return optionFunc(func(c *config) { c.code.Compression = compression })
}

// WithOTLPInsecure forces plaintext (true) or TLS (false), whatever the
// endpoint's scheme says.
func WithOTLPInsecure(insecure bool) Option {
	return optionFunc(func(c *config) { c.code.Insecure = &insecure })
}

// WithSampler sets the SDK sampler, overriding OTEL_TRACES_SAMPLER.
func WithSampler(s sdktrace.Sampler) Option {
	return optionFunc(func(c *config) {
		c.sampler, c.code.Sampler = s, ""
		if s != nil {
			c.code.Sampler = s.Description()
		}
	})
}

// WithSamplingRatio samples that fraction of new traces and follows the
// parent's decision otherwise (parentbased_traceidratio). Setup fails
// outside [0, 1].
func WithSamplingRatio(ratio float64) Option {
	return optionFunc(func(c *config) { c.code.SamplingRatio = &ratio })
}

// WithPropagators sets the propagators by name, as OTEL_PROPAGATORS would:
// tracecontext, baggage, b3, b3multi, jaeger, none.
func WithPropagators(names ...string) Option {
	return optionFunc(func(c *config) { c.code.Propagators = append([]string(nil), names...) })
}

// WithSpanBatching tunes the batch span processor (OTEL_BSP_*).
func WithSpanBatching(b BatchOptions) Option {
	return optionFunc(func(c *config) { c.code.BSP = conf.Batch(b) })
}

// WithLogBatching tunes the batch log record processor (OTEL_BLRP_*).
func WithLogBatching(b BatchOptions) Option {
	return optionFunc(func(c *config) { c.code.BLRP = conf.Batch(b) })
}

// WithMetricInterval sets how often metrics are pushed
// (OTEL_METRIC_EXPORT_INTERVAL, default 60s).
func WithMetricInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.code.MetricInterval = d })
}

// WithCardinalityLimit caps the attribute sets kept per instrument
// (LOUPE_METRICS_CARDINALITY_LIMIT, default 2000; 0 means no limit). Past it
// the SDK folds new sets into one otel.metric.overflow=true series and Loupe
// warns once.
func WithCardinalityLimit(n int) Option {
	return optionFunc(func(c *config) { c.code.Cardinality = &n })
}

// WithRuntimeMetrics turns the Go runtime metrics on (the default) or off
// (LOUPE_RUNTIME_METRICS).
func WithRuntimeMetrics(on bool) Option {
	return optionFunc(func(c *config) { c.code.RuntimeMetrics = &on })
}

// WithPrometheusListener serves the Prometheus exporter on its own listener at
// addr (e.g. "localhost:9464"), as OTEL_EXPORTER_PROMETHEUS_HOST/PORT do.
// With neither, no listener is started and mounting
// [Telemetry.MetricsHandler] is up to you.
func WithPrometheusListener(addr string) Option {
	return optionFunc(func(c *config) { c.code.PromAddr = addr })
}

// WithLogLevel sets the minimum level of scope loggers (LOUPE_LOG_LEVEL,
// default info).
func WithLogLevel(level slog.Level) Option {
	return optionFunc(func(c *config) { c.code.LogLevel = level.String() })
}

// WithLogFormat sets the local log format, "json" (default) or "text"
// (LOUPE_LOG_FORMAT).
func WithLogFormat(format string) Option {
	return optionFunc(func(c *config) { c.code.LogFormat = format })
}

// WithLogWriter sets where the local log handler writes (default os.Stderr);
// nil turns local output off, leaving only the logs exporters.
func WithLogWriter(w io.Writer) Option {
	return optionFunc(func(c *config) { c.logWriter, c.logWriterSet = w, true })
}

// WithWarningWriter sets where Loupe writes its own rate-limited warnings
// (default os.Stderr).
func WithWarningWriter(w io.Writer) Option {
	return optionFunc(func(c *config) { c.warnWriter = w })
}

// WithSyncLogs hands each log record to the OpenTelemetry SDK on the
// caller's goroutine. By default a background goroutine does it, so that a
// log call costs little more than its local JSON line; tests that read
// exported records right after logging either use this option or call
// [Telemetry.ForceFlush] first (telemetrytest does).
func WithSyncLogs() Option {
	return optionFunc(func(c *config) { c.syncLogs = true })
}

// WithEnvLookup replaces os.LookupEnv as the source of OTEL_* variables.
// Every exporter setting is then applied from it alone; the one thing the
// SDK still reads from the process environment is the resource of
// OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, merged under Loupe's (the
// resolved service.* attributes win).
func WithEnvLookup(lookup func(string) (string, bool)) Option {
	return optionFunc(func(c *config) { c.lookup = lookup })
}

// WithoutGlobals leaves the OpenTelemetry globals (otel.SetTracerProvider,
// …) untouched. By default Setup sets them so that contrib instrumentation
// uses the same providers, and Shutdown restores the previous ones.
func WithoutGlobals() Option {
	return optionFunc(func(c *config) { c.noGlobals = true })
}

// WithResourceOptions adds raw SDK resource options (detectors, attributes).
func WithResourceOptions(opts ...resource.Option) Option {
	return optionFunc(func(c *config) { c.resourceOpts = append(c.resourceOpts, opts...) })
}

// WithTracerProviderOptions passes raw options to sdktrace.NewTracerProvider,
// after Loupe's own.
func WithTracerProviderOptions(opts ...sdktrace.TracerProviderOption) Option {
	return optionFunc(func(c *config) { c.traceOpts = append(c.traceOpts, opts...) })
}

// WithMeterProviderOptions passes raw options to sdkmetric.NewMeterProvider,
// after Loupe's own.
func WithMeterProviderOptions(opts ...sdkmetric.Option) Option {
	return optionFunc(func(c *config) { c.metricOpts = append(c.metricOpts, opts...) })
}

// WithLoggerProviderOptions passes raw options to sdklog.NewLoggerProvider,
// after Loupe's own.
func WithLoggerProviderOptions(opts ...sdklog.LoggerProviderOption) Option {
	return optionFunc(func(c *config) { c.logOpts = append(c.logOpts, opts...) })
}

// WithSpanProcessor adds a span processor beside the configured exporters
// (a tracetest.SpanRecorder in tests). It is shut down with the provider.
func WithSpanProcessor(p sdktrace.SpanProcessor) Option {
	return optionFunc(func(c *config) { c.spanProcs = append(c.spanProcs, p) })
}

// WithMetricReader adds a metric reader beside the configured exporters
// (an sdkmetric.ManualReader in tests).
func WithMetricReader(r sdkmetric.Reader) Option {
	return optionFunc(func(c *config) { c.metricReaders = append(c.metricReaders, r) })
}

// WithLogProcessor adds a log record processor beside the configured exporters.
func WithLogProcessor(p sdklog.Processor) Option {
	return optionFunc(func(c *config) { c.logProcs = append(c.logProcs, p) })
}
