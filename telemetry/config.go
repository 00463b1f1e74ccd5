package telemetry

import (
	"crypto/tls"
	"slices"
	"time"

	"github.com/loupe-dev/loupe/telemetry/internal/conf"
)

// Signal names one of the three OpenTelemetry signals.
type Signal = conf.Signal

// The three signals.
const (
	Traces  = conf.Traces
	Metrics = conf.Metrics
	Logs    = conf.Logs
)

var signals = conf.Signals

// OTLP protocols, as OTEL_EXPORTER_OTLP_PROTOCOL spells them.
const (
	ProtocolGRPC         = conf.ProtocolGRPC
	ProtocolHTTPProtobuf = conf.ProtocolHTTPProtobuf
	ProtocolHTTPJSON     = conf.ProtocolHTTPJSON
)

// Setting is one resolved configuration value and where it came from
// ("default", "code WithX", "env OTEL_…"), as printed by
// [EffectiveConfig.String].
type Setting = conf.Setting

// ConfigError reports an invalid configuration value: the variable or option
// that carried it, the value, and what is accepted.
type ConfigError = conf.Error

// MultiConfigError holds every invalid value found, each once, so that one
// run shows them all.
type MultiConfigError = conf.MultiError

// EffectiveConfig is the configuration resolved from code options, the
// environment and defaults, in that order of precedence (the kill switches
// OTEL_SDK_DISABLED=true and OTEL_ENABLED=false win over code). Setup applies
// exactly this to the SDK: every exporter gets every value explicitly, so
// what is printed here is what goes on the wire.
type EffectiveConfig struct {
	Settings []Setting
	// Warnings are the notes Setup logs once: aliases used or shadowed,
	// protocol/port mismatches, scheme-less endpoints.
	Warnings []string

	c *conf.Config
}

// OTLPExporter is the resolved OTLP exporter of one signal.
type OTLPExporter struct {
	Endpoint    string // a URL: http:// is plaintext, https:// TLS; for HTTP it ends with the signal's path
	Source      string // where the endpoint came from
	Protocol    string // ProtocolGRPC, ProtocolHTTPProtobuf or ProtocolHTTPJSON
	Headers     map[string]string
	Timeout     time.Duration
	Compression string      // "gzip" or "none"
	TLS         *tls.Config // nil for plaintext
}

// Resolve returns the configuration Setup would apply with these options,
// and every invalid value at once, without setting anything up. `loupe
// doctor` prints and checks it.
func Resolve(opts ...Option) (*EffectiveConfig, error) {
	return resolve(newConfig(opts))
}

func resolve(cfg *config) (*EffectiveConfig, error) {
	c, err := conf.Resolve(cfg.code, cfg.lookup)
	return &EffectiveConfig{Settings: c.Settings, Warnings: c.Warnings, c: c}, err
}

// String renders the settings as an aligned table with their sources,
// followed by the warnings.
func (c *EffectiveConfig) String() string {
	return (&conf.Config{Settings: c.Settings, Warnings: c.Warnings}).String()
}

// Disabled reports whether telemetry is off (OTEL_SDK_DISABLED, OTEL_ENABLED
// or WithDisabled); DisabledBy says which.
func (c *EffectiveConfig) Disabled() bool { return c.c.Disabled }

// DisabledBy names what disabled telemetry: "OTEL_SDK_DISABLED=true",
// "OTEL_ENABLED=false" or "WithDisabled(true)".
func (c *EffectiveConfig) DisabledBy() string { return c.c.DisabledBy }

// Exporters returns the exporter names of a signal; none when disabled.
func (c *EffectiveConfig) Exporters(s Signal) []string {
	return slices.Clone(c.c.Exporters[s])
}

// OTLP returns the OTLP exporter of a signal, if it exports over OTLP.
func (c *EffectiveConfig) OTLP(s Signal) (OTLPExporter, bool) {
	o, ok := c.c.OTLP[s]
	if !ok {
		return OTLPExporter{}, false
	}
	var t *tls.Config
	if o.TLS != nil {
		t = o.TLS.Clone()
	}
	headers := make(map[string]string, len(o.Headers))
	for k, v := range o.Headers {
		headers[k] = v
	}
	return OTLPExporter{Endpoint: o.Endpoint, Source: o.EndpointSource, Protocol: o.Protocol, Headers: headers,
		Timeout: o.Timeout, Compression: o.Compression, TLS: t}, true
}

// Sampler returns the sampler's name as OTEL_TRACES_SAMPLER spells it
// ("custom" for one given with WithSampler) and its ratio argument.
func (c *EffectiveConfig) Sampler() (name string, ratio float64) {
	return c.c.Sampler.Name, c.c.Sampler.Arg
}

// PrometheusListener returns the address Setup serves /metrics on, or "".
func (c *EffectiveConfig) PrometheusListener() string { return c.c.PromAddr }

// Lookup returns the setting with the given name.
func (c *EffectiveConfig) Lookup(name string) (Setting, bool) {
	return (&conf.Config{Settings: c.Settings}).Lookup(name)
}
