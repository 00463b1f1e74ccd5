package telemetry

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Signal names one of the three OpenTelemetry signals.
type Signal string

// The three signals.
const (
	Traces  Signal = "traces"
	Metrics Signal = "metrics"
	Logs    Signal = "logs"
)

var signals = [...]Signal{Traces, Metrics, Logs}

// OTLP protocols, as OTEL_EXPORTER_OTLP_PROTOCOL spells them.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
	ProtocolHTTPJSON     = "http/json"
)

// Setting is one resolved configuration value and where it came from, as
// printed by [EffectiveConfig.String].
type Setting struct {
	Name   string // e.g. "traces.exporter"
	Value  string // secrets (header values) are redacted
	Source string // "code", "default", or "env OTEL_…"
}

// EffectiveConfig is the configuration Setup resolved from code options, the
// environment and defaults, in that order of precedence (the kill switches
// OTEL_SDK_DISABLED=true and OTEL_ENABLED=false win over code).
type EffectiveConfig struct {
	Settings []Setting
	// Warnings are the notes Setup logs once: aliases used or shadowed,
	// protocol/port mismatches, deprecated variables.
	Warnings []string

	disabled       bool
	serviceName    string
	serviceVersion string
	environment    string
	resourceAttrs  map[string]string
	exporters      map[Signal][]string
	otlp           map[Signal]otlpConfig
	sampler        samplerConfig
	propagators    []string
	bsp            batchConfig
	blrp           batchConfig
	metricInterval time.Duration
	metricTimeout  time.Duration
	exemplarFilter string
	temporality    string
	cardinality    int
	runtimeMetrics bool
	logLevel       slog.Level
	logFormat      string
	promAddr       string
	spanLimits     sdktrace.SpanLimits
	logAttrCount   int
	logAttrLength  int
}

type otlpConfig struct {
	endpoint    string // full URL; for HTTP it includes the signal path
	protocol    string
	headers     map[string]string
	timeout     time.Duration
	compression string
	insecure    bool
	caFile      string
	certFile    string
	keyFile     string
}

type samplerConfig struct {
	name string
	arg  float64
}

type batchConfig struct {
	delay, timeout      time.Duration
	maxQueue, maxExport int
}

