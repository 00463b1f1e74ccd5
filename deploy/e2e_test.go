package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/examples/demo"
	"github.com/loupe-dev/loupe/internal/peertest"
)

// The end-to-end run (issue 14): the demo platform, `loupe demo --backend
// none`, exports OTLP through the standard OTEL_* variables to the Collector
// built from collector/builder-config.yaml, running collector/config.yaml
// with only its addresses set through its variables. The Collector sends
// traces to a real Jaeger v2 and, in the Tempo exporter's place, to a
// `loupe serve`; metrics to a real Prometheus running prometheus.yml and
// rules/ as shipped (only the targets' addresses swapped); logs, in Loki's
// place, to the same `loupe serve` (see deploy/README.md for why not Loki).
// Everything is then checked through each engine's own API.

// e2eDemoDuration is how long the demo's traffic runs: its first round of
// injected failures takes 11 s, and Prometheus (15 s scrapes, rules every
// 15-30 s) needs the rest to see the burst.
const (
	e2eDemoDuration = 50 * time.Second
	e2eBurstAfter   = 25 * time.Second // the test's own burst of failures, once the first scrapes are in
	e2eBurstSize    = 40
	// e2eSettle bounds the wait, after the demo stopped, for tail sampling's
	// decisions (decision_wait 30 s as shipped), the batch, and the engines.
	e2eSettle = 150 * time.Second
)

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("the end-to-end run takes about 90 s")
	}
	start := time.Now()
	otelcol := otelcolBinary(t)
	prometheus := lookPath(t, "prometheus")
	jaegerAPI, jaegerOTLP := peertest.StartJaeger(t)
	loupeBin := peertest.BuildLoupe(t)

	// loupe serve, in memory: Tempo's place for traces, Loki's for logs.
	lgrpc, lhttp, lapi := peertest.FreeAddr(t), peertest.FreeAddr(t), peertest.FreeAddr(t)
	peertest.Start(t, "loupe serve", loupeBin, nil, "serve", "--otlp-grpc", lgrpc, "--otlp-http", lhttp, "--http", lapi, "--data-dir", "")
	loupeAPI := "http://" + lapi

	// The Collector's addresses, every one from the variables its
	// configuration reads.
	col := map[string]string{
		"OTELCOL_OTLP_GRPC_ENDPOINT":  peertest.FreeAddr(t),
		"OTELCOL_OTLP_HTTP_ENDPOINT":  peertest.FreeAddr(t),
		"OTELCOL_HEALTH_ENDPOINT":     peertest.FreeAddr(t),
		"OTELCOL_PROMETHEUS_ENDPOINT": peertest.FreeAddr(t),
		"OTELCOL_METRICS_HOST":        "127.0.0.1",
		"OTELCOL_METRICS_PORT":        port(peertest.FreeAddr(t)),
		"JAEGER_OTLP_ENDPOINT":        jaegerOTLP,
		"TEMPO_OTLP_ENDPOINT":         lgrpc,
		"LOKI_OTLP_ENDPOINT":          "http://" + lhttp,
	}
	promAPI := startPrometheus(t, prometheus, col["OTELCOL_PROMETHEUS_ENDPOINT"], "127.0.0.1:"+col["OTELCOL_METRICS_PORT"])
	peertest.WaitFor(t, 60*time.Second, "loupe serve's query API", func() bool {
		code, _, err := peertest.Get(loupeAPI + "/api/services")
		return err == nil && code == http.StatusOK
	})

	// The Collector last: its exporters' backends are up (its gRPC
	// reconnect backoff can otherwise hold the first batch for minutes).
	var env []string
	for k, v := range col {
		env = append(env, k+"="+v)
	}
	config, err := filepath.Abs(collectorConfig)
	if err != nil {
		t.Fatal(err)
	}
	peertest.Start(t, "otelcol-deploy", otelcol, env, "--config", config)
	peertest.WaitFor(t, 60*time.Second, "the Collector's health check", func() bool {
		code, _, err := peertest.Get("http://" + col["OTELCOL_HEALTH_ENDPOINT"] + "/")
		return err == nil && code == http.StatusOK
	})
	t.Logf("engines up in %v: Jaeger %s, Prometheus %s, loupe serve %s", time.Since(start).Round(time.Second), jaegerAPI, promAPI, loupeAPI)

	// The platform, exporting through the standard variables.
	run := runDemo(t, loupeBin, "http://"+col["OTELCOL_OTLP_HTTP_ENDPOINT"])
	prom := &engine{"Prometheus", promAPI}
	burst := run.burst(t, prom)
	answers := run.wait(t)
	demoEnd := time.Now()
	for code, n := range burst {
		answers[code] += n
	}
	t.Logf("the gateway answered %v (the burst: %v)", answers, burst)

	jaeger, loupe := &engine{"Jaeger", jaegerAPI}, &engine{"loupe serve", loupeAPI}
	deadline := demoEnd.Add(e2eSettle)

	var found map[string]*traceView
	t.Run("jaeger", func(t *testing.T) {
		found = checkJaeger(t, jaeger, answers, deadline)
	})
	t.Run("prometheus", func(t *testing.T) {
		checkPrometheus(t, prom, jaeger, start, deadline)
	})
	t.Run("failed jobs", func(t *testing.T) {
		checkFailedJobs(t, prom, jaeger, deadline)
	})
	t.Run("logs", func(t *testing.T) {
		if found["chat"] == nil || found[demo.FaultPanic] == nil {
			t.Skip("no chat trace through every service or no panic trace (see the jaeger test)")
		}
		if err := traceLogs(t, loupe, found["chat"], "chat answered", deadline); err != nil {
			t.Errorf("the chat trace's log records: %v", err)
		}
		checkPanicLogs(t, loupe, prom, answers[http.StatusInternalServerError], deadline)
		if err := traceLogs(t, loupe, found[demo.FaultPanic], "recovered from a panic", deadline); err != nil {
			t.Errorf("the panic trace's log records: %v", err)
		}
	})
	t.Run("loupe serve answers as Jaeger", func(t *testing.T) {
		compareWithJaeger(t, jaeger, loupe, deadline)
	})
	t.Logf("end-to-end run: %v", time.Since(start).Round(time.Second))
}

