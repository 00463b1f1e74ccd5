package telemetry_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/internal/testutil"
	"github.com/loupe-dev/loupe/telemetry"
)

// TestKillSwitchSendsNothing is the end-to-end check of the kill switches:
// with the process environment pointing every signal at a real OTLP
// receiver (gRPC and HTTP), short export intervals and the runtime metrics
// on, a disabled Setup sends not one request, before or at Shutdown, and
// says why in one line. The enabled row shows the same setup does reach the
// receiver, so an empty receiver is the switch's doing.
func TestKillSwitchSendsNothing(t *testing.T) {
	for _, tc := range []struct {
		name, variable, value string
		disabled              bool
	}{
		{"OTEL_ENABLED=false", "OTEL_ENABLED", "false", true},
		{"OTEL_ENABLED=FALSE", "OTEL_ENABLED", "FALSE", true},
		{"OTEL_SDK_DISABLED=true", "OTEL_SDK_DISABLED", "true", true},
		{"OTEL_ENABLED=true", "OTEL_ENABLED", "true", false},
	} {
		for _, protocol := range []string{telemetry.ProtocolGRPC, telemetry.ProtocolHTTPProtobuf} {
			t.Run(tc.name+"/"+protocol, func(t *testing.T) {
				r := startReceiver(t)
				addr := r.httpAddr
				if protocol == telemetry.ProtocolGRPC {
					addr = r.grpcAddr
				}
				for k, v := range map[string]string{
					"OTEL_EXPORTER_OTLP_ENDPOINT": "http://" + addr,
					"OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
					"OTEL_TRACES_EXPORTER":        "otlp",
					"OTEL_METRICS_EXPORTER":       "otlp",
					"OTEL_LOGS_EXPORTER":          "otlp",
					"OTEL_BSP_SCHEDULE_DELAY":     "10",
					"OTEL_BLRP_SCHEDULE_DELAY":    "10",
					"OTEL_METRIC_EXPORT_INTERVAL": "50",
					"OTEL_SERVICE_NAME":           "kill-switch",
					tc.variable:                   tc.value,
				} {
					t.Setenv(k, v)
				}
				var warnings testutil.SyncBuffer
				tel, err := telemetry.Setup(context.Background(), telemetry.WithWarningWriter(&warnings), telemetry.WithLogWriter(&testutil.SyncBuffer{}))
				if err != nil {
					t.Fatal(err)
				}
				emitAll(context.Background())
				time.Sleep(300 * time.Millisecond) // six metric intervals, thirty batch delays
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := tel.Shutdown(ctx); err != nil {
					t.Fatalf("Shutdown: %v", err)
				}
				got := r.received()
				if !tc.disabled {
					paths := map[string]bool{}
					for _, q := range got {
						paths[q.path] = true
					}
					if len(paths) < 3 {
						t.Fatalf("enabled: the receiver got %d requests on %v, want traces, metrics and logs", len(got), paths)
					}
					return
				}
				if len(got) != 0 {
					t.Errorf("disabled by %s=%s, the receiver still got %d requests, the first to %s", tc.variable, tc.value, len(got), got[0].path)
				}
				if w := warnings.String(); strings.Count(w, "\n") != 1 || !strings.Contains(w, "telemetry: disabled by "+tc.variable+"=") {
					t.Errorf("warnings %q, want one line saying telemetry is disabled by %s", w, tc.variable)
				}
			})
		}
	}
}
