package conf

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/internal/otlpconf"
)

// Resolve builds the effective configuration from code, the environment
// read through lookup (os.LookupEnv in production) and the defaults: code
// wins over the environment, a standard variable over its alias, and the
// kill switches OTEL_SDK_DISABLED=true and OTEL_ENABLED=false over code. It
// returns every invalid value at once, each once, as an *Error or a
// *MultiError; the Config is returned either way.
func Resolve(code Code, lookup func(string) (string, bool)) (*Config, error) {
	r := &resolver{lookup: lookup, code: code}
	c := &Config{Exporters: map[Signal][]string{}, OTLP: map[Signal]OTLP{}}

	r.killSwitches(c)
	r.resource(c)

	logSpans := r.boolean("traces.console (OTEL_LOG_SPANS)", nil, "", []string{"OTEL_LOG_SPANS"}, false)
	for _, s := range Signals {
		c.Exporters[s] = r.exporters(s)
	}
	if logSpans && !slices.Contains(c.Exporters[Traces], "console") {
		c.Exporters[Traces] = append(c.Exporters[Traces], "console")
	}
	for _, s := range Signals {
		if slices.Contains(c.Exporters[s], "otlp") {
			c.OTLP[s] = r.otlp(s)
		}
	}

	c.Sampler = r.sampler()
	c.Propagators = r.propagators()
	c.BSP = r.batch("traces.batch", code.BSP, "WithSpanBatching", "OTEL_BSP_", 5*time.Second)
	c.BLRP = r.batch("logs.batch", code.BLRP, "WithLogBatching", "OTEL_BLRP_", time.Second)
	c.MetricInterval = r.millis("metrics.export_interval", code.MetricInterval, "WithMetricInterval", []string{"OTEL_METRIC_EXPORT_INTERVAL"}, 60*time.Second)
	c.MetricTimeout = r.millis("metrics.export_timeout", 0, "", []string{"OTEL_METRIC_EXPORT_TIMEOUT"}, 30*time.Second)
	c.ExemplarFilter = r.choice("metrics.exemplar_filter", "", "", []string{"OTEL_METRICS_EXEMPLAR_FILTER"}, nil, "trace_based", "trace_based", "always_on", "always_off")
	c.Temporality = r.choice("metrics.temporality", "", "", []string{"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"}, nil, "cumulative", "cumulative", "delta", "lowmemory")
	c.HistogramAggregation = r.choice("metrics.histogram_aggregation", "", "", []string{"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"}, nil, "explicit_bucket_histogram", "explicit_bucket_histogram", "base2_exponential_bucket_histogram")
	c.Cardinality = r.integer("metrics.cardinality_limit", code.Cardinality, "WithCardinalityLimit", []string{"LOUPE_METRICS_CARDINALITY_LIMIT"}, 2000, 0)
	c.RuntimeMetrics = r.boolean("metrics.runtime", code.RuntimeMetrics, "WithRuntimeMetrics", []string{"LOUPE_RUNTIME_METRICS"}, true)
	if slices.Contains(c.Exporters[Metrics], "prometheus") {
		c.PromAddr = r.promAddr()
	}
	c.SpanLimits, c.LogAttrCount, c.LogAttrLength = r.limits()

	levelText, src := r.raw(code.LogLevel, "WithLogLevel", []string{"LOUPE_LOG_LEVEL"}, nil, "info")
	if err := c.LogLevel.UnmarshalText([]byte(levelText)); err != nil {
		r.fail(src, levelText, "debug, info, warn or error (optionally with an offset, e.g. debug-4)")
	}
	r.note("logs.level", c.LogLevel.String(), src)
	c.LogFormat = r.choice("logs.format", code.LogFormat, "WithLogFormat", []string{"LOUPE_LOG_FORMAT"}, nil, "json", "json", "text")

	r.portWarnings(c)
	if c.Disabled {
		r.showDisabled(c)
	}
	c.Settings, c.Warnings = r.settings, r.warnings
	switch len(r.errs) {
	case 0:
		return c, nil
	case 1:
		return c, r.errs[0]
	}
	return c, &MultiError{Errors: r.errs}
}