// String renders the settings as an aligned table with their sources.
func (c *EffectiveConfig) String() string {
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

// Disabled reports whether telemetry is off (OTEL_SDK_DISABLED, OTEL_ENABLED or WithDisabled).
func (c *EffectiveConfig) Disabled() bool { return c.disabled }

// Exporters returns the exporter names chosen for a signal.
func (c *EffectiveConfig) Exporters(s Signal) []string {
	return append([]string(nil), c.exporters[s]...)
}

// Lookup returns the setting with the given name.
func (c *EffectiveConfig) Lookup(name string) (Setting, bool) {
	for _, s := range c.Settings {
		if s.Name == name {
			return s, true
		}
	}
	return Setting{}, false
}

// ConfigError reports an invalid configuration value: the variable or option
// that carried it, the value, and what is accepted.
type ConfigError struct {
	Source string // "env OTEL_TRACES_SAMPLER" or "code WithSamplingRatio"
	Value  string
	Want   string
}

func (e *ConfigError) Error() string {
	src := strings.TrimPrefix(e.Source, "env ")
	return fmt.Sprintf("telemetry: %s=%q: want %s", src, e.Value, e.Want)
}

// resolver reads each setting once, recording where it came from.
type resolver struct {
	lookup   func(string) (string, bool)
	settings []Setting
	warnings []string
	errs     []error
}

func (r *resolver) env(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

func (r *resolver) fail(source, value, want string) {
	r.errs = append(r.errs, &ConfigError{Source: source, Value: value, Want: want})
}

func (r *resolver) note(name, value, source string) {
	r.settings = append(r.settings, Setting{Name: name, Value: value, Source: source})
}

// setNote replaces the recorded setting of that name.
func (r *resolver) setNote(name, value, source string) {
	for i := range r.settings {
		if r.settings[i].Name == name {
			r.settings[i] = Setting{Name: name, Value: value, Source: source}
			return
		}
	}
	r.note(name, value, source)
}

// anySet reports whether any of the variables is set.
func (r *resolver) anySet(names []string) bool {
	for _, n := range names {
		if _, ok := r.env(n); ok {
			return true
		}
	}
	return false
}

// raw resolves one setting: the code value if given, else the first standard
// variable set, else the first alias set (warning when a standard variable
// shadows an alias), else def. It returns the raw text and its source.
func (r *resolver) raw(code *string, standard, aliases []string, def string) (string, string) {
	var stdName, stdVal string
	for _, n := range standard {
		if v, ok := r.env(n); ok {
			stdName, stdVal = n, v
			break
		}
	}
	var aliasName, aliasVal string
	for _, n := range aliases {
		if v, ok := r.env(n); ok {
			aliasName, aliasVal = n, v
			break
		}
	}
	switch {
	case code != nil:
		return *code, "code"
	case stdName != "":
		if aliasName != "" {
			r.warnings = append(r.warnings, fmt.Sprintf("%s is ignored: %s is set and takes precedence; remove one of them", aliasName, stdName))
		}
		return stdVal, "env " + stdName
	case aliasName != "":
		return aliasVal, "env " + aliasName
	}
	return def, "default"
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "1", "yes", "on":
		return true, true
	case "false", "0", "no", "off":
		return false, true
	}
	return false, false
}

func (r *resolver) boolean(name string, code *bool, standard []string, def bool) bool {
	var cs *string
	if code != nil {
		s := strconv.FormatBool(*code)
		cs = &s
	}
	v, src := r.raw(cs, standard, nil, strconv.FormatBool(def))
	b, ok := parseBool(v)
	if !ok {
		r.fail(src, v, "true or false")
		return def
	}
	r.note(name, strconv.FormatBool(b), src)
	return b
}

// millis parses a duration given in milliseconds, as the OTel spec does for
// every *_TIMEOUT, *_DELAY and *_INTERVAL variable.
func (r *resolver) millis(name string, code *time.Duration, standard []string, def time.Duration) time.Duration {
	if code != nil {
		r.note(name, code.String(), "code")
		if *code <= 0 {
			r.fail("code option for "+name, code.String(), "a positive duration")
		}
		return *code
	}
	v, src := r.raw(nil, standard, nil, strconv.FormatInt(def.Milliseconds(), 10))
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		r.fail(src, v, "a positive whole number of milliseconds")
		return def
	}
	d := time.Duration(n) * time.Millisecond
	r.note(name, d.String(), src)
	return d
}