// port is the port of a host:port address.
func port(addr string) string {
	_, p, _ := strings.Cut(addr, ":")
	return p
}

// startPrometheus runs Prometheus on prometheus/prometheus.yml and
// prometheus/rules as shipped, with exemplar storage; only the targets'
// addresses (compose names) and its own are swapped for loopback ones.
func startPrometheus(t *testing.T, bin, exporter, collector string) string {
	t.Helper()
	dir := t.TempDir()
	listen := peertest.FreeAddr(t)
	copyFile := func(from, to string, replace ...string) {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer(replace...).Replace(string(b))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("prometheus/prometheus.yml", filepath.Join(dir, "prometheus.yml"), "localhost:9090", listen)
	copyFile("prometheus/targets/collector-exporter.yml", filepath.Join(dir, "targets/collector-exporter.yml"), "otel-collector:8889", exporter)
	copyFile("prometheus/targets/collector.yml", filepath.Join(dir, "targets/collector.yml"), "otel-collector:8888", collector)
	rules, err := filepath.Glob("prometheus/rules/*.yml")
	if err != nil || len(rules) == 0 {
		t.Fatalf("no rules in prometheus/rules: %v", err)
	}
	for _, r := range rules {
		copyFile(r, filepath.Join(dir, "rules", filepath.Base(r)))
	}
	peertest.Start(t, "prometheus", bin, nil, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+listen,
		"--enable-feature=exemplar-storage", "--log.level=warn")
	api := "http://" + listen
	peertest.WaitFor(t, 60*time.Second, "Prometheus ready", func() bool {
		code, _, err := peertest.Get(api + "/-/ready")
		return err == nil && code == http.StatusOK
	})
	return api
}

// demoRun is a running `loupe demo --backend none`.
type demoRun struct {
	cmd     *exec.Cmd
	out     *lineBuffer
	gateway string // http://host:port
	started time.Time
	done    chan error
}

func runDemo(t *testing.T, bin, otlp string) *demoRun {
	t.Helper()
	cmd := exec.Command(bin, "demo", "--backend", "none", "--rate", "5", "--duration", e2eDemoDuration.String())
	cmd.Env = append(os.Environ(), "OTEL_EXPORTER_OTLP_ENDPOINT="+otlp, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
	r := &demoRun{cmd: cmd, out: &lineBuffer{gateway: make(chan string, 1)}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("loupe demo: %v", err)
	}
	r.started = time.Now()
	go func() { r.done <- cmd.Wait() }()
	t.Cleanup(func() {
		// SIGTERM: the launcher stops its services in order (they die with
		// it in any case: Pdeathsig).
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("loupe demo output:\n%s", peertest.Tail(r.out.String(), 6000))
		}
	})
	select {
	case r.gateway = <-r.out.gateway:
	case err := <-r.done:
		r.done <- err
		t.Fatalf("loupe demo exited before its gateway was up: %v", err)
	case <-time.After(90 * time.Second):
		t.Fatal("loupe demo: no gateway within 90 s")
	}
	return r
}

// burst sends e2eBurstSize chats that panic in the orchestrator (the
// injected failure the error-rate alert must see) and as many spoken chats
// (each reaches all five services; tail sampling keeps 10% of them). It
// returns the gateway's answers by status.
//
// It waits for e2eBurstAfter and for Prometheus to hold the 5xx series of
// the demo's own first panic: rate() counts no increase in a series'
// first sample, so a burst scraped with its series' first sample would not
// show.
func (r *demoRun) burst(t *testing.T, prom *engine) map[int]int {
	t.Helper()
	time.Sleep(time.Until(r.started.Add(e2eBurstAfter)))
	const panics = `count by (job) (http_server_request_duration_seconds_count{job=~"gateway|orchestrator", http_response_status_code=~"5..|", http_response_status_code!="504"})`
	poll(t, r.started.Add(e2eDemoDuration-10*time.Second), "Prometheus holding the first panic's series", func() error {
		res, err := promQuery(prom, panics)
		if err != nil || len(res) < 2 {
			return fmt.Errorf("%s: %v %v", panics, res, err)
		}
		return nil
	})
	t.Logf("the burst, %v after the demo started", time.Since(r.started).Round(time.Second))
	client := &http.Client{Timeout: 20 * time.Second}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 2 * e2eBurstSize {
		wg.Go(func() {
			body := `{"project":"support-bot","message":"Why did checkout latency spike yesterday?","speak":true}`
			req, err := http.NewRequest(http.MethodPost, r.gateway+"/v1/chat", strings.NewReader(body))
			if err != nil {
				return
			}
			req.Header.Set("Content-Type", "application/json")
			// Ten clients, eight requests each: under the rate limit of 20/s.
			req.Header.Set(demo.ClientHeader, fmt.Sprintf("e2e-%d", i%10))
			if i%2 == 0 {
				req.Header.Set("Baggage", demo.FaultKey+"="+demo.FaultPanic)
			}
			code := 0
			if resp, err := client.Do(req); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				code = resp.StatusCode
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusInternalServerError] != e2eBurstSize {
		t.Errorf("the burst's %d panicking chats got %v, want %d×500", e2eBurstSize, codes, e2eBurstSize)
	}
	return codes
}

// wait waits for the demo to end and returns the gateway's answers by status
// from its summary.
func (r *demoRun) wait(t *testing.T) map[int]int {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		if err != nil {
			t.Fatalf("loupe demo: %v", err)
		}
	case <-time.After(e2eDemoDuration + 90*time.Second):
		t.Fatal("loupe demo did not stop")
	}
	answers := map[int]int{}
	summary := false
	count := regexp.MustCompile(`(\d+)×(\d+)`)
	for _, line := range strings.Split(r.out.String(), "\n") {
		if strings.Contains(line, "answers by endpoint and status") {
			summary = true
			continue
		}
		if !summary || !strings.HasPrefix(line, "  POST ") {
			continue
		}
		for _, m := range count.FindAllStringSubmatch(line, -1) {
			n, _ := strconv.Atoi(m[1])
			code, _ := strconv.Atoi(m[2])
			answers[code] += n
		}
	}
	if len(answers) == 0 {
		t.Fatal("loupe demo printed no summary of answers")
	}
	return answers
}

// lineBuffer keeps a process's output and finds the gateway's address in it.
type lineBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	line    []byte
	gateway chan string
}

var gatewayLine = regexp.MustCompile(`^\s+gateway\s+(http://\S+)`)

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	b.line = append(b.line, p...)
	for {
		i := bytes.IndexByte(b.line, '\n')
		if i < 0 {
			break
		}
		if m := gatewayLine.FindSubmatch(b.line[:i]); m != nil {
			select {
			case b.gateway <- string(m[1]):
			default:
			}
		}
		b.line = b.line[i+1:]
	}
	return len(p), nil
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// engine is an engine's HTTP API.
type engine struct{ name, base string }

// get decodes the JSON answer of GET path?query into out.
func (e *engine) get(path string, query url.Values, out any) error {
	u := e.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	code, body, err := peertest.Get(u)
	if err != nil {
		return fmt.Errorf("%s: GET %s: %w", e.name, u, err)
	}
	if code != http.StatusOK {
		return fmt.Errorf("%s: GET %s: %d %s", e.name, u, code, peertest.Tail(string(body), 300))
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: GET %s: %w", e.name, u, err)
	}
	return nil
}

// poll runs check every 2 s until it returns nil or the deadline passes,
// then fails t with its last error.
func poll(t *testing.T, deadline time.Time, what string, check func() error) {
	t.Helper()
	if err := pollErr(deadline, check); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// pollErr runs check every 2 s until it returns nil or the deadline passes,
// and returns its last error.
func pollErr(deadline time.Time, check func() error) error {
	for {
		err := check()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(2 * time.Second)
	}
}

// The Jaeger v1 JSON of a trace.
type (
	jTrace struct {
		TraceID   string
		Spans     []*jSpan
		Processes map[string]struct{ ServiceName string }
	}
	jSpan struct {
		SpanID, OperationName, ProcessID string
		References                       []struct{ RefType, SpanID string }
		Tags                             []jKV
		Logs                             []struct{ Fields []jKV }
		service                          string
		tags                             map[string]string
	}
	jKV struct {
		Key   string
		Value any
	}
)

// tag is the span's tag as text, "" when it has none of that key.
func (s *jSpan) tag(key string) string { return s.tags[key] }

func (s *jSpan) String() string {
	return s.service + " " + strconv.Quote(s.OperationName) + " " + s.SpanID
}

// traceView is a trace with each span's parent.
type traceView struct {
	*jTrace
	byID   map[string]*jSpan
	parent map[*jSpan]*jSpan
	roots  []*jSpan
	errs   []error // orphans
}

func newTraceView(tr *jTrace) *traceView {
	v := &traceView{jTrace: tr, byID: map[string]*jSpan{}, parent: map[*jSpan]*jSpan{}}
	for _, s := range tr.Spans {
		s.service = tr.Processes[s.ProcessID].ServiceName
		s.tags = make(map[string]string, len(s.Tags))
		for _, kv := range s.Tags {
			s.tags[kv.Key] = fmt.Sprint(kv.Value)
		}
		v.byID[s.SpanID] = s
	}
	for _, s := range tr.Spans {
		i := slices.IndexFunc(s.References, func(r struct{ RefType, SpanID string }) bool { return r.RefType == "CHILD_OF" })
		switch {
		case i < 0:
			v.roots = append(v.roots, s)
		case v.byID[s.References[i].SpanID] == nil:
			v.errs = append(v.errs, fmt.Errorf("%v is an orphan: its parent %s is not in the trace", s, s.References[i].SpanID))
		default:
			v.parent[s] = v.byID[s.References[i].SpanID]
		}
	}
	return v
}

// root is the trace's one root span, nil when it has none or several.
func (v *traceView) root() *jSpan {
	if len(v.roots) != 1 {
		return nil
	}
	return v.roots[0]
}

// linkProblems returns why the trace's parent links are wrong: an orphan,
// more than one root, a request's trace whose root is not the gateway's
// server span (traces of work outside a request, such as the gateway's
// schema statements at start, have their own root), or a span whose parent
// is in another service without being the client or producer side of the
// call it serves.
func (v *traceView) linkProblems() []error {
	errs := slices.Clone(v.errs)
	request := slices.ContainsFunc(v.Spans, func(s *jSpan) bool { return s.service == "gateway" && s.tag("span.kind") == "server" })
	if r := v.root(); r == nil || request && (r.service != "gateway" || r.tag("span.kind") != "server") {
		errs = append(errs, fmt.Errorf("roots %v, want one, the gateway's server span in a request's trace", v.roots))
	}
	for s, p := range v.parent {
		if s.service == p.service {
			continue
		}
		kinds := p.tag("span.kind") + "→" + s.tag("span.kind")
		if kinds != "client→server" && kinds != "producer→consumer" {
			errs = append(errs, fmt.Errorf("%v has the parent %v: across services want client→server or producer→consumer", s, p))
		}
	}
	return errs
}

func (v *traceView) services() []string {
	var out []string
	for _, s := range v.Spans {
		out = append(out, s.service)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// search returns the traces of GET /api/traces for params (lookback 1h).
func (e *engine) search(params url.Values) (map[string]*traceView, error) {
	params.Set("lookback", "1h")
	if params.Get("limit") == "" {
		params.Set("limit", "10000")
	}
	var resp struct{ Data []*jTrace }
	if err := e.get("/api/traces", params, &resp); err != nil {
		return nil, err
	}
	out := map[string]*traceView{}
	for _, tr := range resp.Data {
		out[tr.TraceID] = newTraceView(tr)
	}
	return out, nil
}

// allTraces returns every trace the engine has, by id: each service's.
func (e *engine) allTraces() (map[string]*traceView, error) {
	var svc struct{ Data []string }
	if err := e.get("/api/services", nil, &svc); err != nil {
		return nil, err
	}
	all := map[string]*traceView{}
	for _, s := range svc.Data {
		found, err := e.search(url.Values{"service": {s}})
		if err != nil {
			return nil, err
		}
		for id, v := range found {
			all[id] = v
		}
	}
	return all, nil
}

// demoServices are the services of the platform.
var demoServices = []string{"gateway", "llm", "orchestrator", "tts", "worker"}

// checkJaeger checks what Jaeger holds once tail sampling decided: every
// trace whole, with correct parent links; as many traces answered 4xx and
// 5xx at the gateway as the traffic and the burst got (tail sampling kept
// every one); an error trace for each injected failure kind that fails a
// request; and a chat trace through all five services. It returns a trace
// of each kind, and the chat trace as "chat".
func checkJaeger(t *testing.T, jaeger *engine, answers map[int]int, deadline time.Time) map[string]*traceView {
	var chat *traceView
	var all map[string]*traceView
	poll(t, deadline, "Jaeger", func() error {
		var err error
		if all, err = jaeger.allTraces(); err != nil {
			return err
		}
		got := map[int]int{}
		chat = nil
		for _, v := range all {
			if r := v.root(); r != nil && r.service == "gateway" {
				if code, err := strconv.Atoi(r.tag("http.response.status_code")); err == nil && code >= 400 {
					got[code]++
				}
			}
			if chat == nil && slices.Equal(v.services(), demoServices) && len(v.linkProblems()) == 0 &&
				v.root().OperationName == "POST /v1/chat" {
				chat = v
			}
		}
		var errs []string
		for code, n := range answers {
			if code >= 400 && got[code] != n {
				errs = append(errs, fmt.Sprintf("%d traces answered %d, the gateway answered %d", got[code], code, n))
			}
		}
		for code, n := range got {
			if answers[code] == 0 {
				errs = append(errs, fmt.Sprintf("%d traces answered %d, the gateway answered none", n, code))
			}
		}
		if chat == nil {
			errs = append(errs, "no whole chat trace through "+strings.Join(demoServices, ", "))
		}
		if len(errs) > 0 {
			return fmt.Errorf("among %d traces: %s", len(all), strings.Join(errs, "; "))
		}
		return nil
	})
	if t.Failed() {
		return nil
	}
	found := map[string]*traceView{"chat": chat}
	t.Logf("Jaeger: %d traces; the gateway's errors all kept: %v; chat trace %s (%d spans)", len(all), answers, chat.TraceID, len(chat.Spans))

	var problems []error
	for _, v := range all {
		for _, err := range v.linkProblems() {
			problems = append(problems, fmt.Errorf("trace %s: %w", v.TraceID, err))
		}
	}
	if len(problems) > 0 {
		t.Errorf("%d problems in parent links, first: %v", len(problems), problems[:min(5, len(problems))])
	}
	for kind, ok := range map[string]func(*traceView) bool{
		demo.FaultPanic:      isPanic,
		demo.FaultLLMTimeout: isLLMTimeout,
		"rate_limit":         rootAnswered(http.StatusTooManyRequests),
		"validation":         rootAnswered(http.StatusBadRequest),
	} {
		traces := slices.Collect(maps.Values(all))
		if i := slices.IndexFunc(traces, ok); i >= 0 {
			found[kind] = traces[i]
		} else {
			t.Errorf("no error trace of the injected %s in Jaeger", kind)
		}
	}
	return found
}

func rootAnswered(code int) func(*traceView) bool {
	return func(v *traceView) bool {
		r := v.root()
		return r != nil && r.tag("http.response.status_code") == strconv.Itoa(code)
	}
}

// isPanic: answered 500, the orchestrator's chat span in error with the
// panic's exception event.
func isPanic(v *traceView) bool {
	if !rootAnswered(http.StatusInternalServerError)(v) {
		return false
	}
	return slices.ContainsFunc(v.Spans, func(s *jSpan) bool {
		return s.service == "orchestrator" && s.tag("error") == "true" && slices.ContainsFunc(s.Logs, func(l struct{ Fields []jKV }) bool {
			return slices.ContainsFunc(l.Fields, func(kv jKV) bool {
				return kv.Key == "exception.message" && strings.Contains(fmt.Sprint(kv.Value), "injected panic")
			})
		})
	})
}

// isLLMTimeout: answered 504, with a model call in error.type timeout.
func isLLMTimeout(v *traceView) bool {
	if !rootAnswered(http.StatusGatewayTimeout)(v) {
		return false
	}
	return slices.ContainsFunc(v.Spans, func(s *jSpan) bool {
		return strings.HasPrefix(s.OperationName, "chat ") && s.tag("error") == "true" && s.tag("error.type") == "timeout"
	})
}

// promQuery runs an instant PromQL query and returns its vector: each
// series' labels, and its value under "value".
func promQuery(p *engine, q string) ([]map[string]string, error) {
	var resp struct {
		Data struct {
			Result []struct {
				Metric map[string]string
				Value  []any
			}
		}
	}
	if err := p.get("/api/v1/query", url.Values{"query": {q}}, &resp); err != nil {
		return nil, err
	}
	out := make([]map[string]string, len(resp.Data.Result))
	for i, r := range resp.Data.Result {
		out[i] = r.Metric
		if len(r.Value) == 2 {
			out[i]["value"] = fmt.Sprint(r.Value[1])
		}
	}
	return out, nil
}

// checkPrometheus checks, through Prometheus' API: the request, GenAI and
// agent metrics under their documented names; a series from every recording
// rule; the error-rate alert pending or firing after the burst of panics;
// exemplars whose traces Jaeger has, every one of a failed or slow request
// among them; no trace evicted by tail sampling before its decision.
func checkPrometheus(t *testing.T, prom, jaeger *engine, since time.Time, deadline time.Time) {
	var want []string
	for _, m := range serviceMetrics {
		if strings.HasPrefix(m, "http_server_") || strings.HasPrefix(m, "gen_ai_") || strings.HasPrefix(m, "agent") {
			want = append(want, m)
		}
	}
	poll(t, deadline, "metric names", func() error {
		var resp struct{ Data []string }
		if err := prom.get("/api/v1/label/__name__/values", nil, &resp); err != nil {
			return err
		}
		var missing []string
		for _, m := range want {
			if !slices.Contains(resp.Data, m) {
				missing = append(missing, m)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("missing %v", missing)
		}
		return nil
	})

	var rules struct {
		Groups []struct {
			Rules []struct{ Record string }
		}
	}
	readYAML(t, "prometheus/rules/recording.yml", &rules)
	var records []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			records = append(records, r.Record)
		}
	}
	poll(t, deadline, "recording rules", func() error {
		var empty []string
		for _, r := range records {
			res, err := promQuery(prom, r)
			if err != nil {
				return err
			}
			if len(res) == 0 {
				empty = append(empty, r)
			}
		}
		if len(empty) > 0 {
			return fmt.Errorf("%d of %d rules have no series: %v", len(empty), len(records), empty)
		}
		return nil
	})

	poll(t, deadline, "ServiceHighErrorRate pending or firing after the burst of panics", func() error {
		res, err := promQuery(prom, `ALERTS{alertname="ServiceHighErrorRate"}`)
		if err != nil {
			return err
		}
		if len(res) == 0 {
			all, _ := promQuery(prom, "ALERTS")
			return fmt.Errorf("not pending; the alerts: %v", all)
		}
		t.Logf("alerts: %v", res)
		return nil
	})

	poll(t, deadline, "exemplars", func() error {
		return checkExemplars(t, prom, jaeger, since)
	})

	res, err := promQuery(prom, `sum(otelcol_processor_tail_sampling_sampling_trace_dropped_too_early_total) > 0`)
	if err != nil {
		t.Error(err)
	} else if len(res) > 0 {
		t.Error("tail sampling evicted traces before deciding on them")
	}
}

// checkExemplars reads every exemplar of the run: each one of a failed
// request or call (HTTP, RPC and GenAI histograms with a status of 400 or
// more, or an error.type) or of a value above the 2.5 s latency threshold
// must name a trace Jaeger has, since tail sampling keeps every such trace;
// and there must be some. Other histograms' error labels are not failed
// requests: redisotel's db_client_connections_use_time_milliseconds says
// status="error" for Redis calls of requests that went on, in traces with
// no span in error.
func checkExemplars(t *testing.T, prom, jaeger *engine, since time.Time) error {
	var resp struct {
		Data []struct {
			SeriesLabels map[string]string
			Exemplars    []struct {
				Labels map[string]string
				Value  string
			}
		}
	}
	if err := prom.get("/api/v1/query_exemplars", url.Values{"query": {`{__name__=~".+_bucket"}`},
		"start": {strconv.FormatInt(since.Unix(), 10)}, "end": {strconv.FormatInt(time.Now().Unix()+60, 10)}}, &resp); err != nil {
		return err
	}
	type exemplar struct {
		series, traceID string
		kept            bool // tail sampling must have kept its trace
	}
	var all []exemplar
	for _, s := range resp.Data {
		name := s.SeriesLabels["__name__"]
		request := strings.HasPrefix(name, "http_") || strings.HasPrefix(name, "rpc_") || strings.HasPrefix(name, "gen_ai_")
		code, _ := strconv.Atoi(s.SeriesLabels["http_response_status_code"])
		failed := request && (code >= 400 || s.SeriesLabels["error_type"] != "")
		for _, e := range s.Exemplars {
			v, _ := strconv.ParseFloat(e.Value, 64)
			slow := request && strings.HasSuffix(name, "_seconds_bucket") && v > 2.5
			all = append(all, exemplar{fmt.Sprint(s.SeriesLabels), e.Labels["trace_id"], failed || slow})
		}
	}
	ids := map[string]bool{}
	for _, e := range all {
		ids[e.traceID] = true
	}
	found := map[string]bool{}
	var list []string
	for id := range ids {
		list = append(list, id)
	}
	slices.Sort(list)
	for chunk := range slices.Chunk(list, 50) {
		got, err := jaeger.search(url.Values{"traceID": chunk})
		if err != nil {
			return err
		}
		for _, v := range got {
			found[normTraceID(v.TraceID)] = true
		}
	}
	kept, mustKeep, inJaeger := 0, 0, 0
	var missing []string
	for _, e := range all {
		in := found[normTraceID(e.traceID)]
		if in {
			inJaeger++
		}
		if e.kept {
			mustKeep++
			if in {
				kept++
			} else {
				missing = append(missing, e.traceID+" of "+e.series)
			}
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Errorf("%d exemplars of failed or slow requests name traces Jaeger does not have: %v", len(missing), missing[:min(5, len(missing))])
	case mustKeep == 0:
		return fmt.Errorf("no exemplar of a failed or slow request among %d", len(all))
	}
	t.Logf("exemplars: %d, %d with their trace in Jaeger, %d of them of failed or slow requests (all kept)", len(all), inJaeger, kept)
	return nil
}

// checkFailedJobs compares the worker's failed jobs (worker_jobs_failed_total
// in Prometheus) with the traces in Jaeger whose worker's "process jobs"
// span is in error: the job runs from the queue after the chat was answered
// 200, so only its own error makes tail sampling keep the trace, and it
// must.
func checkFailedJobs(t *testing.T, prom, jaeger *engine, deadline time.Time) {
	poll(t, deadline, "failed jobs' traces", func() error {
		res, err := promQuery(prom, "sum(worker_jobs_failed_total)")
		if err != nil {
			return err
		}
		failed := 0
		if len(res) == 1 {
			failed, _ = strconv.Atoi(res[0]["value"])
		}
		all, err := jaeger.allTraces()
		if err != nil {
			return err
		}
		inJaeger := 0
		for _, v := range all {
			for _, s := range v.Spans {
				if s.service == "worker" && s.OperationName == "process jobs" && s.tag("error") == "true" {
					inJaeger++
				}
			}
		}
		if failed != inJaeger {
			return fmt.Errorf("Prometheus counts %d failed jobs, Jaeger holds %d", failed, inJaeger)
		}
		t.Logf("%d failed jobs, each one's trace kept", failed)
		return nil
	})
}

// normTraceID is a trace id in 32 lower-case hex digits (Jaeger drops a
// zero high half).
func normTraceID(id string) string {
	id = strings.ToLower(id)
	return strings.Repeat("0", max(0, 32-len(id))) + id
}

// traceLogs reads, in the logs engine, the log records of a trace that
// Jaeger has, until there is one whose body contains want and each carries
// the span id of a span of that trace in Jaeger, of its own service, with
// the environment the Collector sets; or returns why not at the deadline.
func traceLogs(t *testing.T, logs *engine, v *traceView, want string, deadline time.Time) error {
	return pollErr(deadline, func() error {
		var resp struct {
			Logs []struct {
				TraceID, SpanID, Service string
				Body                     any
				Resource                 map[string]any
			}
		}
		if err := logs.get("/api/logs", url.Values{"trace_id": {normTraceID(v.TraceID)}, "lookback": {"1h"}}, &resp); err != nil {
			return err
		}
		wanted := false
		for _, r := range resp.Logs {
			s := v.byID[strings.ToLower(r.SpanID)]
			if s == nil {
				return fmt.Errorf("%s's record %q has span id %q, not a span of trace %s", r.Service, r.Body, r.SpanID, v.TraceID)
			}
			if s.service != r.Service {
				return fmt.Errorf("%s's record %q points at %v", r.Service, r.Body, s)
			}
			if env := fmt.Sprint(r.Resource["deployment.environment.name"]); env != "demo" {
				return fmt.Errorf("%s's record %q has deployment.environment.name %q, want the Collector's demo", r.Service, r.Body, env)
			}
			wanted = wanted || strings.Contains(fmt.Sprint(r.Body), want)
		}
		if !wanted {
			return fmt.Errorf("trace %s: no record %q among %d%s", v.TraceID, want, len(resp.Logs), searchedByText(logs, v.TraceID, want))
		}
		t.Logf("trace %s: %d log records, each on a span of the trace, %q among them", v.TraceID, len(resp.Logs), want)
		return nil
	})
}

// searchedByText says whether the logs engine has a record of text for
// the trace when searched by text rather than by trace id: if it has, its
// search by trace id misses a record it holds.
func searchedByText(logs *engine, traceID, text string) string {
	var resp struct {
		Logs []struct{ TraceID, SpanID, Service string }
	}
	if err := logs.get("/api/logs", url.Values{"q": {text}, "lookback": {"1h"}, "limit": {"10000"}}, &resp); err != nil {
		return "; " + err.Error()
	}
	byTrace := map[string]int{}
	for _, r := range resp.Logs {
		if normTraceID(r.TraceID) == normTraceID(traceID) {
			return fmt.Sprintf("; yet searched by text, %s's record of span %s has that trace id: the search by trace_id misses it", r.Service, r.SpanID)
		}
		byTrace[normTraceID(r.TraceID)]++
	}
	var twice []string
	for id, n := range byTrace {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s×%d", id, n))
		}
	}
	return fmt.Sprintf("; searched by text, none of its %d records has that trace id (%d trace ids; more than one record: %v)", len(resp.Logs), len(byTrace), twice)
}

// checkPanicLogs counts the orchestrator's "recovered from a panic" records
// in the logs engine: one per 500 the gateway answered, none lost on the way
// (the SDK's, the Collector's and the engine's queues). When some are
// missing it says which counters of loss Prometheus has.
func checkPanicLogs(t *testing.T, logs, prom *engine, panics int, deadline time.Time) {
	poll(t, deadline, "the panics' log records", func() error {
		var resp struct{ Logs []struct{ TraceID string } }
		if err := logs.get("/api/logs", url.Values{"service": {"orchestrator"}, "q": {"recovered from a panic"}, "lookback": {"1h"}, "limit": {"1000"}}, &resp); err != nil {
			return err
		}
		if len(resp.Logs) == panics {
			t.Logf("%d records of a recovered panic, one per 500", panics)
			return nil
		}
		var lost []string
		for _, q := range []string{"loupe_telemetry_logs_dropped_total", "loupe_telemetry_logs_failed_total",
			"otelcol_exporter_send_failed_log_records_total", "otelcol_exporter_enqueue_failed_log_records_total",
			"otelcol_receiver_refused_log_records_total", "otelcol_exporter_sent_log_records_total"} {
			res, _ := promQuery(prom, "sum by (job, exporter) ("+q+")")
			lost = append(lost, fmt.Sprintf("%s %v", q, res))
		}
		return fmt.Errorf("%d records of a recovered panic, the gateway answered 500 %d times; Prometheus: %s", len(resp.Logs), panics, strings.Join(lost, "; "))
	})
}

// compareWithJaeger compares loupe serve's Jaeger API answers with Jaeger's
// for every trace Jaeger has, both fed by the same Collector: the v1 trace
// by id and the api_v3 one, normalised as backend/peer does, and without the
// clock skew warnings of Jaeger's adjuster (see skewWarning).
func compareWithJaeger(t *testing.T, jaeger, loupe *engine, deadline time.Time) {
	// The same traces and spans first: the two exporters send apart, and
	// the last decisions of tail sampling may still be coming.
	var all map[string]*traceView
	spans := 0
	poll(t, deadline, "loupe serve holding Jaeger's traces", func() error {
		var err error
		if all, err = jaeger.allTraces(); err != nil {
			return err
		}
		got, err := loupe.allTraces()
		if err != nil {
			return err
		}
		count := func(traces map[string]*traceView) (n int) {
			for _, v := range traces {
				n += len(v.Spans)
			}
			return n
		}
		if spans = count(all); len(got) != len(all) || count(got) != spans {
			return fmt.Errorf("%d traces, %d spans; Jaeger %d traces, %d spans", len(got), count(got), len(all), spans)
		}
		return nil
	})
	if t.Failed() {
		return
	}
	answer := func(e *engine, path string, normalise func(any) any) (string, error) {
		var v any
		if err := e.get(path, nil, &v); err != nil {
			return "", err
		}
		return peertest.Canonical(normalise(v)), nil
	}
	v1 := func(v any) any { return peertest.Normalise(dropSkewWarnings(v)) }
	var diffs []string
	for _, id := range slices.Sorted(maps.Keys(all)) {
		for _, c := range []struct {
			path      string
			normalise func(any) any
		}{{"/api/traces/" + id, v1}, {"/api/v3/traces/" + id, peertest.SortOTLP}} {
			want, err := answer(jaeger, c.path, c.normalise)
			if err != nil {
				t.Fatal(err)
			}
			got, err := answer(loupe, c.path, c.normalise)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				diffs = append(diffs, c.path+":\n"+peertest.FirstDiff(want, got))
			}
		}
	}
	if len(diffs) > 0 {
		t.Errorf("loupe serve answers %d of %d traces' paths differently from Jaeger; the first:\n%s", len(diffs), 2*len(all), strings.Join(diffs[:min(3, len(diffs))], "\n"))
		return
	}
	t.Logf("loupe serve answers as Jaeger for all %d traces, %d spans (v1 and api_v3)", len(all), spans)
}

// skewWarning starts the warning Jaeger's query adds to a span that starts
// before its parent or ends after it, by a delta it does not apply (clock
// skew adjustment is off by default): the services' clocks are one, but a
// server span can start microseconds before its client span is stamped.
// Loupe does not emulate the adjuster.
const skewWarning = "clock skew adjustment disabled"

// dropSkewWarnings removes skewWarning from the spans of a v1 answer.
func dropSkewWarnings(v any) any {
	m, _ := v.(map[string]any)
	data, _ := m["data"].([]any)
	for _, tr := range data {
		trace, _ := tr.(map[string]any)
		spans, _ := trace["spans"].([]any)
		for _, s := range spans {
			span, _ := s.(map[string]any)
			if w, ok := span["warnings"].([]any); ok {
				span["warnings"] = slices.DeleteFunc(w, func(x any) bool { return strings.HasPrefix(fmt.Sprint(x), skewWarning) })
			}
		}
	}
	return v
}