// resolver reads each setting once, recording where it came from.
type resolver struct {
	lookup   func(string) (string, bool)
	code     Code
	settings []Setting
	warnings []string
	errs     []error
}

func (r *resolver) env(name string) (string, bool) {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// fail records an invalid value once: a general variable read for each
// signal is one problem, not three.
func (r *resolver) fail(source, value, want string) {
	e := &Error{Source: source, Value: value, Want: want}
	for _, old := range r.errs {
		if old.Error() == e.Error() {
			return
		}
	}
	r.errs = append(r.errs, e)
}

func (r *resolver) warn(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	if !slices.Contains(r.warnings, w) {
		r.warnings = append(r.warnings, w)
	}
}

func (r *resolver) note(name, value, source string) {
	r.settings = append(r.settings, Setting{Name: name, Value: value, Source: source})
}

// firstSet returns the first of the variables that is set, and its value.
func (r *resolver) firstSet(names []string) (string, string) {
	for _, n := range names {
		if v, ok := r.env(n); ok {
			return n, v
		}
	}
	return "", ""
}

// raw resolves one setting: the code value if not empty, else the first
// standard variable set, else the first alias set (warning when a standard
// variable shadows an alias), else def. It returns the text and its source,
// which names the option or the variable.
func (r *resolver) raw(code, option string, standard, aliases []string, def string) (string, string) {
	stdName, stdVal := r.firstSet(standard)
	aliasName, aliasVal := r.firstSet(aliases)
	switch {
	case code != "":
		return code, "code " + option
	case stdName != "":
		if aliasName != "" {
			r.warn("%s is ignored: %s is set and takes precedence; remove one of them", aliasName, stdName)
		}
		return stdVal, "env " + stdName
	case aliasName != "":
		return aliasVal, "env " + aliasName
	}
	return def, "default"
}

// parseBool reads a boolean as the specification does: true or false,
// case-insensitive, and nothing else (other SDKs read "1" as false).
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

const wantBool = "true or false (case-insensitive; the OpenTelemetry specification accepts nothing else, and other SDKs read 1, yes or on as false)"

func (r *resolver) boolean(name string, code *bool, option string, standard []string, def bool) bool {
	if code != nil {
		r.note(name, strconv.FormatBool(*code), "code "+option)
		return *code
	}
	v, src := r.raw("", option, standard, nil, strconv.FormatBool(def))
	b, ok := parseBool(v)
	if !ok {
		r.fail(src, v, wantBool)
		return def
	}
	r.note(name, strconv.FormatBool(b), src)
	return b
}

// millis parses a duration given in milliseconds, as the specification does
// for every *_TIMEOUT, *_DELAY and *_INTERVAL variable; code gives a
// time.Duration, zero meaning not set.
func (r *resolver) millis(name string, code time.Duration, option string, standard []string, def time.Duration) time.Duration {
	if code != 0 {
		r.note(name, code.String(), "code "+option)
		if code < 0 {
			r.fail("code "+option, code.String(), "a positive duration")
			return def
		}
		return code
	}
	v, src := r.raw("", option, standard, nil, strconv.FormatInt(def.Milliseconds(), 10))
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		r.fail(src, v, "a positive whole number of milliseconds")
		return def
	}
	d := time.Duration(n) * time.Millisecond
	r.note(name, d.String(), src)
	return d
}

func (r *resolver) integer(name string, code *int, option string, standard []string, def, least int) int {
	cs := ""
	if code != nil {
		cs = strconv.Itoa(*code)
	}
	v, src := r.raw(cs, option, standard, nil, strconv.Itoa(def))
	n, err := strconv.Atoi(v)
	if err != nil || n < least {
		r.fail(src, v, fmt.Sprintf("a whole number ≥ %d", least))
		return def
	}
	r.note(name, strconv.Itoa(n), src)
	return n
}

func (r *resolver) choice(name, code, option string, standard, aliases []string, def string, accepted ...string) string {
	v, src := r.raw(code, option, standard, aliases, def)
	v = strings.ToLower(v)
	if !slices.Contains(accepted, v) {
		r.fail(src, v, "one of "+strings.Join(accepted, ", "))
		return def
	}
	r.note(name, v, src)
	return v
}

