package main

import (
	"maps"
	"testing"
)

// TestChildEnv: the services get the demo's fast export interval and
// delays unless the environment sets them (a value of the user's applies
// with either backend); OTEL_SERVICE_NAME never passes, nor, with the
// embedded backend, what says where to export.
func TestChildEnv(t *testing.T) {
	demoDefaults := map[string]string{
		"OTEL_METRIC_EXPORT_INTERVAL": "5000",
		"OTEL_BSP_SCHEDULE_DELAY":     "1000",
		"OTEL_BLRP_SCHEDULE_DELAY":    "1000",
	}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(demoDefaults)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		environ  []string
		embedded bool
		want     map[string]string
	}{
		{"unset, embedded", nil, true, demoDefaults},
		{"unset, backend none", nil, false, demoDefaults},
		{"the user's interval, embedded", []string{"OTEL_METRIC_EXPORT_INTERVAL=60000"}, true,
			with("OTEL_METRIC_EXPORT_INTERVAL", "60000")},
		{"the user's interval, backend none", []string{"OTEL_METRIC_EXPORT_INTERVAL=60000"}, false,
			with("OTEL_METRIC_EXPORT_INTERVAL", "60000")},
		{"the user's delays, embedded", []string{"OTEL_BSP_SCHEDULE_DELAY=5000", "OTEL_BLRP_SCHEDULE_DELAY=200"}, true,
			with("OTEL_BSP_SCHEDULE_DELAY", "5000", "OTEL_BLRP_SCHEDULE_DELAY", "200")},
		{"empty is unset", []string{"OTEL_METRIC_EXPORT_INTERVAL=", "OTEL_BSP_SCHEDULE_DELAY= "}, true, demoDefaults},
		{"embedded drops exporters and the service name", []string{
			"OTEL_SERVICE_NAME=mine", "OTEL_EXPORTER_OTLP_ENDPOINT=http://elsewhere:4318", "OTEL_TRACES_EXPORTER=console",
			"OTEL_RESOURCE_ATTRIBUTES=team=a", "PATH=/bin",
		}, true, with("OTEL_RESOURCE_ATTRIBUTES", "team=a", "PATH", "/bin")},
		{"backend none keeps exporters, drops the service name", []string{
			"OTEL_SERVICE_NAME=mine", "OTEL_EXPORTER_OTLP_ENDPOINT=http://elsewhere:4318", "OTEL_TRACES_EXPORTER=console",
		}, false, with("OTEL_EXPORTER_OTLP_ENDPOINT", "http://elsewhere:4318", "OTEL_TRACES_EXPORTER", "console")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := childEnv(tc.environ, tc.embedded); !maps.Equal(got, tc.want) {
				t.Errorf("childEnv(%q, embedded=%v)\n got %v\nwant %v", tc.environ, tc.embedded, got, tc.want)
			}
		})
	}
}
