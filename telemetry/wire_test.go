package telemetry_test

import (
	"context"
	"crypto/tls"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/internal/testutil"
	"github.com/loupe-dev/loupe/telemetry"
)

// TestWireFollowsResolution sets, for each exporter setting, the process
// environment (which the SDK's exporters read on their own) against what
// code chose, and checks what a real receiver gets: the resolved value, not
// the environment's.
func TestWireFollowsResolution(t *testing.T) {
	self := testutil.SelfSigned(t)
	cert, caFile := self.TLS, self.CertFile
	type check func(t *testing.T, reqs []request)
	each := func(f func(t *testing.T, q request)) check {
		return func(t *testing.T, reqs []request) {
			for _, q := range reqs {
				f(t, q)
			}
		}
	}
	encoding := func(want string) check {
		return each(func(t *testing.T, q request) {
			if got := q.encoding; got != want && !(want == "" && got == "identity") {
				t.Errorf("%s %s arrived with encoding %q, want %q", q.protocol, q.path, got, want)
			}
		})
	}
	transport := func(protocol string, tls bool) check {
		return each(func(t *testing.T, q request) {
			if q.protocol != protocol || q.tls != tls {
				t.Errorf("%s arrived over %s (TLS %v), want %s (TLS %v)", q.path, q.protocol, q.tls, protocol, tls)
			}
		})
	}
	for _, tc := range []struct {
		name     string
		protocol string // the receiver's side used by the endpoint
		tls      bool
		env      map[string]string
		opts     []telemetry.Option
		endpoint string // the endpoint given in code: "" none, else a scheme to prefix to the receiver's address
		check    check
	}{
		{
			name: "compression none in code, gzip in env", protocol: telemetry.ProtocolHTTPProtobuf, endpoint: "http://",
			env:   map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip"},
			opts:  []telemetry.Option{telemetry.WithOTLPCompression("none")},
			check: encoding(""),
		},
		{
			name: "grpc compression none in code, gzip in env", protocol: telemetry.ProtocolGRPC, endpoint: "http://",
			env:   map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION": "gzip"},
			opts:  []telemetry.Option{telemetry.WithOTLPCompression("none")},
			check: encoding(""),
		},
		{
			name: "compression gzip in code, none in env", protocol: telemetry.ProtocolHTTPProtobuf, endpoint: "http://",
			env:   map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "none"},
			opts:  []telemetry.Option{telemetry.WithOTLPCompression("gzip")},
			check: encoding("gzip"),
		},
		{
			name: "grpc compression gzip in code, none in env", protocol: telemetry.ProtocolGRPC, endpoint: "http://",
			env:   map[string]string{"OTEL_EXPORTER_OTLP_COMPRESSION": "none"},
			opts:  []telemetry.Option{telemetry.WithOTLPCompression("gzip")},
			check: encoding("gzip"),
		},
		{
			name: "headers: code wins per key, the signal's variable replaces the general one", protocol: telemetry.ProtocolHTTPProtobuf, endpoint: "http://",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_HEADERS":        "x-team=env,x-general=1",
				"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "X-Team=env-traces,x-traces=1",
			},
			opts:  []telemetry.Option{telemetry.WithOTLPHeaders(map[string]string{"x-team": "code"})},
			check: headersCheck,
		},
		{
			name: "grpc headers: code wins per key, the signal's variable replaces the general one", protocol: telemetry.ProtocolGRPC, endpoint: "http://",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_HEADERS":        "x-team=env,x-general=1",
				"OTEL_EXPORTER_OTLP_TRACES_HEADERS": "X-Team=env-traces,x-traces=1",
			},
			opts:  []telemetry.Option{telemetry.WithOTLPHeaders(map[string]string{"x-team": "code"})},
			check: headersCheck,
		},
		{
			name: "endpoint in code beats the signal's variable; HTTP appends the signal path", protocol: telemetry.ProtocolHTTPProtobuf, endpoint: "http://",
			env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:1/elsewhere"},
			check: each(func(t *testing.T, q request) {
				if !strings.HasPrefix(q.path, "/v1/") {
					t.Errorf("request to %s, want /v1/<signal>", q.path)
				}
			}),
		},
		{
			name: "protocol in code beats env", protocol: telemetry.ProtocolHTTPProtobuf, endpoint: "http://",
			env:   map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "grpc"},
			opts:  []telemetry.Option{telemetry.WithOTLPProtocol(telemetry.ProtocolHTTPProtobuf)},
			check: transport("http", false),
		},
		{
			name: "https endpoint stays TLS with OTEL_EXPORTER_OTLP_INSECURE=true", protocol: telemetry.ProtocolHTTPProtobuf, tls: true, endpoint: "https://",
			env:   map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": "true", "OTEL_EXPORTER_OTLP_CERTIFICATE": caFile},
			check: transport("http", true),
		},
		{
			name: "grpc https endpoint stays TLS with OTEL_EXPORTER_OTLP_INSECURE=true", protocol: telemetry.ProtocolGRPC, tls: true, endpoint: "https://",
			env:   map[string]string{"OTEL_EXPORTER_OTLP_INSECURE": "true", "OTEL_EXPORTER_OTLP_CERTIFICATE": caFile},
			check: transport("grpc", true),
		},
		{
			name: "grpc http endpoint stays plaintext with a CA in env", protocol: telemetry.ProtocolGRPC, endpoint: "http://",
			env:   map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": caFile, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": caFile},
			check: transport("grpc", false),
		},
		{
			name: "WithOTLPInsecure(true) makes an https endpoint plaintext", protocol: telemetry.ProtocolGRPC, endpoint: "https://",
			env:   map[string]string{"OTEL_EXPORTER_OTLP_CERTIFICATE": caFile},
			opts:  []telemetry.Option{telemetry.WithOTLPInsecure(true)},
			check: transport("grpc", false),
		},
		{
			name: "scheme-less grpc host:port with OTEL_EXPORTER_OTLP_INSECURE=true", protocol: telemetry.ProtocolGRPC, endpoint: "",
			env:   map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "{addr}", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_INSECURE": "TRUE"},
			check: transport("grpc", false),
		},
		{
			name: "scheme-less grpc host:port is TLS by default", protocol: telemetry.ProtocolGRPC, tls: true, endpoint: "",
			env:   map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "{addr}", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_CERTIFICATE": caFile},
			check: transport("grpc", true),
		},
		{
			name: "the signal's endpoint is used as it is", protocol: telemetry.ProtocolHTTPProtobuf, endpoint: "",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":        "http://{addr}",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://{addr}/custom/traces",
			},
			check: func(t *testing.T, reqs []request) {
				paths := map[string]bool{}
				for _, q := range reqs {
					paths[q.path] = true
				}
				for _, want := range []string{"/custom/traces", "/v1/metrics", "/v1/logs"} {
					if !paths[want] {
						t.Errorf("no request to %s; got %v", want, paths)
					}
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c *tls.Certificate
			if tc.tls {
				c = &cert
			}
			r := startReceiverWith(t, c, 0)
			addr := r.httpAddr
			if tc.protocol == telemetry.ProtocolGRPC {
				addr = r.grpcAddr
			}
			for k, v := range tc.env {
				t.Setenv(k, strings.ReplaceAll(v, "{addr}", addr))
			}
			opts := []telemetry.Option{
				telemetry.WithRuntimeMetrics(false),
				telemetry.WithLogWriter(io.Discard),
				telemetry.WithWarningWriter(io.Discard),
			}
			if tc.endpoint != "" {
				opts = append(opts, telemetry.WithOTLPEndpoint(tc.endpoint+addr), telemetry.WithOTLPProtocol(tc.protocol))
			}
			tel, err := telemetry.Setup(context.Background(), append(opts, tc.opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			emitAll(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tel.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v\n%s", err, tel.Config())
			}
			reqs := r.received()
			if len(reqs) < 3 {
				t.Fatalf("%d requests arrived, want one per signal at least: %+v\n%s", len(reqs), reqs, tel.Config())
			}
			tc.check(t, reqs)
		})
	}
}

