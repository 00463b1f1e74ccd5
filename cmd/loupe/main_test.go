package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestUsageAndFlagErrors(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		want string // in stderr (stdout for help)
	}{
		{"no command", nil, 2, "usage: loupe"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"help", []string{"help"}, 0, "serve"},
		{"serve help", []string{"serve", "-h"}, 0, "-otlp-grpc"},
		{"unknown flag", []string{"serve", "--nope"}, 2, "nope"},
		{"extra argument", []string{"serve", "now"}, 2, "unexpected arguments"},
		{"data dir is a file", []string{"serve", "--data-dir", "main.go", "--http", "127.0.0.1:0"}, 1, "--data-dir main.go"},
		{"forward flags without --forward", []string{"serve", "--data-dir", "", "--forward-header", "a=b"}, 2, "need --forward"},
		{"bad forward header", []string{"serve", "--data-dir", "", "--forward", "localhost:1", "--forward-header", "nameonly"}, 2, "forward-header"},
		{"reserved forward header", []string{"serve", "--data-dir", "", "--forward", "localhost:1", "--forward-header", "grpc-timeout=1S"}, 2, "grpc-timeout"},
		{"bad forward compression", []string{"serve", "--data-dir", "", "--forward", "localhost:1", "--forward-compression", "zstd"}, 2, "compression"},
		{"forward cert without key", []string{"serve", "--data-dir", "", "--forward", "https://localhost:1", "--forward-cert", "main.go"}, 2, "--forward-key"},
		{"forward CA not PEM", []string{"serve", "--data-dir", "", "--forward", "https://localhost:1", "--forward-ca", "main.go"}, 2, "--forward-ca"},
		{"bad forward endpoint", []string{"serve", "--data-dir", "", "--forward", "http://localhost:4317/v1/traces"}, 2, "--forward"},
		{"bad forward protocol", []string{"serve", "--data-dir", "", "--forward", "localhost:1", "--forward-protocol", "http/json"}, 2, "protocol"},
		{"http forward without scheme", []string{"serve", "--data-dir", "", "--forward", "localhost:4318", "--forward-protocol", "http/protobuf"}, 2, "http://host:port"},
		{"forward protocol without --forward", []string{"serve", "--data-dir", "", "--forward-protocol", "http/protobuf"}, 2, "need --forward"},
		{"bad size", []string{"serve", "--max-size", "lots"}, 2, "--max-size"},
		{"size too small", []string{"serve", "--max-size", "10KB"}, 2, "minimum"},
		{"bad retention", []string{"serve", "--retention", "forever"}, 2, "--retention"},
		{"negative retention", []string{"serve", "--retention", "-1h"}, 2, "--retention"},
		{"token and token file", []string{"serve", "--token", "a", "--token-file", "main.go"}, 2, "give one"},
		{"missing token file", []string{"serve", "--token-file", "no-such-file"}, 2, "--token-file"},
		{"empty allowed host", []string{"serve", "--allowed-host", " "}, 2, "allowed-host"},
		{"nothing to serve", []string{"serve", "--otlp-grpc", "", "--otlp-http", "", "--http", ""}, 2, "nothing to serve"},
		{"demo help names the export variables", []string{"demo", "-h"}, 0, "OTEL_METRIC_EXPORT_INTERVAL=60000"},
		{"all-interfaces needs asking", []string{"serve", "--data-dir", "", "--http", ":0", "--otlp-grpc", "", "--otlp-http", ""}, 1, "no host"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr, nil)
			if code != tc.code {
				t.Errorf("exit code %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if out := stdout.String() + stderr.String(); !strings.Contains(out, tc.want) {
				t.Errorf("output does not mention %q:\n%s", tc.want, out)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	cases := map[string]int64{"256MiB": 256 << 20, "1GiB": 1 << 30, "2GB": 2e9, "1048576": 1 << 20, "1.5 MiB": 3 << 19, "64m": 64 << 20}
	for in, want := range cases {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-5MiB", "0", "1e30GB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) succeeded", in)
		}
	}
	if d, err := parseRetention("7d"); err != nil || d != 7*24*time.Hour {
		t.Errorf("parseRetention(7d) = %v, %v", d, err)
	}
}

type running struct {
	srv            *server.Server
	stdout, stderr *testutil.SyncBuffer
	stop           func() int
}