// killSwitches resolves OTEL_SDK_DISABLED, its alias OTEL_ENABLED and
// WithDisabled; either variable disables whatever code says.
func (r *resolver) killSwitches(c *Config) {
	src := "default"
	if r.code.Disabled != nil && *r.code.Disabled {
		c.Disabled, src, c.DisabledBy = true, "code WithDisabled", "WithDisabled(true)"
	}
	for _, v := range []struct {
		name     string
		disables bool // the value that disables
	}{{"OTEL_SDK_DISABLED", true}, {"OTEL_ENABLED", false}} {
		text, ok := r.env(v.name)
		if !ok {
			continue
		}
		b, valid := parseBool(text)
		switch {
		case !valid:
			r.fail("env "+v.name, text, wantBool)
		case b == v.disables && !c.Disabled:
			c.Disabled, src, c.DisabledBy = true, "env "+v.name, v.name+"="+text
		}
	}
	r.note("disabled", strconv.FormatBool(c.Disabled), src)
}

// showDisabled leaves in the settings only what still applies when
// telemetry is off, and shows every signal's exporter as none.
func (r *resolver) showDisabled(c *Config) {
	keep := r.settings[:0]
	for _, s := range r.settings {
		if s.Name == "disabled" || strings.HasPrefix(s.Name, "service.") || strings.HasPrefix(s.Name, "logs.level") || strings.HasPrefix(s.Name, "logs.format") {
			keep = append(keep, s)
		}
	}
	r.settings = keep
	for _, s := range Signals {
		r.note(string(s)+".exporter", "none", "disabled by "+c.DisabledBy)
	}
	c.Exporters = map[Signal][]string{}
	c.OTLP = map[Signal]OTLP{}
	c.PromAddr = ""
}

func (r *resolver) resource(c *Config) {
	c.ResourceAttrs = r.resourceAttributes()
	var src string
	c.ServiceName, src = r.raw(r.code.ServiceName, "WithServiceName", []string{"OTEL_SERVICE_NAME"}, nil, "")
	if c.ServiceName == "" {
		if v, ok := c.ResourceAttrs["service.name"]; ok {
			c.ServiceName, src = v, "env OTEL_RESOURCE_ATTRIBUTES"
		} else {
			c.ServiceName, src = "unknown_service:"+filepath.Base(os.Args[0]), "default"
		}
	}
	r.note("service.name", c.ServiceName, src)

	fromAttrs := func(value, src, key string) (string, string) {
		if src == "default" {
			if v, ok := c.ResourceAttrs[key]; ok {
				return v, "env OTEL_RESOURCE_ATTRIBUTES"
			}
		}
		return value, src
	}
	c.ServiceVersion, src = r.raw(r.code.ServiceVersion, "WithServiceVersion", nil, nil, "")
	c.ServiceVersion, src = fromAttrs(c.ServiceVersion, src, "service.version")
	r.note("service.version", c.ServiceVersion, src)

	c.ServiceInstanceID, src = r.raw(r.code.ServiceInstanceID, "WithServiceInstanceID", nil, nil, "")
	c.ServiceInstanceID, src = fromAttrs(c.ServiceInstanceID, src, "service.instance.id")
	if c.ServiceInstanceID == "" {
		c.ServiceInstanceID, src = processInstanceID(), "generated (a UUID per process)"
	}
	r.note("service.instance.id", c.ServiceInstanceID, src)

	c.Environment, src = r.raw(r.code.Environment, "WithEnvironment", nil, []string{"OTEL_ENVIRONMENT"}, "")
	c.Environment, src = fromAttrs(c.Environment, src, "deployment.environment.name")
	r.note("deployment.environment.name", c.Environment, src)
}