func (r *resolver) integer(name string, code *int, standard []string, def int, min int) int {
	var cs *string
	if code != nil {
		s := strconv.Itoa(*code)
		cs = &s
	}
	v, src := r.raw(cs, standard, nil, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil || n < min {
		r.fail(src, v, fmt.Sprintf("a whole number ≥ %d", min))
		return def
	}
	r.note(name, strconv.Itoa(n), src)
	return n
}

func (r *resolver) choice(name string, code *string, standard, aliases []string, def string, accepted ...string) string {
	v, src := r.raw(code, standard, aliases, def)
	v = strings.ToLower(v)
	for _, a := range accepted {
		if v == a {
			r.note(name, v, src)
			return v
		}
	}
	r.fail(src, v, "one of "+strings.Join(accepted, ", "))
	return def
}

// resolve builds the effective configuration from code options (cfg), the
// environment (cfg.lookup) and defaults. It never touches os.Environ directly.
func resolve(cfg *config) (*EffectiveConfig, error) {
	r := &resolver{lookup: cfg.lookup}
	ec := &EffectiveConfig{
		exporters: map[Signal][]string{},
		otlp:      map[Signal]otlpConfig{},
	}

	// Kill switches: either variable turns everything off, whatever code says.
	disabled := cfg.disabled != nil && *cfg.disabled
	src := "default"
	if disabled {
		src = "code"
	}
	if v, ok := r.env("OTEL_SDK_DISABLED"); ok {
		b, valid := parseBool(v)
		switch {
		case !valid:
			r.fail("env OTEL_SDK_DISABLED", v, "true or false")
		case b:
			disabled, src = true, "env OTEL_SDK_DISABLED"
		}
	}
	if v, ok := r.env("OTEL_ENABLED"); ok {
		b, valid := parseBool(v)
		switch {
		case !valid:
			r.fail("env OTEL_ENABLED", v, "true or false")
		case !b && !disabled:
			disabled, src = true, "env OTEL_ENABLED"
		}
	}
	ec.disabled = disabled
	r.note("disabled", strconv.FormatBool(disabled), src)

	// Resource.
	ec.resourceAttrs = r.resourceAttributes(cfg)
	ec.serviceName, src = r.raw(cfg.serviceName, []string{"OTEL_SERVICE_NAME"}, nil, "")
	if ec.serviceName == "" {
		if v, ok := ec.resourceAttrs["service.name"]; ok {
			ec.serviceName, src = v, "env OTEL_RESOURCE_ATTRIBUTES"
		} else {
			ec.serviceName, src = "unknown_service:"+filepath.Base(os.Args[0]), "default"
		}
	}
	r.note("service.name", ec.serviceName, src)
	ec.serviceVersion, src = r.raw(cfg.serviceVersion, nil, nil, ec.resourceAttrs["service.version"])
	if src == "default" && ec.serviceVersion != "" {
		src = "env OTEL_RESOURCE_ATTRIBUTES"
	}
	r.note("service.version", ec.serviceVersion, src)
	envDefault := ec.resourceAttrs["deployment.environment.name"]
	ec.environment, src = r.raw(cfg.environment, nil, []string{"OTEL_ENVIRONMENT"}, envDefault)
	if src == "default" && ec.environment != "" {
		src = "env OTEL_RESOURCE_ATTRIBUTES"
	}
	r.note("deployment.environment.name", ec.environment, src)

	// Exporters per signal.
	logSpans := r.boolean("traces.console (OTEL_LOG_SPANS)", nil, []string{"OTEL_LOG_SPANS"}, false)
	for _, s := range signals {
		ec.exporters[s] = r.exporters(cfg, s)
	}
	if logSpans && !contains(ec.exporters[Traces], "console") {
		ec.exporters[Traces] = append(withoutNone(ec.exporters[Traces]), "console")
	}

	for _, s := range signals {
		if contains(ec.exporters[s], "otlp") {
			ec.otlp[s] = r.otlp(cfg, s)
		}
	}

	ec.sampler = r.sampler(cfg)
	ec.propagators = r.propagators(cfg)

	ec.bsp = r.batch("traces.batch", cfg.bsp, "OTEL_BSP_", 5000*time.Millisecond, 30000*time.Millisecond)
	ec.blrp = r.batch("logs.batch", cfg.blrp, "OTEL_BLRP_", 1000*time.Millisecond, 30000*time.Millisecond)
	if ec.bsp.maxExport > ec.bsp.maxQueue {
		r.fail("env OTEL_BSP_MAX_EXPORT_BATCH_SIZE", strconv.Itoa(ec.bsp.maxExport), fmt.Sprintf("at most OTEL_BSP_MAX_QUEUE_SIZE (%d)", ec.bsp.maxQueue))
	}
	if ec.blrp.maxExport > ec.blrp.maxQueue {
		r.fail("env OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", strconv.Itoa(ec.blrp.maxExport), fmt.Sprintf("at most OTEL_BLRP_MAX_QUEUE_SIZE (%d)", ec.blrp.maxQueue))
	}
	ec.metricInterval = r.millis("metrics.export_interval", cfg.metricInterval, []string{"OTEL_METRIC_EXPORT_INTERVAL"}, 60*time.Second)
	ec.metricTimeout = r.millis("metrics.export_timeout", nil, []string{"OTEL_METRIC_EXPORT_TIMEOUT"}, 30*time.Second)
	ec.exemplarFilter = r.choice("metrics.exemplar_filter", nil, []string{"OTEL_METRICS_EXEMPLAR_FILTER"}, nil, "trace_based", "trace_based", "always_on", "always_off")
	ec.temporality = r.choice("metrics.temporality", nil, []string{"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"}, nil, "cumulative", "cumulative", "delta", "lowmemory")
	ec.cardinality = r.integer("metrics.cardinality_limit", cfg.cardinality, []string{"LOUPE_METRICS_CARDINALITY_LIMIT"}, 2000, 0)
	ec.runtimeMetrics = r.boolean("metrics.runtime", cfg.runtimeMetrics, []string{"LOUPE_RUNTIME_METRICS"}, true)
	if contains(ec.exporters[Metrics], "prometheus") {
		ec.promAddr = r.promAddr(cfg)
	}

	ec.spanLimits, ec.logAttrCount, ec.logAttrLength = r.limits()

	levelText, src := r.raw(cfg.logLevel, []string{"LOUPE_LOG_LEVEL"}, nil, "info")
	if err := ec.logLevel.UnmarshalText([]byte(levelText)); err != nil {
		r.fail(src, levelText, "debug, info, warn or error (optionally with an offset, e.g. debug-4)")
	}
	r.note("logs.level", ec.logLevel.String(), src)
	ec.logFormat = r.choice("logs.format", cfg.logFormat, []string{"LOUPE_LOG_FORMAT"}, nil, "json", "json", "text")

	ec.Settings, ec.Warnings = r.settings, append(r.warnings, ec.portWarnings()...)
	if len(r.errs) > 0 {
		return ec, joinConfigErrors(r.errs)
	}
	return ec, nil
}

// limits reads the attribute, event and link limits of the SDK environment
// spec; -1 means no limit. Signal-specific variables win over the general ones.
func (r *resolver) limits() (sdktrace.SpanLimits, int, int) {
	limit := func(name string, def int, vars ...string) int {
		return r.integer("limits."+name, nil, vars, def, -1)
	}
	spans := sdktrace.SpanLimits{
		AttributeValueLengthLimit:   limit("span.attribute_value_length", -1, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
		AttributeCountLimit:         limit("span.attribute_count", 128, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
		EventCountLimit:             limit("span.event_count", 128, "OTEL_SPAN_EVENT_COUNT_LIMIT"),
		LinkCountLimit:              limit("span.link_count", 128, "OTEL_SPAN_LINK_COUNT_LIMIT"),
		AttributePerEventCountLimit: limit("span.event_attribute_count", 128, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"),
		AttributePerLinkCountLimit:  limit("span.link_attribute_count", 128, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT"),
	}
	logCount := limit("log.attribute_count", 128, "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT")
	logLength := limit("log.attribute_value_length", -1, "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")
	return spans, logCount, logLength
}

func joinConfigErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return &MultiConfigError{Errors: errs, msg: strings.Join(msgs, "\n")}
}

// MultiConfigError holds every invalid value found, so one run shows them all.
type MultiConfigError struct {
	Errors []error
	msg    string
}

func (e *MultiConfigError) Error() string   { return e.msg }
func (e *MultiConfigError) Unwrap() []error { return e.Errors }

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func withoutNone(list []string) []string {
	out := list[:0:0]
	for _, v := range list {
		if v != "none" {
			out = append(out, v)
		}
	}
	return out
}

func (r *resolver) resourceAttributes(cfg *config) map[string]string {
	attrs := map[string]string{}
	v, ok := r.env("OTEL_RESOURCE_ATTRIBUTES")
	if !ok {
		return attrs
	}
	for _, pair := range strings.Split(v, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		k, val, found := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !found || k == "" {
			r.fail("env OTEL_RESOURCE_ATTRIBUTES", v, "comma-separated key=value pairs, e.g. team=payments,region=eu")
			return map[string]string{}
		}
		dec, err := url.PathUnescape(strings.TrimSpace(val))
		if err != nil {
			r.fail("env OTEL_RESOURCE_ATTRIBUTES", v, "percent-encoded values (bad escape in "+k+")")
			return map[string]string{}
		}
		attrs[k] = dec
	}
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r.note("resource.attributes", strings.Join(keys, ","), "env OTEL_RESOURCE_ATTRIBUTES")
	return attrs
}

var exporterNames = map[Signal][]string{
	Traces:  {"otlp", "console", "none"},
	Metrics: {"otlp", "prometheus", "console", "none"},
	Logs:    {"otlp", "console", "none"},
}

func (r *resolver) exporters(cfg *config, s Signal) []string {
	std := "OTEL_" + strings.ToUpper(string(s)) + "_EXPORTER"
	var code *string
	if names, ok := cfg.exporters[s]; ok {
		joined := strings.Join(names, ",")
		code = &joined
	}
	def, defSrc := "otlp", "default"
	if fb, ok := cfg.fallbackExporters[s]; ok && !r.endpointSet(s) {
		def, defSrc = fb, "code fallback"
	}
	v, src := r.raw(code, []string{std}, nil, def)
	if src == "default" {
		src = defSrc
	}
	var out []string
	for _, name := range strings.Split(v, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" || contains(out, name) {
			continue
		}
		if !contains(exporterNames[s], name) {
			r.fail(src, v, "a comma-separated list of "+strings.Join(exporterNames[s], ", "))
			return nil
		}
		out = append(out, name)
	}
	if len(out) == 0 {
		r.fail(src, v, "a comma-separated list of "+strings.Join(exporterNames[s], ", "))
		return nil
	}
	if len(out) > 1 && contains(out, "none") {
		r.fail(src, v, `"none" alone, or a list of exporters without "none"`)
		return nil
	}
	if out[0] == "none" {
		out = nil
	}
	r.note(string(s)+".exporter", strings.Join(orNone(out), ","), src)
	return out
}

// endpointSet reports whether the environment names an OTLP endpoint for the
// signal: a clear wish to export over OTLP, which a code fallback exporter
// must not override.
func (r *resolver) endpointSet(s Signal) bool {
	names := []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_" + strings.ToUpper(string(s)) + "_ENDPOINT", "OTEL_EXPORTER_ENDPOINT"}
	if s == Traces {
		names = append(names, "OTEL_EXPORTER_JAEGER_ENDPOINT")
	}
	for _, n := range names {
		if _, ok := r.env(n); ok {
			return true
		}
	}
	return false
}

func orNone(list []string) []string {
	if len(list) == 0 {
		return []string{"none"}
	}
	return list
}

// otlp resolves the OTLP exporter settings of one signal: the per-signal
// variable first, then the general one, then aliases, then defaults.
func (r *resolver) otlp(cfg *config, s Signal) otlpConfig {
	up := strings.ToUpper(string(s))
	names := func(suffix string) []string {
		return []string{"OTEL_EXPORTER_OTLP_" + up + "_" + suffix, "OTEL_EXPORTER_OTLP_" + suffix}
	}
	prefix := "otlp." + string(s) + "."
	var o otlpConfig

	o.protocol = r.choice(prefix+"protocol", cfg.otlpProtocol, names("PROTOCOL"), nil, ProtocolHTTPProtobuf, ProtocolGRPC, ProtocolHTTPProtobuf, ProtocolHTTPJSON)
	if o.protocol == ProtocolHTTPJSON && s != Traces {
		src := "env " + names("PROTOCOL")[1]
		if cfg.otlpProtocol != nil {
			src = "code WithOTLPProtocol"
		} else if _, ok := r.env(names("PROTOCOL")[0]); ok {
			src = "env " + names("PROTOCOL")[0]
		}
		r.fail(src, o.protocol, "grpc or http/protobuf: the OpenTelemetry Go SDK sends http/json for traces only")
	}

	// Endpoint: per-signal URLs are used as they are; the general endpoint is
	// a base URL to which HTTP exporters append /v1/<signal>.
	aliases := []string{"OTEL_EXPORTER_ENDPOINT"}
	if s == Traces {
		aliases = append(aliases, "OTEL_EXPORTER_JAEGER_ENDPOINT")
	}
	raw, src := r.raw(cfg.otlpEndpoint, names("ENDPOINT"), aliases, "")
	perSignal := src == "env "+names("ENDPOINT")[0]
	if src == "env OTEL_EXPORTER_JAEGER_ENDPOINT" {
		protocolDefaulted := cfg.otlpProtocol == nil && !r.anySet(names("PROTOCOL"))
		raw = r.fromJaeger(raw, &o, protocolDefaulted)
	}
	if raw == "" {
		raw = "http://localhost:4318"
		if o.protocol == ProtocolGRPC {
			raw = "http://localhost:4317"
		}
	}
	u, err := parseEndpoint(raw)
	if err != nil {
		r.fail(src, raw, "a URL such as http://localhost:4318 or https://collector.example.com:4317 ("+err.Error()+")")
		return o
	}
	if o.protocol != ProtocolGRPC && !perSignal {
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/" + string(s)
	}
	o.endpoint = u.String()
	o.insecure = u.Scheme == "http"
	r.note(prefix+"endpoint", o.endpoint, src)

	headerText, src := r.raw(nil, names("HEADERS"), nil, "")
	o.headers = map[string]string{}
	for k, v := range cfg.otlpHeaders {
		o.headers[k] = v
	}
	if headerText != "" {
		h, err := parseHeaders(headerText)
		if err != nil {
			r.fail(src, redactHeaders(headerText), "comma-separated key=value pairs with percent-encoded values ("+err.Error()+")")
		}
		for k, v := range h {
			if _, set := cfg.otlpHeaders[k]; !set {
				o.headers[k] = v
			}
		}
	}
	if len(o.headers) > 0 {
		keys := make([]string, 0, len(o.headers))
		for k := range o.headers {
			keys = append(keys, k+"=<redacted>")
		}
		sort.Strings(keys)
		if len(cfg.otlpHeaders) > 0 {
			src = "code"
		}
		r.note(prefix+"headers", strings.Join(keys, ","), src)
	}
	o.timeout = r.millis(prefix+"timeout", cfg.otlpTimeout, names("TIMEOUT"), 10*time.Second)
	o.compression = r.choice(prefix+"compression", cfg.otlpCompression, names("COMPRESSION"), nil, "none", "gzip", "none")
	// Insecure follows the endpoint's scheme unless set explicitly.
	o.insecure = r.boolean(prefix+"insecure", cfg.otlpInsecure, names("INSECURE"), o.insecure)
	o.caFile, _ = r.raw(nil, names("CERTIFICATE"), nil, "")
	o.certFile, _ = r.raw(nil, names("CLIENT_CERTIFICATE"), nil, "")
	o.keyFile, _ = r.raw(nil, names("CLIENT_KEY"), nil, "")
	if (o.certFile == "") != (o.keyFile == "") {
		r.fail("env "+names("CLIENT_KEY")[1], o.keyFile, "both OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY, or neither")
	}
	return o
}

// fromJaeger maps a legacy Jaeger endpoint (agent host:6831 or collector
// http://host:14268/api/traces) to OTLP on the same host: Jaeger accepts OTLP
// natively on 4317 (gRPC) and 4318 (HTTP). With no protocol chosen it uses
// gRPC on 4317, so the agent's port maps to its OTLP twin.
func (r *resolver) fromJaeger(raw string, o *otlpConfig, protocolDefaulted bool) string {
	host := raw
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		host = u.Host
	}
	if h, _, found := strings.Cut(host, ":"); found && !strings.HasPrefix(host, "[") {
		host = h
	}
	port := "4318"
	if o.protocol == ProtocolGRPC || protocolDefaulted {
		// The agent's 6831 becomes OTLP/gRPC's 4317 unless a protocol was chosen.
		o.protocol, port = ProtocolGRPC, "4317"
		r.setNote("otlp.traces.protocol", ProtocolGRPC, "env OTEL_EXPORTER_JAEGER_ENDPOINT")
	}
	mapped := "http://" + host + ":" + port
	r.warnings = append(r.warnings, fmt.Sprintf("OTEL_EXPORTER_JAEGER_ENDPOINT is deprecated (Jaeger takes OTLP natively): %q is sent as OTLP to %s; set OTEL_EXPORTER_OTLP_ENDPOINT=%s instead", raw, mapped, mapped))
	return mapped
}

func parseEndpoint(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("missing scheme http:// or https://")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme %q is neither http nor https", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("missing host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return nil, fmt.Errorf("port %q is not a number from 1 to 65535", p)
		}
	}
	return u, nil
}

