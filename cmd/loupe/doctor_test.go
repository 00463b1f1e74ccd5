package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

func envLookup(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func doctor(t *testing.T, env ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runDoctor(context.Background(), []string{"--timeout", "500ms"}, envLookup(env...), &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

// listen returns a loopback listener closed at the end of the test.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// silentListener accepts connections and never answers.
func silentListener(t *testing.T) string {
	ln := listen(t)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

type traceOnly struct {
	ptraceotlp.UnimplementedGRPCServer
}

func (traceOnly) Export(context.Context, ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	return ptraceotlp.NewExportResponse(), nil
}

func TestDoctor(t *testing.T) {
	serve := startServe(t, "--data-dir", "", "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--http", "127.0.0.1:0")
	defer serve.stop()
	grpcAddr, httpAddr := serve.srv.Addrs("otlp-grpc")[0].String(), serve.srv.Addrs("otlp-http")[0].String()

	// A gRPC receiver of traces only, and an HTTP receiver of traces only.
	gs := grpc.NewServer()
	ptraceotlp.RegisterGRPCServer(gs, &traceOnly{})
	gl := listen(t)
	go func() { _ = gs.Serve(gl) }()
	defer gs.Stop()
	hl := listen(t)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
		}
	})}
	go func() { _ = hs.Serve(hl) }()
	defer hs.Close()

	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := cl.Addr().String()
	_ = cl.Close()

	for _, tc := range []struct {
		name     string
		env      []string
		code     int
		want     []string
		dontWant string
	}{
		{"loupe serve over HTTP", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://" + httpAddr}, 0, []string{
			"otlp.traces.endpoint", "env OTEL_EXPORTER_OTLP_ENDPOINT",
			"ok       traces endpoint http://" + httpAddr + "/v1/traces (http/protobuf, from env OTEL_EXPORTER_OTLP_ENDPOINT) takes exports",
			"ok       logs endpoint", "ok       telemetry is on", "no problem found",
		}, "problem  "},
		{"loupe serve over gRPC", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://" + grpcAddr, "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, 0, []string{
			"ok       metrics endpoint http://" + grpcAddr + " (grpc, from env OTEL_EXPORTER_OTLP_ENDPOINT) takes exports",
		}, "problem  "},
		{"scheme-less gRPC with insecure", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", grpcAddr, "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc", "OTEL_EXPORTER_OTLP_INSECURE", "true"}, 0, []string{
			"takes exports",
		}, "problem  "},
		{"HTTP to the gRPC port", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://" + grpcAddr}, 1, []string{
			"this looks like a gRPC port; set OTEL_EXPORTER_OTLP_PROTOCOL=grpc", "3 problem(s) found",
		}, ""},
		{"gRPC to the HTTP port", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://" + httpAddr, "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, 1, []string{
			"this looks like an HTTP port; set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		}, ""},
		{"TLS to a plaintext port", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://" + httpAddr}, 1, []string{
			"the TLS handshake with " + httpAddr + " fails",
		}, ""},
		{"gRPC receiver of traces only", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://" + gl.Addr().String(), "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, 1, []string{
			"ok       traces endpoint", "does not take metrics over OTLP/gRPC", "does not take logs over OTLP/gRPC", "2 problem(s) found",
		}, ""},
		{"HTTP receiver of traces only", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://" + hl.Addr().String()}, 1, []string{
			"ok       traces endpoint", "/v1/metrics (http/protobuf, from env OTEL_EXPORTER_OTLP_ENDPOINT) answers 404",
		}, ""},
		{"closed port", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://" + closed}, 1, []string{
			"nothing listens on " + closed, "1 problem(s) found", // once for the three signals
		}, ""},
		{"listener that never answers, HTTP", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://" + silentListener(t)}, 1, []string{
			"accepts connections but does not answer an export within 500ms",
		}, ""},
		{"listener that never answers, gRPC", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://" + silentListener(t), "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, 1, []string{
			"accepts connections but does not answer an export within 500ms",
		}, ""},
		{"kill switch", []string{"OTEL_SDK_DISABLED", "true"}, 1, []string{
			"telemetry is disabled by OTEL_SDK_DISABLED=true", "disabled by OTEL_SDK_DISABLED=true",
		}, "endpoint"},
		{"invalid boolean", []string{"OTEL_SDK_DISABLED", "1", "OTEL_TRACES_EXPORTER", "none", "OTEL_METRICS_EXPORTER", "none", "OTEL_LOGS_EXPORTER", "none"}, 1, []string{
			`problem  OTEL_SDK_DISABLED="1": want true or false`,
		}, ""},
		{"sampler keeps nothing", []string{"OTEL_TRACES_SAMPLER", "always_off", "OTEL_TRACES_EXPORTER", "none", "OTEL_METRICS_EXPORTER", "none", "OTEL_LOGS_EXPORTER", "none"}, 1, []string{
			"the sampler always_off keeps no trace",
		}, ""},
		{"prometheus on loopback", []string{"OTEL_METRICS_EXPORTER", "prometheus", "OTEL_EXPORTER_PROMETHEUS_PORT", "9464", "OTEL_TRACES_EXPORTER", "none", "OTEL_LOGS_EXPORTER", "none", "KUBERNETES_SERVICE_HOST", "10.0.0.1"}, 1, []string{
			"the Prometheus listener localhost:9464 is on loopback inside a container",
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := doctor(t, tc.env...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			if tc.dontWant != "" && strings.Contains(out, tc.dontWant) {
				t.Errorf("output has %q", tc.dontWant)
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}

	var stdout, stderr bytes.Buffer
	code := runDoctor(context.Background(), []string{"--json"}, envLookup("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+closed), &stdout, &stderr)
	var rep doctorReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || code != 1 {
		t.Fatalf("--json: exit %d, %v:\n%s", code, err, stdout.String())
	}
	if rep.problems() != 1 || len(rep.Settings) == 0 {
		t.Errorf("--json report: %+v", rep)
	}
}

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr, nil); code != 0 || !strings.HasPrefix(stdout.String(), "loupe ") || !strings.Contains(stdout.String(), "go1.") {
			t.Errorf("%v: exit %d, %q %q", args, code, stdout.String(), stderr.String())
		}
	}
}
