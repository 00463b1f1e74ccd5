package telemetry

import (
	"errors"
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
		{"code exporter", nil, []Option{WithExporters(Traces, "console")}, "traces.exporter", "console", "code"},
		{"code beats env", []string{"OTEL_TRACES_EXPORTER", "otlp"}, []Option{WithExporters(Traces, "none")}, "traces.exporter", "none", "code"},
		{"comma list", []string{"OTEL_METRICS_EXPORTER", "otlp, prometheus"}, nil, "metrics.exporter", "otlp,prometheus", "env OTEL_METRICS_EXPORTER"},
		{"fallback exporter", nil, []Option{WithDefaultExporter("console")}, "logs.exporter", "console", "code fallback"},
		{"endpoint beats fallback", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}, []Option{WithDefaultExporter("console")}, "metrics.exporter", "otlp", "default"},
		{"signal endpoint beats fallback", []string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://collector:4318/v1/logs"}, []Option{WithDefaultExporter("console")}, "logs.exporter", "otlp", "default"},
		{"other signal's endpoint keeps fallback", []string{"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://collector:4318/v1/logs"}, []Option{WithDefaultExporter("console")}, "traces.exporter", "console", "code fallback"},
		{"env beats fallback", []string{"OTEL_LOGS_EXPORTER", "otlp"}, []Option{WithDefaultExporter("console")}, "logs.exporter", "otlp", "env OTEL_LOGS_EXPORTER"},
		{"OTEL_LOG_SPANS adds console", []string{"OTEL_LOG_SPANS", "true"}, nil, "traces.exporter", "otlp", "default"},
		{"service name env", []string{"OTEL_SERVICE_NAME", "checkout"}, nil, "service.name", "checkout", "env OTEL_SERVICE_NAME"},
		{"service name code", []string{"OTEL_SERVICE_NAME", "checkout"}, []Option{WithServiceName("cart")}, "service.name", "cart", "code"},
		{"service name from resource attributes", []string{"OTEL_RESOURCE_ATTRIBUTES", "service.name=billing,team=a"}, nil, "service.name", "billing", "env OTEL_RESOURCE_ATTRIBUTES"},
		{"environment alias", []string{"OTEL_ENVIRONMENT", "staging"}, nil, "deployment.environment.name", "staging", "env OTEL_ENVIRONMENT"},
		{"environment code", []string{"OTEL_ENVIRONMENT", "staging"}, []Option{WithEnvironment("prod")}, "deployment.environment.name", "prod", "code"},
		{"default protocol", nil, nil, "otlp.traces.protocol", "http/protobuf", "default"},
		{"default http endpoint", nil, nil, "otlp.traces.endpoint", "http://localhost:4318/v1/traces", "default"},
		{"grpc default endpoint", []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, nil, "otlp.logs.endpoint", "http://localhost:4317", "default"},
		{"general endpoint gets signal path", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}, nil, "otlp.metrics.endpoint", "http://collector:4318/v1/metrics", "env OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"per-signal endpoint as is", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://a:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://b:4318/custom"}, nil, "otlp.traces.endpoint", "http://b:4318/custom", "env OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"},
		{"per-signal protocol", []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf"}, nil, "otlp.logs.protocol", "http/protobuf", "env OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"},
		{"endpoint alias", []string{"OTEL_EXPORTER_ENDPOINT", "http://old:4318"}, nil, "otlp.traces.endpoint", "http://old:4318/v1/traces", "env OTEL_EXPORTER_ENDPOINT"},
		{"standard beats alias", []string{"OTEL_EXPORTER_ENDPOINT", "http://old:4318", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://new:4318"}, nil, "otlp.traces.endpoint", "http://new:4318/v1/traces", "env OTEL_EXPORTER_OTLP_ENDPOINT"},
		{"code endpoint", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318"}, []Option{WithOTLPEndpoint("https://code:4318")}, "otlp.traces.endpoint", "https://code:4318/v1/traces", "code"},
		{"jaeger endpoint mapped", []string{"OTEL_EXPORTER_JAEGER_ENDPOINT", "jaeger-agent:6831", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, nil, "otlp.traces.endpoint", "http://jaeger-agent:4317", "env OTEL_EXPORTER_JAEGER_ENDPOINT"},
		{"jaeger agent port becomes 4317", []string{"OTEL_EXPORTER_JAEGER_ENDPOINT", "jaeger-agent:6831"}, nil, "otlp.traces.endpoint", "http://jaeger-agent:4317", "env OTEL_EXPORTER_JAEGER_ENDPOINT"},
		{"jaeger alias switches protocol to grpc", []string{"OTEL_EXPORTER_JAEGER_ENDPOINT", "jaeger-agent:6831"}, nil, "otlp.traces.protocol", "grpc", "env OTEL_EXPORTER_JAEGER_ENDPOINT"},
		{"jaeger alias keeps a chosen http protocol", []string{"OTEL_EXPORTER_JAEGER_ENDPOINT", "http://jaeger:14268/api/traces", "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"}, nil, "otlp.traces.endpoint", "http://jaeger:4318/v1/traces", "env OTEL_EXPORTER_JAEGER_ENDPOINT"},
		{"default sampler", nil, nil, "traces.sampler", "parentbased_always_on", "default"},
		{"env sampler with arg", []string{"OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "0.5"}, nil, "traces.sampler", "traceidratio(0.5)", "env OTEL_TRACES_SAMPLER"},
		{"sampling rate alias", []string{"OTEL_SAMPLING_RATE", "0.25"}, nil, "traces.sampler", "parentbased_traceidratio(0.25)", "env OTEL_SAMPLING_RATE"},
		{"sampler beats sampling rate", []string{"OTEL_SAMPLING_RATE", "0.25", "OTEL_TRACES_SAMPLER", "always_off"}, nil, "traces.sampler", "always_off", "env OTEL_TRACES_SAMPLER"},
		{"code ratio", []string{"OTEL_TRACES_SAMPLER", "always_off"}, []Option{WithSamplingRatio(0.1)}, "traces.sampler", "parentbased_traceidratio(0.1)", "code"},
		{"propagators env", []string{"OTEL_PROPAGATORS", "b3,jaeger"}, nil, "propagators", "b3,jaeger", "env OTEL_PROPAGATORS"},
		{"bsp queue env", []string{"OTEL_BSP_MAX_QUEUE_SIZE", "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10"}, nil, "traces.batch.max_queue_size", "100", "env OTEL_BSP_MAX_QUEUE_SIZE"},
		{"bsp code", nil, []Option{WithSpanBatching(BatchOptions{Delay: 250 * time.Millisecond})}, "traces.batch.schedule_delay", "250ms", "code"},
		{"metric interval env", []string{"OTEL_METRIC_EXPORT_INTERVAL", "1500"}, nil, "metrics.export_interval", "1.5s", "env OTEL_METRIC_EXPORT_INTERVAL"},
		{"timeout env", []string{"OTEL_EXPORTER_OTLP_TIMEOUT", "2000"}, nil, "otlp.traces.timeout", "2s", "env OTEL_EXPORTER_OTLP_TIMEOUT"},
		{"headers redacted", []string{"OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20secret,x-team=a"}, nil, "otlp.traces.headers", "authorization=<redacted>,x-team=<redacted>", "env OTEL_EXPORTER_OTLP_HEADERS"},
		{"log level env", []string{"LOUPE_LOG_LEVEL", "debug"}, nil, "logs.level", "DEBUG", "env LOUPE_LOG_LEVEL"},
		{"disabled code", nil, []Option{WithDisabled(true)}, "disabled", "true", "code"},
		{"kill switch beats code", []string{"OTEL_SDK_DISABLED", "true"}, []Option{WithDisabled(false)}, "disabled", "true", "env OTEL_SDK_DISABLED"},
		{"OTEL_ENABLED=false beats code", []string{"OTEL_ENABLED", "false"}, []Option{WithDisabled(false)}, "disabled", "true", "env OTEL_ENABLED"},
		{"OTEL_SDK_DISABLED=false keeps code", []string{"OTEL_SDK_DISABLED", "false"}, []Option{WithDisabled(true)}, "disabled", "true", "code"},
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
		{"endpoint without scheme", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317"}, nil, `OTEL_EXPORTER_OTLP_ENDPOINT="localhost:4317": want a URL such as http://localhost:4318`},
		{"endpoint bad port", []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:99999"}, nil, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="http://collector:99999": want a URL`},
		{"endpoint bad scheme", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector:4317"}, nil, `scheme "ftp" is neither http nor https`},
		{"malformed headers", []string{"OTEL_EXPORTER_OTLP_HEADERS", "authorization"}, nil, `OTEL_EXPORTER_OTLP_HEADERS="authorization": want comma-separated key=value pairs`},
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
	if got := ec.otlp[Traces].headers["api-key"]; got != "hunter2" {
		t.Fatalf("header value = %q, want it passed to the exporter", got)
	}
}