func parseHeaders(s string) (map[string]string, error) {
	h := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q has no key=value", redactHeaders(pair))
		}
		dec, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("bad percent-encoding in the value of %q", k)
		}
		h[k] = dec
	}
	return h, nil
}

// redactHeaders keeps the keys of a header list and hides the values, which
// often carry credentials.
func redactHeaders(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if k, _, ok := strings.Cut(p, "="); ok {
			parts[i] = k + "=<redacted>"
		}
	}
	return strings.Join(parts, ",")
}

// portWarnings flags an OTLP endpoint whose port belongs to the other protocol.
func (c *EffectiveConfig) portWarnings() []string {
	var out []string
	for _, s := range signals {
		o, ok := c.otlp[s]
		if !ok || o.endpoint == "" {
			continue
		}
		u, err := url.Parse(o.endpoint)
		if err != nil {
			continue
		}
		switch {
		case u.Port() == "4317" && o.protocol != ProtocolGRPC:
			out = append(out, fmt.Sprintf("%s endpoint %s uses port 4317, the OTLP/gRPC port, with protocol %s: set OTEL_EXPORTER_OTLP_PROTOCOL=grpc or use port 4318", s, o.endpoint, o.protocol))
		case u.Port() == "4318" && o.protocol == ProtocolGRPC:
			out = append(out, fmt.Sprintf("%s endpoint %s uses port 4318, the OTLP/HTTP port, with protocol grpc: set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf or use port 4317", s, o.endpoint))
		}
	}
	return out
}