func (r *resolver) resourceAttributes() map[string]string {
	v, ok := r.env("OTEL_RESOURCE_ATTRIBUTES")
	if !ok {
		return map[string]string{}
	}
	attrs, err := otlpconf.ParsePairs(v)
	if err != nil {
		r.fail("env OTEL_RESOURCE_ATTRIBUTES", v, "comma-separated key=value pairs with percent-encoded values, e.g. team=payments,region=eu ("+err.Error()+")")
		return map[string]string{}
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

func (r *resolver) exporters(s Signal) []string {
	std := "OTEL_" + strings.ToUpper(string(s)) + "_EXPORTER"
	code := strings.Join(r.code.Exporters[s], ",")
	def, defSrc := "otlp", "default"
	if fb := r.code.FallbackExporter; fb != "" && !r.endpointSet(s) {
		def, defSrc = fb, "code WithDefaultExporter"
	}
	v, src := r.raw(code, "WithExporters", []string{std}, nil, def)
	if src == "default" {
		src = defSrc
	}
	want := "a comma-separated list of " + strings.Join(exporterNames[s], ", ")
	var out []string
	for _, name := range strings.Split(v, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" || slices.Contains(out, name) {
			continue
		}
		if !slices.Contains(exporterNames[s], name) {
			r.fail(src, v, want)
			return nil
		}
		out = append(out, name)
	}
	switch {
	case len(out) == 0:
		r.fail(src, v, want)
		return nil
	case len(out) > 1 && slices.Contains(out, "none"):
		r.fail(src, v, `"none" alone, or a list of exporters without "none"`)
		return nil
	case out[0] == "none":
		out = nil
	}
	r.note(string(s)+".exporter", strings.Join(orNone(out), ","), src)
	return out
}

// endpointSet reports whether the environment names an OTLP endpoint for the
// signal: a clear wish to export over OTLP, which a code fallback exporter
// must not override.
func (r *resolver) endpointSet(s Signal) bool {
	name, _ := r.firstSet(endpointVariables(s))
	return name != ""
}

func endpointVariables(s Signal) []string {
	names := []string{"OTEL_EXPORTER_OTLP_" + strings.ToUpper(string(s)) + "_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_ENDPOINT"}
	if s == Traces {
		names = append(names, "OTEL_EXPORTER_JAEGER_ENDPOINT")
	}
	return names
}

func orNone(list []string) []string {
	if len(list) == 0 {
		return []string{"none"}
	}
	return list
}

var samplerNames = []string{"always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"}

func (r *resolver) sampler() Sampler {
	if r.code.Sampler != "" {
		r.note("traces.sampler", r.code.Sampler, "code WithSampler")
		return Sampler{Name: "custom"}
	}
	if ratio := r.code.SamplingRatio; ratio != nil {
		if *ratio < 0 || *ratio > 1 || *ratio != *ratio {
			r.fail("code WithSamplingRatio", strconv.FormatFloat(*ratio, 'g', -1, 64), "a ratio from 0 to 1")
		}
		r.note("traces.sampler", fmt.Sprintf("parentbased_traceidratio(%g)", *ratio), "code WithSamplingRatio")
		return Sampler{Name: "parentbased_traceidratio", Arg: *ratio}
	}
	name, src := r.raw("", "", []string{"OTEL_TRACES_SAMPLER"}, nil, "parentbased_always_on")
	if src == "default" {
		if rate, ok := r.env("OTEL_SAMPLING_RATE"); ok {
			ratio, ok := parseRatio(rate)
			if !ok {
				r.fail("env OTEL_SAMPLING_RATE", rate, "a ratio from 0 to 1, e.g. 0.25")
				return Sampler{Name: "parentbased_always_on", Arg: 1}
			}
			r.note("traces.sampler", fmt.Sprintf("parentbased_traceidratio(%g)", ratio), "env OTEL_SAMPLING_RATE")
			return Sampler{Name: "parentbased_traceidratio", Arg: ratio}
		}
	} else if _, ok := r.env("OTEL_SAMPLING_RATE"); ok {
		r.warn("OTEL_SAMPLING_RATE is ignored: OTEL_TRACES_SAMPLER is set and takes precedence; remove one of them")
	}
	name = strings.ToLower(name)
	if !slices.Contains(samplerNames, name) {
		r.fail(src, name, "one of "+strings.Join(samplerNames, ", "))
		return Sampler{Name: "parentbased_always_on", Arg: 1}
	}
	sc := Sampler{Name: name, Arg: 1}
	if !strings.HasSuffix(name, "traceidratio") {
		r.note("traces.sampler", name, src)
		return sc
	}
	if arg, ok := r.env("OTEL_TRACES_SAMPLER_ARG"); ok {
		ratio, ok := parseRatio(arg)
		if !ok {
			r.fail("env OTEL_TRACES_SAMPLER_ARG", arg, "a ratio from 0 to 1, e.g. 0.25")
			return sc
		}
		sc.Arg = ratio
	}
	r.note("traces.sampler", fmt.Sprintf("%s(%g)", name, sc.Arg), src)
	return sc
}

func parseRatio(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && f >= 0 && f <= 1
}

var propagatorNames = []string{"tracecontext", "baggage", "b3", "b3multi", "jaeger", "none"}

func (r *resolver) propagators() []string {
	v, src := r.raw(strings.Join(r.code.Propagators, ","), "WithPropagators", []string{"OTEL_PROPAGATORS"}, nil, "tracecontext,baggage")
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" || slices.Contains(out, p) {
			continue
		}
		if !slices.Contains(propagatorNames, p) {
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

func (r *resolver) batch(name string, code Batch, option, prefix string, delay time.Duration) Batch {
	num := func(n int) *int {
		if n == 0 {
			return nil
		}
		return &n
	}
	b := Batch{
		Delay:              r.millis(name+".schedule_delay", code.Delay, option, []string{prefix + "SCHEDULE_DELAY"}, delay),
		ExportTimeout:      r.millis(name+".export_timeout", code.ExportTimeout, option, []string{prefix + "EXPORT_TIMEOUT"}, 30*time.Second),
		MaxQueueSize:       r.integer(name+".max_queue_size", num(code.MaxQueueSize), option, []string{prefix + "MAX_QUEUE_SIZE"}, 2048, 1),
		MaxExportBatchSize: r.integer(name+".max_export_batch_size", num(code.MaxExportBatchSize), option, []string{prefix + "MAX_EXPORT_BATCH_SIZE"}, 512, 1),
	}
	if b.MaxExportBatchSize > b.MaxQueueSize {
		s, _ := r.Lookup(name + ".max_export_batch_size")
		r.fail(s.Source, strconv.Itoa(b.MaxExportBatchSize), fmt.Sprintf("at most %sMAX_QUEUE_SIZE (%d)", prefix, b.MaxQueueSize))
	}
	return b
}

// Lookup returns the setting recorded so far under that name.
func (r *resolver) Lookup(name string) (Setting, bool) {
	return (&Config{Settings: r.settings}).Lookup(name)
}

func (r *resolver) promAddr() string {
	if r.code.PromAddr != "" {
		r.note("metrics.prometheus.listen", r.code.PromAddr, "code WithPrometheusListener")
		return r.code.PromAddr
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

// limits reads the attribute, event and link limits of the SDK environment
// specification; -1 means no limit. Signal-specific variables win over the
// general ones.
func (r *resolver) limits() (SpanLimits, int, int) {
	limit := func(name string, def int, vars ...string) int {
		return r.integer("limits."+name, nil, "", vars, def, -1)
	}
	spans := SpanLimits{
		AttributeValueLength: limit("span.attribute_value_length", -1, "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"),
		AttributeCount:       limit("span.attribute_count", 128, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT"),
		EventCount:           limit("span.event_count", 128, "OTEL_SPAN_EVENT_COUNT_LIMIT"),
		LinkCount:            limit("span.link_count", 128, "OTEL_SPAN_LINK_COUNT_LIMIT"),
		AttributesPerEvent:   limit("span.event_attribute_count", 128, "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT"),
		AttributesPerLink:    limit("span.link_attribute_count", 128, "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT"),
	}
	logCount := limit("log.attribute_count", 128, "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT")
	logLength := limit("log.attribute_value_length", -1, "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT")
	return spans, logCount, logLength
}