// startServe runs `loupe serve args...` until stop is called.
func startServe(t *testing.T, args ...string) running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := running{stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}}
	started := make(chan *server.Server, 1)
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), r.stdout, r.stderr, func(s *server.Server) { started <- s })
	}()
	select {
	case r.srv = <-started:
	case code := <-done:
		cancel()
		t.Fatalf("serve exited with %d: %s", code, r.stderr.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	r.stop = func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(15 * time.Second):
			t.Fatal("serve did not stop")
			return -1
		}
	}
	return r
}

// untilReplayed waits for serve to log that its data directory is
// replayed: it listens before, answering writes 503 until then.
func untilReplayed(t *testing.T, r running) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(r.stderr.String(), "store replayed"); {
		if time.Now().After(deadline) {
			t.Fatalf("no end of the replay logged: %s", r.stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func call(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServe runs `loupe serve` on ephemeral loopback ports with a token and
// a data directory, sends one OTLP/HTTP JSON request, reads it back from the
// Jaeger API, stops it as a signal would, and finds the trace again after a
// restart.
func TestServe(t *testing.T) {
	t.Setenv("LOUPE_TOKEN", "tok")
	dataDir := t.TempDir()
	args := []string{"--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--max-size", "8MiB", "--retention", "1h", "--data-dir", dataDir}
	const span = `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"cli-test"}}]},
		"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"hello",
		"startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`
	const traceURL = "/api/traces/5b8efff798038103d269b633813fc60c"

	r := startServe(t, args...)
	untilReplayed(t, r)
	if code, body := call(t, "POST", "http://"+r.srv.Addrs("otlp-http")[0].String()+"/v1/traces", span); code != 200 {
		t.Fatalf("OTLP/HTTP: %d %s", code, body)
	}
	code, body := call(t, "GET", "http://"+r.srv.Addrs("http")[0].String()+traceURL, "")
	if code != 200 || !strings.Contains(body, `"operationName":"hello"`) || !strings.Contains(body, `"serviceName":"cli-test"`) {
		t.Fatalf("trace by id: %d %s", code, body)
	}
	if out := r.stdout.String(); !strings.Contains(out, "bearer token required") || !strings.Contains(out, "8388608 bytes") || !strings.Contains(out, dataDir) {
		t.Errorf("start message: %s", out)
	}
	if code := r.stop(); code != 0 {
		t.Errorf("exit code %d after stop: %s", code, r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), "stopped") {
		t.Errorf("no stop message: %s", r.stderr.String())
	}

	r = startServe(t, args...)
	defer r.stop()
	untilReplayed(t, r)
	code, body = call(t, "GET", "http://"+r.srv.Addrs("http")[0].String()+traceURL, "")
	if code != 200 || !strings.Contains(body, `"operationName":"hello"`) {
		t.Fatalf("after a restart: %d %s", code, body)
	}
	if !strings.Contains(r.stderr.String(), "records=1") {
		t.Errorf("no recovery report: %s", r.stderr.String())
	}
}

// TestServeTokenFile reads the token from --token-file; --token works
// too, with a warning that other users can read it.
func TestServeTokenFile(t *testing.T) {
	t.Setenv("LOUPE_TOKEN", "")
	file := t.TempDir() + "/token"
	if err := os.WriteFile(file, []byte("  tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--token-file", file}, {"--token", "tok"}} {
		r := startServe(t, append([]string{"--otlp-grpc", "", "--otlp-http", "", "--http", "127.0.0.1:0", "--data-dir", ""}, args...)...)
		url := "http://" + r.srv.Addrs("http")[0].String() + "/api/services"
		if code, body := call(t, "GET", url, ""); code != 200 {
			t.Errorf("%v: with the token: %d %s", args, code, body)
		}
		if code, _ := get(t, url, ""); code != http.StatusUnauthorized {
			t.Errorf("%v: without the token: %d", args, code)
		}
		warned := strings.Contains(r.stderr.String(), "--token is visible")
		if code := r.stop(); code != 0 {
			t.Errorf("%v: exit code %d", args, code)
		}
		if warned != (args[0] == "--token") {
			t.Errorf("%v: warned %v: %s", args, warned, r.stderr.String())
		}
	}
}

// TestServeAllowedHost: without a token on loopback, a foreign Host gets
// 403 unless --allowed-host names it.
func TestServeAllowedHost(t *testing.T) {
	t.Setenv("LOUPE_TOKEN", "")
	r := startServe(t, "--otlp-grpc", "", "--otlp-http", "", "--http", "127.0.0.1:0", "--data-dir", "", "--allowed-host", "loupe.test")
	defer r.stop()
	url := "http://" + r.srv.Addrs("http")[0].String() + "/api/services"
	for host, want := range map[string]int{"": 200, "loupe.test": 200, "rebound.example": http.StatusForbidden} {
		if code, body := get(t, url, host); code != want {
			t.Errorf("Host %q: %d %s, want %d", host, code, body, want)
		}
	}
}

// get is a GET without a token, with Host host when not empty.
func get(t *testing.T, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeForward runs two servers: the first forwards what it receives to
// the second's OTLP/gRPC or OTLP/HTTP listener, and sends what it queued
// before it exits.
func TestServeForward(t *testing.T) {
	t.Setenv("LOUPE_TOKEN", "")
	target := startServe(t, "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--http", "127.0.0.1:0", "--data-dir", "")
	defer target.stop()
	for i, protocol := range []string{"grpc", "http/protobuf"} {
		fwd := target.srv.Addrs("otlp-grpc")[0].String()
		if protocol == "http/protobuf" {
			fwd = "http://" + target.srv.Addrs("otlp-http")[0].String()
		}
		source := startServe(t, "--otlp-grpc", "", "--otlp-http", "127.0.0.1:0", "--http", "", "--data-dir", "",
			"--forward", fwd, "--forward-protocol", protocol)
		traceID := fmt.Sprintf("5b8efff798038103d269b633813fc6%02x", i)
		span := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"fwd-test"}}]},
		"scopeSpans":[{"spans":[{"traceId":"` + traceID + `","spanId":"eee19b7ec3c1b174","name":"hello","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`
		if code, body := call(t, "POST", "http://"+source.srv.Addrs("otlp-http")[0].String()+"/v1/traces", span); code != 200 {
			t.Fatalf("%s: OTLP/HTTP: %d %s", protocol, code, body)
		}
		if want := "forwarding to " + fwd + " over " + protocol; !strings.Contains(source.stdout.String(), want) {
			t.Errorf("%s: start message %q lacks %q", protocol, source.stdout.String(), want)
		}
		if code := source.stop(); code != 0 {
			t.Fatalf("%s: source exit code %d: %s", protocol, code, source.stderr.String())
		}
		code, body := call(t, "GET", "http://"+target.srv.Addrs("http")[0].String()+"/api/traces/"+traceID, "")
		if code != 200 || !strings.Contains(body, `"serviceName":"fwd-test"`) {
			t.Fatalf("%s: forwarded trace: %d %s", protocol, code, body)
		}
	}
}

// TestServeForwardHeaders forwards to a second server that requires a
// bearer token, given once in $LOUPE_FORWARD_HEADERS and once as
// --forward-header, without the value ever being printed.
func TestServeForwardHeaders(t *testing.T) {
	target := startServe(t, "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "", "--http", "127.0.0.1:0", "--data-dir", "", "--token", "tok")
	defer target.stop()
	fwd := target.srv.Addrs("otlp-grpc")[0].String()
	for i, tc := range []struct {
		env  string
		args []string
	}{
		{env: "x-team=a, Authorization=Bearer%20tok"},
		{args: []string{"--forward-header", "Authorization=Bearer tok", "--forward-header", "x-team=a", "--forward-compression", "none"}},
	} {
		t.Setenv("LOUPE_TOKEN", "")
		t.Setenv("LOUPE_FORWARD_HEADERS", tc.env)
		source := startServe(t, append([]string{"--otlp-grpc", "", "--otlp-http", "127.0.0.1:0", "--http", "", "--data-dir", "", "--forward", fwd}, tc.args...)...)
		traceID := fmt.Sprintf("5b8efff798038103d269b633813fc6%02x", i)
		span := `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"fwd-test"}}]},
		"scopeSpans":[{"spans":[{"traceId":"` + traceID + `","spanId":"eee19b7ec3c1b174","name":"hello","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`
		if code, body := call(t, "POST", "http://"+source.srv.Addrs("otlp-http")[0].String()+"/v1/traces", span); code != 200 {
			t.Fatalf("OTLP/HTTP: %d %s", code, body)
		}
		if code := source.stop(); code != 0 {
			t.Fatalf("source exit code %d: %s", code, source.stderr.String())
		}
		out := source.stdout.String() + source.stderr.String()
		if !strings.Contains(out, "with headers authorization, x-team") || strings.Contains(out, "Bearer") {
			t.Errorf("%d: output: %s", i, out)
		}
		code, body := call(t, "GET", "http://"+target.srv.Addrs("http")[0].String()+"/api/traces/"+traceID, "")
		if code != 200 || !strings.Contains(body, `"serviceName":"fwd-test"`) {
			t.Fatalf("%d: forwarded trace: %d %s", i, code, body)
		}
	}
}
