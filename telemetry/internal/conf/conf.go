package conf

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"
)

// Signal names one of the three OpenTelemetry signals.
type Signal string

// The three signals.
const (
	Traces  Signal = "traces"
	Metrics Signal = "metrics"
	Logs    Signal = "logs"
)

// Signals lists the three signals in the order settings are printed.
var Signals = [...]Signal{Traces, Metrics, Logs}

// OTLP protocols, as OTEL_EXPORTER_OTLP_PROTOCOL spells them.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolHTTPJSON     = "http/json"
)

// Code holds the values given in code. Zero values mean "not set", empty
// strings included: `WithServiceName(os.Getenv("SERVICE"))` with the
// variable unset leaves the name to the environment.
type Code struct {
	Disabled          *bool
	ServiceName       string
	ServiceVersion    string
	ServiceInstanceID string
	Environment       string
	Exporters         map[Signal][]string // a signal absent or with no names: not set
	FallbackExporter  string
	Endpoint          string
	Protocol          string
	Headers           map[string]string
	Timeout           time.Duration
	Compression       string
	Insecure          *bool
	Sampler           string // the description of a sampler given in code
	SamplingRatio     *float64
	Propagators       []string
	BSP, BLRP         Batch
	MetricInterval    time.Duration
	Cardinality       *int
	RuntimeMetrics    *bool
	PromAddr          string
	LogLevel          string
	LogFormat         string
}

// Batch tunes a batching processor; in [Code], zero fields are not set.
type Batch struct {
	Delay, ExportTimeout             time.Duration
	MaxQueueSize, MaxExportBatchSize int
}

// Setting is one resolved value and where it came from.
type Setting struct {
	Name   string // e.g. "traces.exporter"
	Value  string // secrets (header values) are redacted
	Source string // "default", "code WithX", "env OTEL_…", "generated"
}

// Config is the effective configuration: what the facade applies and what
// `loupe doctor` checks.
type Config struct {
	Settings []Setting
	Warnings []string // each once

	Disabled   bool
	DisabledBy string // what disabled telemetry: "OTEL_SDK_DISABLED=true", "WithDisabled(true)"

	ServiceName, ServiceVersion, ServiceInstanceID, Environment string
	ResourceAttrs                                               map[string]string

	Exporters   map[Signal][]string // empty when disabled
	OTLP        map[Signal]OTLP     // for the signals exporting over OTLP
	Sampler     Sampler
	Propagators []string

	BSP, BLRP            Batch
	MetricInterval       time.Duration
	MetricTimeout        time.Duration
	ExemplarFilter       string
	Temporality          string
	HistogramAggregation string
	Cardinality          int
	RuntimeMetrics       bool
	PromAddr             string

	SpanLimits                  SpanLimits
	LogAttrCount, LogAttrLength int

	LogLevel  slog.Level
	LogFormat string
}

// OTLP is the resolved exporter configuration of one signal. Every field is
// passed to the SDK exporter explicitly.
type OTLP struct {
	Endpoint       string // a URL whose scheme says plaintext (http) or TLS (https); for HTTP it ends with the signal's path
	EndpointSource string
	Protocol       string
	Headers        map[string]string
	Timeout        time.Duration
	Compression    string      // "gzip" or "none"
	Insecure       bool        // plaintext
	TLS            *tls.Config // nil when Insecure; else the roots and client certificate to use
	CAFile         string
	CertFile       string
	KeyFile        string
}

// Sampler names one of the specification's samplers ("custom" for one given
// in code) and its ratio argument.
type Sampler struct {
	Name string
	Arg  float64
}

// SpanLimits mirrors the SDK's span limits; -1 means no limit.
type SpanLimits struct {
	AttributeValueLength, AttributeCount, EventCount, LinkCount, AttributesPerEvent, AttributesPerLink int
}

// String renders the settings as an aligned table with their sources,
// followed by the warnings.
func (c *Config) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\tSOURCE")
	for _, s := range c.Settings {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, s.Value, s.Source)
	}
	_ = tw.Flush()
	for _, w := range c.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	return b.String()
}

// Lookup returns the setting with the given name.
func (c *Config) Lookup(name string) (Setting, bool) {
	for _, s := range c.Settings {
		if s.Name == name {
			return s, true
		}
	}
	return Setting{}, false
}

// Error reports an invalid value: the variable or option that carried it,
// the value, and what is accepted.
type Error struct {
	Source string // "env OTEL_TRACES_SAMPLER" or "code WithSamplingRatio"
	Value  string
	Want   string
}

func (e *Error) Error() string {
	return fmt.Sprintf("telemetry: %s=%q: want %s", strings.TrimPrefix(e.Source, "env "), e.Value, e.Want)
}

// MultiError holds every invalid value found, each once.
type MultiError struct {
	Errors []error
}

func (e *MultiError) Error() string {
	msgs := make([]string, len(e.Errors))
	for i, err := range e.Errors {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "\n")
}

func (e *MultiError) Unwrap() []error { return e.Errors }
