// Package peertest runs the real peers Loupe's tests compare with or send
// to — Jaeger v2, the OpenTelemetry Collector, telemetrygen, built and cached
// by scripts/install-peers — as processes on 127.0.0.1, and compares Jaeger
// query API answers with what Jaeger itself leaves unordered set aside.
//
// A peer binary that is missing skips the test, except under CI=true,
// where it fails it: CI's .ci/run installs the peers first.
package peertest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/internal/testutil"
)

// Dir is where scripts/install-peers caches the binaries:
// $LOUPE_PEERS_DIR, else loupe/peers under the user cache directory.
func Dir() string {
	if d := os.Getenv("LOUPE_PEERS_DIR"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(cache, "loupe", "peers")
}

// Binary is the path of the cached peer name ("jaeger", "otelcol",
// "telemetrygen"); when it is missing, tb fails under CI=true and skips
// elsewhere.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	bin := filepath.Join(Dir(), name)
	if _, err := os.Stat(bin); err != nil {
		msg := fmt.Sprintf("%s not found at %s: run scripts/install-peers", name, bin)
		if os.Getenv("CI") == "true" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return bin
}

// FreeAddr returns a 127.0.0.1 address whose port was free a moment ago.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start runs bin until the test ends, with env added to this process's
// environment, and returns its pid. At the end it is stopped (killed, then
// waited for); its output is logged when the test failed.
func Start(tb testing.TB, name, bin string, env []string, args ...string) int {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	tb.Cleanup(func() {
		cancel()
		<-done
		if tb.Failed() {
			tb.Logf("%s output:\n%s", name, Tail(out.String(), 3000))
		}
	})
	return cmd.Process.Pid
}

// WaitFor polls ok every 200 ms until it returns true, and fails tb after d.
func WaitFor(tb testing.TB, d time.Duration, what string, ok func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// WaitTCP waits at most d for addr to accept connections.
func WaitTCP(tb testing.TB, d time.Duration, what, addr string) {
	tb.Helper()
	WaitFor(tb, d, what, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// Get fetches url (10 s timeout) and returns the status code and body.
func Get(url string) (int, []byte, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

// WriteFile writes content to a file named name in a temporary directory of
// the test and returns its path.
func WriteFile(tb testing.TB, name, content string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Fill replaces each {{KEY}} of tmpl with vars[KEY].
func Fill(tmpl string, vars map[string]string) string {
	for k, v := range vars {
		tmpl = strings.ReplaceAll(tmpl, "{{"+k+"}}", v)
	}
	return tmpl
}

// Tail is the last n bytes of s.
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// JaegerConfig is a Jaeger v2 all-in-one configuration on loopback, for
// [Fill]: memory storage, the query API's HTTP and gRPC on {{QUERY_HTTP}}
// and {{QUERY_GRPC}}, OTLP/gRPC in on {{OTLP_GRPC}}. (Jaeger's default
// configuration binds 0.0.0.0.)
const JaegerConfig = `
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: []
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{OTLP_GRPC}}
extensions:
  jaeger_query:
    # Jaeger would trace its own queries, to the OTLP default localhost:4317.
    enable_tracing: false
    storage:
      traces: mem
    http:
      endpoint: {{QUERY_HTTP}}
    grpc:
      endpoint: {{QUERY_GRPC}}
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

// StartJaeger runs Jaeger v2 with [JaegerConfig] on free ports, waits for
// its query API and returns the API's base URL and its OTLP/gRPC address.
func StartJaeger(tb testing.TB) (api, otlpGRPC string) {
	tb.Helper()
	jq, jg, jotlp := FreeAddr(tb), FreeAddr(tb), FreeAddr(tb)
	Start(tb, "jaeger", Binary(tb, "jaeger"), nil, "--config", WriteFile(tb, "jaeger.yaml",
		Fill(JaegerConfig, map[string]string{"QUERY_HTTP": jq, "QUERY_GRPC": jg, "OTLP_GRPC": jotlp})))
	api = "http://" + jq
	WaitFor(tb, 90*time.Second, "Jaeger's query API", func() bool {
		code, _, err := Get(api + "/api/services")
		return err == nil && code == http.StatusOK
	})
	return api, jotlp
}

var (
	loupeOnce sync.Once
	loupeBin  string
	loupeErr  error
)

// BuildLoupe builds cmd/loupe once per test binary, into a temporary
// directory, and returns the binary's path.
func BuildLoupe(tb testing.TB) string {
	tb.Helper()
	loupeOnce.Do(func() {
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Join(filepath.Dir(file), "..", "..")
		dir, err := os.MkdirTemp("", "loupe-peertest-")
		if err != nil {
			loupeErr = err
			return
		}
		loupeBin = filepath.Join(dir, "loupe")
		cmd := exec.Command("go", "build", "-o", loupeBin, "./cmd/loupe")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			loupeErr = fmt.Errorf("go build ./cmd/loupe: %v\n%s", err, out)
		}
	})
	if loupeErr != nil {
		tb.Fatal(loupeErr)
	}
	return loupeBin
}
