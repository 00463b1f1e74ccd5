package telemetry

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func envOf(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func resolveWith(t *testing.T, env []string, opts ...Option) (*EffectiveConfig, error) {
	t.Helper()
	return resolve(newConfig(append([]Option{WithEnvLookup(envOf(env...))}, opts...)))
}

func mustResolve(t *testing.T, env []string, opts ...Option) *EffectiveConfig {
	t.Helper()
	ec, err := resolveWith(t, env, opts...)
	if err != nil {
		t.Fatalf("resolve: %v", err)
	}
	return ec
}

func setting(t *testing.T, ec *EffectiveConfig, name string) Setting {
	t.Helper()
	s, ok := ec.Lookup(name)
	if !ok {
		t.Fatalf("no setting %q in\n%s", name, ec)
	}
	return s
}

func TestConfigMatrix(t *testing.T) {
	tests := []struct {
		name       string
		env        []string
		opts       []Option
		setting    string
		wantValue  string
		wantSource string
	}{
		{"default exporter", nil, nil, "traces.exporter", "otlp", "default"},
		{"env exporter", []string{"OTEL_TRACES_EXPORTER", "console"}, nil, "traces.exporter", "console", "env OTEL_TRACES_EXPORTER"},
		{"code exporter", nil, []Option{WithExporters(Traces, "console")}, "traces.exporter", "console", "code WithExporters"},
		{"code beats env", []string{"OTEL_TRACES_EXPORTER", "otlp"}, []Option{WithExporters(Traces, "none")}, "traces.exporter", "none", "code WithExporters"},
		{"comma list", []string{"OTEL_METRICS_EXPORTER", "otlp, prometheus"}, nil, "metrics.exporter", "otlp,prometheus", "env OTEL_METRICS_EXPORTER"},
		{"fallback exporter", nil, []Option{WithDefaultExporter("console")}, "logs.exporter", "console", "code WithDefaultExporter"},
		{"endpoint beats fallback", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}, []Option{WithDefaultExporter("console")}, "metrics.exporter", "otlp", "default"},
		{"signal endpoint beats fallback", []string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://collector:4318/v1/logs"}, []Option{WithDefaultExporter("console")}, "logs.exporter", "otlp", "default"},
		{"other signal's endpoint keeps fallback", []string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://collector:4318/v1/logs"}, []Option{WithDefaultExporter("console")}, "traces.exporter", "console", "code WithDefaultExporter"},
		{"env beats fallback", []string{"OTEL_LOGS_EXPORTER", "otlp"}, []Option{WithDefaultExporter("console")}, "logs.exporter", "otlp", "env OTEL_LOGS_EXPORTER"},
		{"OTEL_LOG_SPANS adds console", []string{"OTEL_LOG_SPANS", "true"}, nil, "traces.exporter", "otlp", "default"},
		{"service name env", []string{"OTEL_SERVICE_NAME", "checkout"}, nil, "service.name", "checkout", "env OTEL_SERVICE_NAME"},
		{"service name code", []string{"OTEL_SERVICE_NAME", "checkout"}, []Option{WithServiceName("cart")}, "service.name", "cart", "code WithServiceName"},
		{"service name from resource attributes", []string{"OTEL_RESOURCE_ATTRIBUTES", "service.name=billing,team=a"}, nil, "service.name", "billing", "env OTEL_RESOURCE_ATTRIBUTES"},
		{"environment alias", []string{"OTEL_ENVIRONMENT", "staging"}, nil, "deployment.environment.name", "staging", "env OTEL_ENVIRONMENT"},
		{"environment code", []string{"OTEL_ENVIRONMENT", "staging"}, []Option{WithEnvironment("prod")}, "deployment.environment.name", "prod", "code WithEnvironment"},
		{"default protocol", nil, nil, "otlp.traces.protocol", "http/protobuf", "default"},
		{"default http endpoint", nil, nil, "otlp.traces.endpoint", "http://localhost:4318/v1/traces", "default"},
		{"grpc default endpoint", []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, nil, "otlp.logs.endpoint", "http://localhost:4317", "default"},
		{"general endpoint gets signal path", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}, nil, "otlp.metrics.endpoint", "http://collector:4318/v1/metrics", "env OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"per-signal endpoint as is", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4318/custom"}, nil, "otlp.traces.endpoint", "http://b:4318/custom", "env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"per-signal protocol", []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf"}, nil, "otlp.logs.protocol", "http/protobuf", "env OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"},
		{"endpoint alias", []string{"OTEL_EXPORTER_ENDPOINT", "http://old:4318"}, nil, "otlp.traces.endpoint", "http://old:4318/v1/traces", "env OTEL_EXPORTER_ENDPOINT"},
		{"standard beats alias", []string{"OTEL_EXPORTER_ENDPOINT", "http://old:4318", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://new:4318"}, nil, "otlp.traces.endpoint", "http://new:4318/v1/traces", "env OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"code endpoint", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318"}, []Option{WithOTLPEndpoint("https://code:4318")}, "otlp.traces.endpoint", "https://code:4318/v1/traces", "code WithOTLPEndpoint"},
		{"jaeger endpoint mapped", []string{"OTEL_EXPORTER_JAEGER_ENDPOINT", "jaeger-agent:6831", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, nil, "otlp.traces.endpoint", "http://jaeger-agent:4317", "env OTEL_EXPORTER_JAEGER_ENDPOINT"},
		{"jaeger agent port becomes 4317", []string{"OTEL_EXPORTER_JAEGER_ENDPOINT", "jaeger-agent:6831"}, nil, "otlp.traces.endpoint", "http://jaeger-agent:4317", "env OTEL_EXPORTER_JAEGER_ENDPOINT"},
		{"jaeger alias switches protocol to grpc", []string{"OTEL_EXPORTER_JAEGER_ENDPOINT", "jaeger-agent:6831"}, nil, "otlp.traces.protocol", "grpc", "env OTEL_EXPORTER_JAEGER_ENDPOINT"},
		{"jaeger alias keeps a chosen http protocol", []string{"OTEL_EXPORTER_JAEGER_ENDPOINT", "http://jaeger:14268/api/traces", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"}, nil, "otlp.traces.endpoint", "http://jaeger:4318/v1/traces", "env OTEL_EXPORTER_JAEGER_ENDPOINT"},
		{"default sampler", nil, nil, "traces.sampler", "parentbased_always_on", "default"},
		{"env sampler with arg", []string{"OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "0.5"}, nil, "traces.sampler", "traceidratio(0.5)", "env OTEL_TRACES_SAMPLER"},
		{"sampling rate alias", []string{"OTEL_SAMPLING_RATE", "0.25"}, nil, "traces.sampler", "parentbased_traceidratio(0.25)", "env OTEL_SAMPLING_RATE"},
		{"sampler beats sampling rate", []string{"OTEL_SAMPLING_RATE", "0.25", "OTEL_TRACES_SAMPLER", "always_off"}, nil, "traces.sampler", "always_off", "env OTEL_TRACES_SAMPLER"},
		{"code ratio", []string{"OTEL_TRACES_SAMPLER", "always_off"}, []Option{WithSamplingRatio(0.1)}, "traces.sampler", "parentbased_traceidratio(0.1)", "code WithSamplingRatio"},
		{"propagators env", []string{"OTEL_PROPAGATORS", "b3,jaeger"}, nil, "propagators", "b3,jaeger", "env OTEL_PROPAGATORS"},
		{"bsp queue env", []string{"OTEL_BSP_MAX_QUEUE_SIZE", "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"}, nil, "traces.batch.max_queue_size", "100", "env OTEL_BSP_MAX_QUEUE_SIZE"},
		{"bsp code", nil, []Option{WithSpanBatching(BatchOptions{Delay: 250 * time.Millisecond})}, "traces.batch.schedule_delay", "250ms", "code WithSpanBatching"},
		{"metric interval env", []string{"OTEL_METRIC_EXPORT_INTERVAL", "1500"}, nil, "metrics.export_interval", "1.5s", "env OTEL_METRIC_EXPORT_INTERVAL"},
		{"timeout env", []string{"OTEL_EXPORTER_OTLP_TIMEOUT", "2000"}, nil, "otlp.traces.timeout", "2s", "env OTEL_EXPORTER_OTLP_TIMEOUT"},
		{"headers redacted", []string{"OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20secret,x-team=a"}, nil, "otlp.traces.headers", "authorization=<redacted>,x-team=<redacted>", "env OTEL_EXPORTER_OTLP_HEADERS"},
		{"log level env", []string{"LOUPE_LOG_LEVEL", "debug"}, nil, "logs.level", "DEBUG", "env LOUPE_LOG_LEVEL"},
		{"disabled code", nil, []Option{WithDisabled(true)}, "disabled", "true", "code WithDisabled"},
		{"kill switch beats code", []string{"OTEL_SDK_DISABLED", "true"}, []Option{WithDisabled(false)}, "disabled", "true", "env OTEL_SDK_DISABLED"},
		{"OTEL_ENABLED=false beats code", []string{"OTEL_ENABLED", "false"}, []Option{WithDisabled(false)}, "disabled", "true", "env OTEL_ENABLED"},
		{"OTEL_SDK_DISABLED=false keeps code", []string{"OTEL_SDK_DISABLED", "false"}, []Option{WithDisabled(true)}, "disabled", "true", "code WithDisabled"},
		{"span attribute limit falls back to general", []string{"OTEL_ATTRIBUTE_COUNT_LIMIT", "10"}, nil, "limits.span.attribute_count", "10", "env OTEL_ATTRIBUTE_COUNT_LIMIT"},
		{"span attribute limit specific wins", []string{"OTEL_ATTRIBUTE_COUNT_LIMIT", "10", "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "5"}, nil, "limits.span.attribute_count", "5", "env OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"},
		{"log value length", []string{"OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64"}, nil, "limits.log.attribute_value_length", "64", "env OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT"},
		{"prometheus listener env", []string{"OTEL_METRICS_EXPORTER", "prometheus", "OTEL_EXPORTER_PROMETHEUS_PORT", "9999"}, nil, "metrics.prometheus.listen", "localhost:9999", "env OTEL_EXPORTER_PROMETHEUS_HOST/PORT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ec := mustResolve(t, tc.env, tc.opts...)
			s := setting(t, ec, tc.setting)
			if s.Value != tc.wantValue || s.Source != tc.wantSource {
				t.Errorf("%s = %q from %q, want %q from %q\n%s", tc.setting, s.Value, s.Source, tc.wantValue, tc.wantSource, ec)
			}
		})
	}
}

func TestLogSpansAddsConsole(t *testing.T) {
	ec := mustResolve(t, []string{"OTEL_LOG_SPANS", "true", "OTEL_TRACES_EXPORTER", "none"})
	if got := ec.Exporters(Traces); len(got) != 1 || got[0] != "console" {
		t.Fatalf("traces exporters = %q, want [console]", got)
	}
}

func TestConfigWarnings(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"alias shadowed", []string{"OTEL_EXPORTER_ENDPOINT", "http://a:4318", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://b:4318"}, "OTEL_EXPORTER_ENDPOINT is ignored: OTEL_EXPORTER_OTLP_ENDPOINT is set"},
		{"sampling rate shadowed", []string{"OTEL_SAMPLING_RATE", "0.5", "OTEL_TRACES_SAMPLER", "always_on"}, "OTEL_SAMPLING_RATE is ignored"},
		{"grpc port with http", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317"}, "uses port 4317, the OTLP/gRPC port, with protocol http/protobuf: set OTEL_EXPORTER_OTLP_PROTOCOL=grpc or use port 4318"},
		{"http port with grpc", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, "uses port 4318, the OTLP/HTTP port, with protocol grpc"},
		{"jaeger deprecated", []string{"OTEL_EXPORTER_JAEGER_ENDPOINT", "jaeger:6831"}, "OTEL_EXPORTER_JAEGER_ENDPOINT is deprecated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ec := mustResolve(t, tc.env)
			if !strings.Contains(strings.Join(ec.Warnings, "\n"), tc.want) {
				t.Errorf("warnings %q do not mention %q", ec.Warnings, tc.want)
			}
		})
	}
}

func TestConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		opts []Option
		want string // the whole message must name variable, value and what is accepted
	}{
		{"unknown sampler", []string{"OTEL_TRACES_SAMPLER", "sometimes"}, nil, `OTEL_TRACES_SAMPLER="sometimes": want one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio`},
		{"ratio above one", []string{"OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "1.5"}, nil, `OTEL_TRACES_SAMPLER_ARG="1.5": want a ratio from 0 to 1`},
		{"sampling rate negative", []string{"OTEL_SAMPLING_RATE", "-0.1"}, nil, `OTEL_SAMPLING_RATE="-0.1": want a ratio from 0 to 1`},
		{"code ratio", nil, []Option{WithSamplingRatio(2)}, `code WithSamplingRatio="2": want a ratio from 0 to 1`},
		{"unknown exporter", []string{"OTEL_TRACES_EXPORTER", "zipkin"}, nil, `OTEL_TRACES_EXPORTER="zipkin": want a comma-separated list of otlp, console, none`},
		{"prometheus for traces", []string{"OTEL_TRACES_EXPORTER", "prometheus"}, nil, `OTEL_TRACES_EXPORTER="prometheus": want a comma-separated list of otlp, console, none`},
		{"none with others", []string{"OTEL_LOGS_EXPORTER", "none,otlp"}, nil, `OTEL_LOGS_EXPORTER="none,otlp": want "none" alone`},
		{"endpoint without scheme for http", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"}, nil, `OTEL_EXPORTER_OTLP_ENDPOINT="localhost:4318": want a URL with a scheme for http/protobuf: write http://localhost:4318 (plaintext) or https://localhost:4318 (TLS)`},
		{"code endpoint without scheme", nil, []Option{WithOTLPEndpoint("collector:4318")}, `code WithOTLPEndpoint="collector:4318": want a URL with a scheme`},
		{"endpoint bad port", []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:99999"}, nil, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://collector:99999": want a URL`},
		{"endpoint bad scheme", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4317"}, nil, `scheme "ftp" is neither http nor https`},
		// A member without "=" may be a token pasted alone: hidden like a value.
		{"malformed headers", []string{"OTEL_EXPORTER_OTLP_HEADERS", "x-team=a,Bearer%20s3cret"}, nil, `OTEL_EXPORTER_OTLP_HEADERS="x-team=<redacted>,<redacted>": want comma-separated key=value pairs with percent-encoded values (member 2 is not key=value)`},
		{"unknown protocol", []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"}, nil, `OTEL_EXPORTER_OTLP_PROTOCOL="thrift": want one of grpc, http/protobuf, http/json`},
		{"json for metrics", []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}, nil, `OTEL_EXPORTER_OTLP_PROTOCOL="http/json": want grpc or http/protobuf: the OpenTelemetry Go SDK sends http/json for traces only`},
		{"bad propagator", []string{"OTEL_PROPAGATORS", "tracecontext,xray"}, nil, `OTEL_PROPAGATORS="tracecontext,xray": want a comma-separated list of tracecontext, baggage, b3, b3multi, jaeger, none`},
		{"bad kill switch", []string{"OTEL_SDK_DISABLED", "maybe"}, nil, `OTEL_SDK_DISABLED="maybe": want true or false`},
		{"bad enabled", []string{"OTEL_ENABLED", "nah"}, nil, `OTEL_ENABLED="nah": want true or false`},
		{"bad timeout", []string{"OTEL_EXPORTER_OTLP_TIMEOUT", "10s"}, nil, `OTEL_EXPORTER_OTLP_TIMEOUT="10s": want a positive whole number of milliseconds`},
		{"bad queue", []string{"OTEL_BSP_MAX_QUEUE_SIZE", "0"}, nil, `OTEL_BSP_MAX_QUEUE_SIZE="0": want a whole number ≥ 1`},
		{"batch above queue", []string{"OTEL_BSP_MAX_QUEUE_SIZE", "10", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "20"}, nil, `OTEL_BSP_MAX_EXPORT_BATCH_SIZE="20": want at most OTEL_BSP_MAX_QUEUE_SIZE (10)`},
		{"bad exemplar filter", []string{"OTEL_METRICS_EXEMPLAR_FILTER", "some"}, nil, `OTEL_METRICS_EXEMPLAR_FILTER="some": want one of trace_based, always_on, always_off`},
		{"bad log level", []string{"LOUPE_LOG_LEVEL", "loud"}, nil, `LOUPE_LOG_LEVEL="loud": want debug, info, warn or error`},
		{"bad limit", []string{"OTEL_SPAN_EVENT_COUNT_LIMIT", "many"}, nil, `OTEL_SPAN_EVENT_COUNT_LIMIT="many": want a whole number ≥ -1`},
		{"bad resource attributes", []string{"OTEL_RESOURCE_ATTRIBUTES", "team"}, nil, `OTEL_RESOURCE_ATTRIBUTES="team": want comma-separated key=value pairs`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := resolveWith(t, tc.env, tc.opts...)
			if err == nil {
				t.Fatalf("resolve succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n  %v\nwant it to contain:\n  %s", err, tc.want)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *ConfigError", err)
			}
		})
	}
}

func TestConfigAllErrorsAtOnce(t *testing.T) {
	_, err := resolveWith(t, []string{"OTEL_TRACES_SAMPLER", "x", "OTEL_PROPAGATORS", "y"})
	var me *MultiConfigError
	if !errors.As(err, &me) || len(me.Errors) != 2 {
		t.Fatalf("err = %v, want a MultiConfigError with both problems", err)
	}
}

func TestHeadersNeverPrinted(t *testing.T) {
	_, err := resolveWith(t, []string{"OTEL_EXPORTER_OTLP_HEADERS", "api-key=hunter2,broken"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v: want an error that does not show the header value", err)
	}
	ec := mustResolve(t, []string{"OTEL_EXPORTER_OTLP_HEADERS", "api-key=hunter2"})
	if strings.Contains(ec.String(), "hunter2") {
		t.Fatalf("effective config shows a header value:\n%s", ec)
	}
	if got := ec.c.OTLP[Traces].Headers["api-key"]; got != "hunter2" {
		t.Fatalf("header value = %q, want it passed to the exporter", got)
	}
}

func TestEmptyCodeValuesAreNotSet(t *testing.T) {
	ec := mustResolve(t, []string{
		"OTEL_SERVICE_NAME", "checkout",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318",
		"OTEL_ENVIRONMENT", "staging",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
		"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip",
		"OTEL_PROPAGATORS", "b3",
	},
		WithServiceName(""), WithOTLPEndpoint(""), WithEnvironment(""), WithServiceVersion(""),
		WithOTLPProtocol(""), WithOTLPCompression(""), WithOTLPTimeout(0), WithPropagators(),
		WithExporters(Traces), WithServiceInstanceID(""),
	)
	for name, want := range map[string]string{
		"service.name":                "checkout from env OTEL_SERVICE_NAME",
		"otlp.traces.endpoint":        "http://collector:4318/v1/traces from env OTEL_EXPORTER_OTLP_ENDPOINT",
		"deployment.environment.name": "staging from env OTEL_ENVIRONMENT",
		"otlp.logs.protocol":          "http/protobuf from env OTEL_EXPORTER_OTLP_PROTOCOL",
		"otlp.logs.compression":       "gzip from env OTEL_EXPORTER_OTLP_COMPRESSION",
		"otlp.logs.timeout":           "10s from default",
		"propagators":                 "b3 from env OTEL_PROPAGATORS",
		"traces.exporter":             "otlp from default",
	} {
		s := setting(t, ec, name)
		if got := s.Value + " from " + s.Source; got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if s := setting(t, ec, "service.instance.id"); s.Source == "code WithServiceInstanceID" {
		t.Errorf("an empty WithServiceInstanceID was taken as set")
	}
}

func TestSchemelessGRPCEndpoint(t *testing.T) {
	ec := mustResolve(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"})
	if s := setting(t, ec, "otlp.metrics.endpoint"); s.Value != "https://localhost:4317" {
		t.Errorf("endpoint %q, want TLS (https://localhost:4317) as the specification says", s.Value)
	}
	if len(ec.Warnings) != 1 || !strings.Contains(ec.Warnings[0], `OTEL_EXPORTER_OTLP_ENDPOINT="localhost:4317" has no scheme: it is reached over TLS`) {
		t.Errorf("warnings %q, want one saying how to get plaintext", ec.Warnings)
	}
	ec = mustResolve(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_INSECURE", "True"})
	if s := setting(t, ec, "otlp.logs.endpoint"); s.Value != "http://localhost:4317" {
		t.Errorf("endpoint %q, want plaintext with OTEL_EXPORTER_OTLP_INSECURE=true", s.Value)
	}
	if s := setting(t, ec, "otlp.logs.insecure"); s.Source != "env OTEL_EXPORTER_OTLP_INSECURE" {
		t.Errorf("insecure from %q", s.Source)
	}
}

// TestEachProblemOnce: a general variable is read for three signals and a
// code option applies to all three; each bad value is still one error that
// names its variable or option.
func TestEachProblemOnce(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	_, err := resolveWith(t, []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318",
		"OTEL_EXPORTER_OTLP_COMPRESSION", "zstd",
		"OTEL_EXPORTER_OTLP_CERTIFICATE", missing,
	}, WithOTLPProtocol("thrift"), WithOTLPEndpoint(""))
	var me *MultiConfigError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want a MultiConfigError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318": want a URL with a scheme`,
		`OTEL_EXPORTER_OTLP_COMPRESSION="zstd": want one of gzip, none`,
		`code WithOTLPProtocol="thrift": want one of grpc, http/protobuf, http/json`,
	} {
		if n := strings.Count(msg, want); n != 1 {
			t.Errorf("%q appears %d times in:\n%s", want, n, msg)
		}
	}
	if len(me.Errors) != 3 {
		t.Errorf("%d errors, want 3:\n%s", len(me.Errors), msg)
	}

	_, err = resolveWith(t, []string{"OTEL_EXPORTER_OTLP_CERTIFICATE", missing, "OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"})
	if err == nil || strings.Count(err.Error(), "OTEL_EXPORTER_OTLP_CERTIFICATE=") != 1 || !strings.Contains(err.Error(), "a readable PEM file") {
		t.Errorf("err = %v, want the missing CA file once, by its variable", err)
	}
}

func TestEndpointAliasFollowsItsPort(t *testing.T) {
	ec := mustResolve(t, []string{"OTEL_EXPORTER_ENDPOINT", "http://jaeger:4317"})
	for _, s := range signals {
		p := setting(t, ec, "otlp."+string(s)+".protocol")
		e := setting(t, ec, "otlp."+string(s)+".endpoint")
		if p.Value != ProtocolGRPC || e.Value != "http://jaeger:4317" {
			t.Errorf("%s: %s %s, want grpc to http://jaeger:4317", s, p.Value, e.Value)
		}
	}
	if len(ec.Warnings) != 1 || !strings.Contains(ec.Warnings[0], `OTEL_EXPORTER_ENDPOINT is not an OpenTelemetry variable (other SDKs ignore it): "http://jaeger:4317" is sent as OTLP/gRPC`) {
		t.Errorf("warnings %q, want one, once", ec.Warnings)
	}
	// A protocol chosen wins over the port, and the port warning says so.
	ec = mustResolve(t, []string{"OTEL_EXPORTER_ENDPOINT", "http://jaeger:4317", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"})
	if s := setting(t, ec, "otlp.traces.protocol"); s.Value != ProtocolHTTPProtobuf {
		t.Errorf("protocol %q, want the chosen http/protobuf", s.Value)
	}
	if !strings.Contains(strings.Join(ec.Warnings, "\n"), "uses port 4317, the OTLP/gRPC port, with protocol http/protobuf") {
		t.Errorf("warnings %q lack the port warning", ec.Warnings)
	}
}

func TestBooleansFollowTheSpecification(t *testing.T) {
	for _, v := range []string{"TRUE", "true", "True"} {
		if ec := mustResolve(t, []string{"OTEL_SDK_DISABLED", v}); !ec.Disabled() {
			t.Errorf("OTEL_SDK_DISABLED=%s did not disable", v)
		}
	}
	for _, tc := range []struct{ name, value string }{
		{"OTEL_SDK_DISABLED", "1"},
		{"OTEL_SDK_DISABLED", "yes"},
		{"OTEL_ENABLED", "0"},
		{"OTEL_EXPORTER_OTLP_INSECURE", "on"},
		{"OTEL_EXPORTER_OTLP_TRACES_INSECURE", "1"},
		{"LOUPE_RUNTIME_METRICS", "off"},
		{"OTEL_LOG_SPANS", "1"},
	} {
		_, err := resolveWith(t, []string{tc.name, tc.value})
		want := tc.name + `="` + tc.value + `": want true or false`
		if err == nil || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), want) != 1 {
			t.Errorf("%s=%s: err = %v, want one error containing %q", tc.name, tc.value, err, want)
		}
	}
}

func TestDisabledShowsNothingActive(t *testing.T) {
	ec := mustResolve(t, []string{"OTEL_SDK_DISABLED", "true", "OTEL_METRICS_EXPORTER", "console,prometheus", "OTEL_EXPORTER_PROMETHEUS_PORT", "9999"})
	for _, s := range signals {
		if got := ec.Exporters(s); len(got) != 0 {
			t.Errorf("%s exporters %q while disabled", s, got)
		}
		if _, ok := ec.OTLP(s); ok {
			t.Errorf("%s has an OTLP exporter while disabled", s)
		}
		if e := setting(t, ec, string(s)+".exporter"); e.Value != "none" || e.Source != "disabled by OTEL_SDK_DISABLED=true" {
			t.Errorf("%s.exporter = %q from %q", s, e.Value, e.Source)
		}
	}
	if ec.PrometheusListener() != "" {
		t.Errorf("a Prometheus listener while disabled")
	}
	for _, s := range ec.Settings {
		if strings.HasPrefix(s.Name, "otlp.") || strings.HasPrefix(s.Name, "traces.sampler") || strings.HasPrefix(s.Name, "metrics.export_") {
			t.Errorf("setting %s shown while disabled:\n%s", s.Name, ec)
		}
	}
}

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestServiceInstanceID(t *testing.T) {
	a, b := mustResolve(t, nil), mustResolve(t, nil)
	ida, idb := setting(t, a, "service.instance.id"), setting(t, b, "service.instance.id")
	if !uuidV4.MatchString(ida.Value) || ida.Source != "generated (a UUID per process)" {
		t.Errorf("service.instance.id = %q from %q, want a random UUID v4", ida.Value, ida.Source)
	}
	if ida.Value != idb.Value {
		t.Errorf("two resolutions in one process gave %s and %s, want one id per process", ida.Value, idb.Value)
	}
	env := []string{"OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=pod-7,team=a"}
	if s := setting(t, mustResolve(t, env), "service.instance.id"); s.Value != "pod-7" || s.Source != "env OTEL_RESOURCE_ATTRIBUTES" {
		t.Errorf("service.instance.id = %q from %q, want pod-7 from OTEL_RESOURCE_ATTRIBUTES", s.Value, s.Source)
	}
	if s := setting(t, mustResolve(t, env, WithServiceInstanceID("replica-2")), "service.instance.id"); s.Value != "replica-2" || s.Source != "code WithServiceInstanceID" {
		t.Errorf("service.instance.id = %q from %q, want replica-2 from code", s.Value, s.Source)
	}
}