func headersCheck(t *testing.T, reqs []request) {
	for _, q := range reqs {
		want := map[string]string{"X-Team": "code", "X-General": "1", "X-Traces": ""}
		if strings.Contains(q.path, "race") { // /v1/traces, /…TraceService/Export
			want = map[string]string{"X-Team": "code", "X-General": "", "X-Traces": "1"}
		}
		for k, v := range want {
			got := q.header.Values(k)
			if q.protocol == "grpc" {
				got = q.header[strings.ToLower(k)]
			}
			if v == "" && len(got) != 0 || v != "" && (len(got) != 1 || got[0] != v) {
				t.Errorf("%s %s: header %s = %q, want %q", q.protocol, q.path, k, got, v)
			}
		}
	}
}

// TestExportTimeoutFromCodeBeatsEnv gives the exporter 1 ms in the
// environment and 5 s in code against a receiver that answers in 100 ms.
func TestExportTimeoutFromCodeBeatsEnv(t *testing.T) {
	for _, protocol := range []string{telemetry.ProtocolGRPC, telemetry.ProtocolHTTPProtobuf} {
		t.Run(protocol, func(t *testing.T) {
			r := startReceiverWith(t, nil, 100*time.Millisecond)
			addr := r.httpAddr
			if protocol == telemetry.ProtocolGRPC {
				addr = r.grpcAddr
			}
			t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "1")
			t.Setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1")
			tel, err := telemetry.Setup(context.Background(),
				telemetry.WithOTLPEndpoint("http://"+addr), telemetry.WithOTLPProtocol(protocol),
				telemetry.WithOTLPTimeout(5*time.Second),
				telemetry.WithRuntimeMetrics(false), telemetry.WithLogWriter(io.Discard),
			)
			if err != nil {
				t.Fatal(err)
			}
			emitAll(context.Background())
			if err := tel.Shutdown(context.Background()); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			if s := tel.Stats(); s.SpansExported != 1 || s.LogsExported != 1 || s.MetricExportsFailed != 0 {
				t.Errorf("stats %+v: the 1 ms timeout of the environment was applied", s)
			}
		})
	}
}

