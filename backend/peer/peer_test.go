package peer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/featuregate"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/internal/servertest"
)

// peersDir is where scripts/install-peers caches the binaries.
func peersDir() string {
	if d := os.Getenv("LOUPE_PEERS_DIR"); d != "" {
		return d
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(cache, "loupe", "peers")
}

func peer(t testing.TB, name string) string {
	t.Helper()
	bin := filepath.Join(peersDir(), name)
	if _, err := os.Stat(bin); err != nil {
		msg := fmt.Sprintf("%s not found at %s: run scripts/install-peers", name, bin)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startProcess runs a peer until the test ends, its output kept for failures.
func startProcess(t testing.TB, name, bin string, args ...string) int {
	t.Helper()
	return startProcessEnv(t, name, bin, nil, args...)
}

// startProcessEnv is startProcess with variables added to the environment.
func startProcessEnv(t testing.TB, name, bin string, env []string, args ...string) int {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", name, tail(out.String(), 3000))
		}
	})
	return cmd.Process.Pid
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// waitFor polls until ok returns true, at most for d.
func waitFor(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func get(url string) (int, []byte, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

const jaegerConfig = `
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
extensions:
  jaeger_query:
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
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{OTLP_GRPC}}
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

const collectorConfig = `
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {{OTLP_GRPC}}
exporters:
  otlp_grpc/jaeger:
    endpoint: {{JAEGER}}
    tls:
      insecure: true
  otlp_grpc/loupe:
    endpoint: {{LOUPE_GRPC}}
    tls:
      insecure: true
  otlp_http/loupe:
    endpoint: http://{{LOUPE_HTTP}}
    tls:
      insecure: true
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [otlp_grpc/jaeger, otlp_grpc/loupe, otlp_http/loupe]
`

func fill(tmpl string, vars map[string]string) string {
	for k, v := range vars {
		tmpl = strings.ReplaceAll(tmpl, "{{"+k+"}}", v)
	}
	return tmpl
}

// startLoupe runs the backend in-process with a memory store, OTLP on
// either gRPC or HTTP, and returns the query API's base URL and OTLP address.
func startLoupe(t *testing.T, grpcOTLP bool) (api, otlp string) {
	t.Helper()
	cfg, listener := server.Config{HTTPAddr: "127.0.0.1:0"}, "otlp-http"
	if grpcOTLP {
		cfg.OTLPGRPCAddr, listener = "127.0.0.1:0", "otlp-grpc"
	} else {
		cfg.OTLPHTTPAddr = "127.0.0.1:0"
	}
	srv := servertest.Start(t, cfg)
	return servertest.URL(srv, "http"), srv.Addrs(listener)[0].String()
}

func TestJaegerAPIMatchesJaeger(t *testing.T) {
	jaegerBin, collectorBin, genBin := peer(t, "jaeger"), peer(t, "otelcol"), peer(t, "telemetrygen")
	// As loupe serve runs: the receiver recycles requests through pdata's pools.
	if err := featuregate.GlobalRegistry().Set("pdata.useProtoPooling", true); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = featuregate.GlobalRegistry().Set("pdata.useProtoPooling", false) }()

	// Backends first: the Collector's gRPC reconnect backoff can hold the
	// first batch for minutes if it starts before them.
	jq, jg, jotlp := freeAddr(t), freeAddr(t), freeAddr(t)
	startProcess(t, "jaeger", jaegerBin, "--config", writeFile(t, "jaeger.yaml",
		fill(jaegerConfig, map[string]string{"QUERY_HTTP": jq, "QUERY_GRPC": jg, "OTLP_GRPC": jotlp})))
	jaegerAPI := "http://" + jq
	waitFor(t, 90*time.Second, "Jaeger's query API", func() bool {
		code, _, err := get(jaegerAPI + "/api/services")
		return err == nil && code == http.StatusOK
	})
	viaGRPC, loupeGRPC := startLoupe(t, true)
	viaHTTP, loupeHTTP := startLoupe(t, false)

	cotlp := freeAddr(t)
	startProcess(t, "otelcol", collectorBin, "--config", writeFile(t, "collector.yaml",
		fill(collectorConfig, map[string]string{"OTLP_GRPC": cotlp, "JAEGER": jotlp, "LOUPE_GRPC": loupeGRPC, "LOUPE_HTTP": loupeHTTP})))
	waitFor(t, 60*time.Second, "the Collector's OTLP port", func() bool {
		c, err := net.DialTimeout("tcp", cotlp, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	const service, traces = "peer-test", 12
	gen := exec.Command(genBin, "traces", "--otlp-endpoint", cotlp, "--otlp-insecure", "--rate", "0",
		"--traces", fmt.Sprint(traces), "--child-spans", "3", "--service", service,
		"--telemetry-attributes", `peer.case="compare"`, "--telemetry-attributes", "peer.int=42", "--telemetry-attributes", "peer.bool=true",
		"--otlp-attributes", `deployment.environment.name="peer"`, "--otlp-attributes", "host.cores=2",
		"--status-code", "Error", "--span-links", "1")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("telemetrygen: %v\n%s", err, out)
	}

	search := "/api/traces?service=" + service + "&limit=100&lookback=1h"
	backends := map[string]string{"jaeger": jaegerAPI, "loupe via gRPC": viaGRPC, "loupe via HTTP": viaHTTP}
	for name, base := range backends {
		waitFor(t, 60*time.Second, name+" to hold all traces", func() bool {
			code, body, err := get(base + search)
			if err != nil || code != http.StatusOK {
				return false
			}
			var resp struct{ Data []map[string]any }
			return json.Unmarshal(body, &resp) == nil && len(resp.Data) == traces && spanCount(resp.Data) == traces*4
		})
	}

	want := answers(t, jaegerAPI, search)
	if len(want) != 4+2*traces {
		t.Fatalf("Jaeger gave %d answers, want services, operations and search, and %d traces in two APIs", len(want), traces)
	}
	t.Logf("comparing %d answers; Jaeger's first trace:\n%s", len(want), tail(want["/api/traces/"+firstTraceID(t, want[search])], 1500))
	for _, name := range []string{"loupe via gRPC", "loupe via HTTP"} {
		got := answers(t, backends[name], search)
		for path, w := range want {
			if g := got[path]; g != w {
				t.Errorf("%s answers %s differently from Jaeger:\n%s", name, path, firstDiff(w, g))
			}
		}
	}
}

func firstTraceID(t *testing.T, search string) string {
	t.Helper()
	var res struct {
		Data []struct{ TraceID string }
	}
	if err := json.Unmarshal([]byte(search), &res); err != nil || len(res.Data) == 0 {
		t.Fatalf("search answer has no traces: %v", err)
	}
	return res.Data[0].TraceID
}

// firstDiff shows the lines around the first difference of two answers.
func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(wl) && i < len(gl) && wl[i] == gl[i] {
		i++
	}
	from, to := max(0, i-12), i+6
	window := func(lines []string) string {
		return strings.Join(lines[min(from, len(lines)):min(to, len(lines))], "\n")
	}
	return fmt.Sprintf("--- jaeger (line %d)\n%s\n--- loupe\n%s", i+1, window(wl), window(gl))
}

func spanCount(traces []map[string]any) int {
	n := 0
	for _, tr := range traces {
		spans, _ := tr["spans"].([]any)
		n += len(spans)
	}
	return n
}

// answers fetches /api/services, the search and each trace by id, normalised.
func answers(t *testing.T, base, search string) map[string]string {
	t.Helper()
	out := map[string]string{}
	fetch := func(path string) any {
		code, body, err := get(base + path)
		if err != nil || code != http.StatusOK {
			t.Fatalf("GET %s%s: %d %v %s", base, path, code, err, body)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("GET %s%s: %v", base, path, err)
		}
		return v
	}
	out["/api/services"] = canonical(normalise(fetch("/api/services")))
	res := normalise(fetch(search)).(map[string]any)
	out[search] = canonical(res)
	for _, tr := range res["data"].([]any) {
		id := tr.(map[string]any)["traceID"].(string)
		out["/api/traces/"+id] = canonical(normalise(fetch("/api/traces/" + id)))
		out["/api/v3/traces/"+id] = canonical(sortOTLP(fetch("/api/v3/traces/" + id)))
	}
	out["/api/v3/services"] = canonical(sortOTLP(fetch("/api/v3/services")))
	out["/api/v3/operations?service=peer-test"] = canonical(sortOTLP(fetch("/api/v3/operations?service=peer-test")))
	return out
}

func canonical(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// normalise removes only what Jaeger itself leaves unordered or arbitrary:
// the order of arrays (services, traces, spans, tags, references, logs) and
// the process ids (p1, p2, …), replaced by the process they name.
func normalise(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if data, ok := m["data"].([]any); ok {
		for i, d := range data {
			if tr, ok := d.(map[string]any); ok {
				data[i] = normaliseTrace(tr)
			}
		}
		sortBy(data, func(x any) string {
			if tr, ok := x.(map[string]any); ok {
				return fmt.Sprint(tr["traceID"])
			}
			return fmt.Sprint(x)
		})
	}
	for _, k := range []string{"errors", "warnings"} {
		if l, ok := m[k].([]any); ok && len(l) == 0 {
			m[k] = nil
		}
	}
	return m
}

func normaliseTrace(tr map[string]any) map[string]any {
	procs, _ := tr["processes"].(map[string]any)
	for _, p := range procs {
		if pm, ok := p.(map[string]any); ok {
			sortTags(pm)
		}
	}
	spans, _ := tr["spans"].([]any)
	for _, s := range spans {
		sp := s.(map[string]any)
		if pid, ok := sp["processID"].(string); ok {
			sp["process"] = procs[pid]
			delete(sp, "processID")
		}
		sortTags(sp)
		if refs, ok := sp["references"].([]any); ok {
			sortBy(refs, func(x any) string { return canonical(x) })
		}
		if logs, ok := sp["logs"].([]any); ok {
			for _, l := range logs {
				if lm, ok := l.(map[string]any); ok {
					if f, ok := lm["fields"].([]any); ok {
						sortBy(f, func(x any) string { return canonical(x) })
					}
				}
			}
			sortBy(logs, func(x any) string { return canonical(x) })
		}
		if w, ok := sp["warnings"].([]any); ok && len(w) == 0 {
			sp["warnings"] = nil
		}
	}
	sortBy(spans, func(x any) string { return fmt.Sprint(x.(map[string]any)["spanID"]) })
	delete(tr, "processes")
	if w, ok := tr["warnings"].([]any); ok && len(w) == 0 {
		tr["warnings"] = nil
	}
	return tr
}

// sortOTLP sorts every array of an api_v3 answer (resource and scope
// groups, spans, attributes, services, operations): OTLP gives their order
// no meaning and the two servers group spans differently.
func sortOTLP(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = sortOTLP(e)
		}
	case []any:
		for i, e := range x {
			x[i] = sortOTLP(e)
		}
		sortBy(x, func(e any) string { return canonical(e) })
	}
	return v
}

func sortTags(m map[string]any) {
	if tags, ok := m["tags"].([]any); ok {
		sortBy(tags, func(x any) string { return canonical(x) })
	}
}

func sortBy(list []any, key func(any) string) {
	sort.SliceStable(list, func(i, j int) bool { return key(list[i]) < key(list[j]) })
}