var samplerNames = []string{"always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"}

func (r *resolver) sampler(cfg *config) samplerConfig {
	if cfg.sampler != nil {
		r.note("traces.sampler", cfg.sampler.Description(), "code")
		return samplerConfig{name: "custom"}
	}
	if cfg.samplingRatio != nil {
		ratio := *cfg.samplingRatio
		if ratio < 0 || ratio > 1 || ratio != ratio {
			r.fail("code WithSamplingRatio", strconv.FormatFloat(ratio, 'g', -1, 64), "a ratio from 0 to 1")
		}
		r.note("traces.sampler", fmt.Sprintf("parentbased_traceidratio(%g)", ratio), "code")
		return samplerConfig{name: "parentbased_traceidratio", arg: ratio}
	}
	name, src := r.raw(nil, []string{"OTEL_TRACES_SAMPLER"}, nil, "parentbased_always_on")
	if src == "default" {
		if rate, ok := r.env("OTEL_SAMPLING_RATE"); ok {
			ratio, err := strconv.ParseFloat(rate, 64)
			if err != nil || ratio < 0 || ratio > 1 {
				r.fail("env OTEL_SAMPLING_RATE", rate, "a ratio from 0 to 1, e.g. 0.25")
				return samplerConfig{name: "parentbased_always_on"}
			}
			r.note("traces.sampler", fmt.Sprintf("parentbased_traceidratio(%g)", ratio), "env OTEL_SAMPLING_RATE")
			return samplerConfig{name: "parentbased_traceidratio", arg: ratio}
		}
	} else if _, ok := r.env("OTEL_SAMPLING_RATE"); ok {
		r.warnings = append(r.warnings, "OTEL_SAMPLING_RATE is ignored: OTEL_TRACES_SAMPLER is set and takes precedence; remove one of them")
	}
	name = strings.ToLower(name)
	if !contains(samplerNames, name) {
		r.fail(src, name, "one of "+strings.Join(samplerNames, ", "))
		return samplerConfig{name: "parentbased_always_on"}
	}
	sc := samplerConfig{name: name, arg: 1}
	if strings.HasSuffix(name, "traceidratio") {
		if arg, ok := r.env("OTEL_TRACES_SAMPLER_ARG"); ok {
			ratio, err := strconv.ParseFloat(arg, 64)
			if err != nil || ratio < 0 || ratio > 1 {
				r.fail("env OTEL_TRACES_SAMPLER_ARG", arg, "a ratio from 0 to 1, e.g. 0.25")
				return sc
			}
			sc.arg = ratio
		}
		r.note("traces.sampler", fmt.Sprintf("%s(%g)", name, sc.arg), src)
		return sc
	}
	r.note("traces.sampler", name, src)
	return sc
}