// TestWrongProtocolForThePortIsNamed speaks each protocol to the other's
// listener of a real receiver, on ports that are neither 4317 nor 4318, and
// checks that the warning says what to change.
func TestWrongProtocolForThePortIsNamed(t *testing.T) {
	r := startReceiver(t)
	for _, tc := range []struct {
		protocol, addr, want string
	}{
		{telemetry.ProtocolHTTPProtobuf, r.grpcAddr, "this looks like a gRPC port: set OTEL_EXPORTER_OTLP_PROTOCOL=grpc"},
		{telemetry.ProtocolGRPC, r.httpAddr, "this looks like an HTTP port: set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			var warnings testutil.SyncBuffer
			tel, err := telemetry.Setup(context.Background(), noEnv,
				telemetry.WithOTLPEndpoint("http://"+tc.addr), telemetry.WithOTLPProtocol(tc.protocol),
				telemetry.WithOTLPTimeout(2*time.Second),
				telemetry.WithExporters(telemetry.Metrics, "none"), telemetry.WithExporters(telemetry.Logs, "none"),
				telemetry.WithRuntimeMetrics(false), telemetry.WithLogWriter(io.Discard), telemetry.WithWarningWriter(&warnings),
			)
			if err != nil {
				t.Fatal(err)
			}
			_, span := telemetry.Get("wrong").Start(context.Background(), "span")
			span.End()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = tel.Shutdown(ctx)
			if !strings.Contains(warnings.String(), tc.want) {
				t.Errorf("warnings do not say %q:\n%s", tc.want, warnings.String())
			}
		})
	}
}

// TestServiceInstanceIDArrives checks the resource a receiver gets: the
// generated id Config shows, or the one OTEL_RESOURCE_ATTRIBUTES gives.
func TestServiceInstanceIDArrives(t *testing.T) {
	for _, tc := range []struct {
		name, attrs string
		lookup      []telemetry.Option
		want        func(shown string) bool
	}{
		{"generated", "", nil, func(shown string) bool { return len(shown) == 36 }},
		{"from OTEL_RESOURCE_ATTRIBUTES", "service.instance.id=pod-7", nil, func(shown string) bool { return shown == "pod-7" }},
		// The SDK merges the process environment's resource under Loupe's:
		// with another lookup, the resolved id still wins.
		{"resolved beats the process environment", "service.instance.id=pod-7", []telemetry.Option{noEnv}, func(shown string) bool { return len(shown) == 36 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startReceiver(t)
			t.Setenv("OTEL_RESOURCE_ATTRIBUTES", tc.attrs)
			tel, err := telemetry.Setup(context.Background(), append(tc.lookup,
				telemetry.WithOTLPEndpoint("http://"+r.httpAddr),
				telemetry.WithExporters(telemetry.Metrics, "none"), telemetry.WithExporters(telemetry.Logs, "none"),
				telemetry.WithRuntimeMetrics(false), telemetry.WithLogWriter(io.Discard),
			)...)
			if err != nil {
				t.Fatal(err)
			}
			shown, _ := tel.Config().Lookup("service.instance.id")
			_, span := telemetry.Get("instance").Start(context.Background(), "span")
			span.End()
			if err := tel.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.traces) == 0 {
				t.Fatal("no traces arrived")
			}
			got, _ := r.traces[0].ResourceSpans().At(0).Resource().Attributes().Get("service.instance.id")
			if got.AsString() != shown.Value || !tc.want(shown.Value) {
				t.Errorf("service.instance.id arrived as %q, Config shows %q", got.AsString(), shown.Value)
			}
		})
	}
}