var propagatorNames = []string{"tracecontext", "baggage", "b3", "b3multi", "jaeger", "none"}

func (r *resolver) propagators(cfg *config) []string {
	var code *string
	if cfg.propagators != nil {
		j := strings.Join(cfg.propagators, ",")
		code = &j
	}
	v, src := r.raw(code, []string{"OTEL_PROPAGATORS"}, nil, "tracecontext,baggage")
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" || contains(out, p) {
			continue
		}
		if !contains(propagatorNames, p) {
			r.fail(src, v, "a comma-separated list of "+strings.Join(propagatorNames, ", "))
			return []string{"tracecontext", "baggage"}
		}
		if p != "none" {
			out = append(out, p)
		}
	}
	r.note("propagators", strings.Join(orNone(out), ","), src)
	return out
}

func (r *resolver) batch(name string, code *BatchOptions, prefix string, delay, timeout time.Duration) batchConfig {
	var c BatchOptions
	if code != nil {
		c = *code
	}
	dur := func(d time.Duration) *time.Duration {
		if d == 0 {
			return nil
		}
		return &d
	}
	num := func(n int) *int {
		if n == 0 {
			return nil
		}
		return &n
	}
	var b batchConfig
	b.delay = r.millis(name+".schedule_delay", dur(c.Delay), []string{prefix + "SCHEDULE_DELAY"}, delay)
	b.timeout = r.millis(name+".export_timeout", dur(c.ExportTimeout), []string{prefix + "EXPORT_TIMEOUT"}, timeout)
	b.maxQueue = r.integer(name+".max_queue_size", num(c.MaxQueueSize), []string{prefix + "MAX_QUEUE_SIZE"}, 2048, 1)
	b.maxExport = r.integer(name+".max_export_batch_size", num(c.MaxExportBatchSize), []string{prefix + "MAX_EXPORT_BATCH_SIZE"}, 512, 1)
	return b
}

func (r *resolver) promAddr(cfg *config) string {
	if cfg.promAddr != nil {
		r.note("metrics.prometheus.listen", orDash(*cfg.promAddr), "code")
		return *cfg.promAddr
	}
	host, hostOK := r.env("OTEL_EXPORTER_PROMETHEUS_HOST")
	port, portOK := r.env("OTEL_EXPORTER_PROMETHEUS_PORT")
	if !hostOK && !portOK {
		r.note("metrics.prometheus.listen", "- (mount Telemetry.MetricsHandler)", "default")
		return ""
	}
	if !hostOK {
		host = "localhost"
	}
	if !portOK {
		port = "9464"
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		r.fail("env OTEL_EXPORTER_PROMETHEUS_PORT", port, "a port number from 1 to 65535")
		return ""
	}
	addr := host + ":" + port
	if strings.Contains(host, ":") {
		addr = "[" + host + "]:" + port
	}
	r.note("metrics.prometheus.listen", addr, "env OTEL_EXPORTER_PROMETHEUS_HOST/PORT")
	return addr
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
