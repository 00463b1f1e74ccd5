//go:build unix

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// What the demo platform must have sent, read back through a backend's query
// API (Jaeger v1 JSON, /api/logs, the Prometheus API): the same checks for
// the embedded backend while the demo runs and for an OTLP receiver after
// it has exited.

// demoServices are the services of the platform.
var demoServices = []string{"gateway", "llm", "orchestrator", "tts", "worker"}

// demoCheck is one condition on the telemetry.
type demoCheck struct {
	name string
	// forAll marks a condition on everything sent before the cutoff (every
	// log record, every exemplar…): it is checked again on every round,
	// where a condition that something exists holds once found.
	forAll bool
	// run returns what it saw when the condition holds, else why not.
	run func(ctx context.Context, api *demoAPI, cutoff time.Time) (string, error)
}

// demoChecks are the conditions, the existence ones first: a poll runs the
// forAll ones only once those hold.
var demoChecks = []demoCheck{
	{name: "services", run: checkServices},
	{name: "a chat trace through gateway, orchestrator, llm, tts and worker", run: checkChatTrace},
	{name: "llm_timeout", run: checkLLMTimeout},
	{name: "panic", run: checkPanic},
	{name: "slow_sql", run: checkSlowSQL},
	{name: "cache_flush", run: checkCacheFlush},
	{name: "rate limit", run: checkStatus(429)},
	{name: "validation", run: checkStatus(400)},
	{name: "every trace whole, every resource with version and environment", forAll: true, run: checkAllTraces},
	{name: "log records point at spans that arrived", forAll: true, run: checkLogs},
	{name: "exemplars point at spans that arrived", forAll: true, run: checkExemplars},
	{name: "target_info has version and environment", forAll: true, run: checkTargetInfo},
}

// demoProblems runs the checks not in held and returns what does not hold
// yet, adding the checks that hold to held, with what they saw. The forAll
// checks look at what was sent before cutoff, and leave held again when they
// fail; with lazy (a poll), they run only once the existence checks hold.
func demoProblems(ctx context.Context, api *demoAPI, cutoff time.Time, held map[string]string, lazy bool) []error {
	var problems []error
	for _, c := range demoChecks {
		if _, ok := held[c.name]; ok && !c.forAll || c.forAll && lazy && len(problems) > 0 {
			continue
		}
		saw, err := c.run(ctx, api, cutoff)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", c.name, err))
			delete(held, c.name)
		} else {
			held[c.name] = saw
		}
	}
	return problems
}

// demoAPI reads a backend's query API.
type demoAPI struct {
	base   string // http://host:port
	client *http.Client
}

func newDemoAPI(base string) *demoAPI {
	return &demoAPI{base: strings.TrimSuffix(base, "/"),
		// No keep-alive: no connection outlives a request (goleak, and a
		// backend that goes away with the demo).
		client: &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
}

// get decodes the JSON answer of GET path?query into out.
func (a *demoAPI) get(ctx context.Context, path string, query url.Values, out any) error {
	u := a.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// The Jaeger v1 JSON of a trace (field names match case-insensitively).
type (
	jaegerTrace struct {
		TraceID   string
		Spans     []*jaegerSpan
		Processes map[string]struct {
			ServiceName string
			Tags        []jaegerKV
		}
	}
	jaegerSpan struct {
		TraceID, SpanID, OperationName, ProcessID string
		References                                []struct{ RefType, TraceID, SpanID string }
		StartTime, Duration                       int64 // µs
		Tags                                      []jaegerKV
		Logs                                      []struct{ Fields []jaegerKV }
		service                                   string
	}
	jaegerKV struct {
		Key   string
		Value any
	}
)

// tag is the span's tag as text ("" when absent).
func (s *jaegerSpan) tag(key string) string { return kvText(s.Tags, key) }

func kvText(kvs []jaegerKV, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return fmt.Sprint(kv.Value)
		}
	}
	return ""
}

func (s *jaegerSpan) String() string {
	return fmt.Sprintf("%s %q (%s, span %s)", s.service, s.OperationName, s.tag("span.kind"), s.SpanID)
}

// traceView is a trace with its spans indexed.
type traceView struct {
	*jaegerTrace
	byID     map[string]*jaegerSpan
	children map[string][]*jaegerSpan
	roots    []*jaegerSpan
	start    time.Time // of its earliest span
}

func newTraceView(t *jaegerTrace) *traceView {
	v := &traceView{jaegerTrace: t, byID: map[string]*jaegerSpan{}, children: map[string][]*jaegerSpan{}}
	for _, s := range t.Spans {
		s.service = t.Processes[s.ProcessID].ServiceName
		v.byID[s.SpanID] = s
		if st := time.UnixMicro(s.StartTime); v.start.IsZero() || st.Before(v.start) {
			v.start = st
		}
	}
	for _, s := range t.Spans {
		parent := ""
		for _, r := range s.References {
			if r.RefType == "CHILD_OF" {
				parent = r.SpanID
			}
		}
		if parent == "" {
			v.roots = append(v.roots, s)
		} else {
			v.children[parent] = append(v.children[parent], s)
		}
	}
	return v
}

// whole returns why the trace is not whole: it must have one root, and
// every CHILD_OF reference must name a span of the trace.
func (v *traceView) whole() error {
	var errs []error
	if len(v.roots) != 1 {
		errs = append(errs, fmt.Errorf("%d root spans %v, want 1", len(v.roots), v.roots))
	}
	for _, s := range v.Spans {
		for _, r := range s.References {
			if r.RefType != "CHILD_OF" {
				continue
			}
			if normTraceID(r.TraceID) != normTraceID(v.TraceID) {
				errs = append(errs, fmt.Errorf("%v refers to trace %s", s, r.TraceID))
			} else if v.byID[r.SpanID] == nil {
				errs = append(errs, fmt.Errorf("%v is an orphan: its parent %s did not arrive", s, r.SpanID))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("trace %s: %w", v.TraceID, errors.Join(errs...))
	}
	return nil
}

// hop matches a span by service, name and kind; an empty name or kind
// matches any.
type hop struct{ service, name, kind string }

func (h hop) matches(s *jaegerSpan) bool {
	return s.service == h.service && (h.name == "" || s.OperationName == h.name) && (h.kind == "" || s.tag("span.kind") == h.kind)
}

func (h hop) String() string {
	name := h.name
	if name == "" {
		name = "*"
	}
	return fmt.Sprintf("%s %q %s", h.service, name, h.kind)
}

// hasPath reports whether the trace has a root matching path[0] and spans
// matching the next hops, each a child of the one before.
func (v *traceView) hasPath(path []hop) bool {
	var walk func(s *jaegerSpan, rest []hop) bool
	walk = func(s *jaegerSpan, rest []hop) bool {
		if !rest[0].matches(s) {
			return false
		}
		if len(rest) == 1 {
			return true
		}
		return slices.ContainsFunc(v.children[s.SpanID], func(c *jaegerSpan) bool { return walk(c, rest[1:]) })
	}
	return slices.ContainsFunc(v.roots, func(r *jaegerSpan) bool { return walk(r, path) })
}

// spans returns the spans matching h.
func (v *traceView) spans(h hop) []*jaegerSpan {
	var out []*jaegerSpan
	for _, s := range v.Spans {
		if h.matches(s) {
			out = append(out, s)
		}
	}
	return out
}

// normTraceID is a trace id in 32 lower-case hex digits (Jaeger drops a
// zero high half).
func normTraceID(id string) string {
	id = strings.ToLower(id)
	return strings.Repeat("0", max(0, 32-len(id))) + id
}

// search returns the traces GET /api/traces finds for params.
func (a *demoAPI) search(ctx context.Context, params url.Values) ([]*traceView, error) {
	var resp struct{ Data []*jaegerTrace }
	if err := a.get(ctx, "/api/traces", params, &resp); err != nil {
		return nil, err
	}
	out := make([]*traceView, len(resp.Data))
	for i, t := range resp.Data {
		out[i] = newTraceView(t)
	}
	return out, nil
}

// byIDs returns the traces of these ids that the backend has, by
// normalized id.
func (a *demoAPI) byIDs(ctx context.Context, ids []string) (map[string]*traceView, error) {
	norm := make([]string, len(ids))
	for i, id := range ids {
		norm[i] = normTraceID(id)
	}
	slices.Sort(norm)
	out := map[string]*traceView{}
	for chunk := range slices.Chunk(slices.Compact(norm), 50) {
		found, err := a.search(ctx, url.Values{"traceID": chunk})
		if err != nil {
			return nil, err
		}
		for _, v := range found {
			out[normTraceID(v.TraceID)] = v
		}
	}
	return out, nil
}

// spanArrived returns why the span of this trace is not in the backend.
func spanArrived(traces map[string]*traceView, traceID, spanID string) error {
	v := traces[normTraceID(traceID)]
	switch {
	case v == nil:
		return fmt.Errorf("trace %s did not arrive", traceID)
	case v.byID[strings.ToLower(spanID)] == nil:
		return fmt.Errorf("span %s of trace %s did not arrive", spanID, traceID)
	}
	return nil
}

func checkServices(ctx context.Context, api *demoAPI, _ time.Time) (string, error) {
	var resp struct{ Data []string }
	if err := api.get(ctx, "/api/services", nil, &resp); err != nil {
		return "", err
	}
	slices.Sort(resp.Data)
	if !slices.Equal(resp.Data, demoServices) {
		return "", fmt.Errorf("services %v, want %v", resp.Data, demoServices)
	}
	return strings.Join(resp.Data, ", "), nil
}

// The spans of a chat, root first.
var (
	gwChat    = hop{"gateway", "POST /v1/chat", "server"}
	gwOut     = hop{"gateway", "", "client"}
	orchChat  = hop{"orchestrator", "POST /v1/chat", "server"}
	orchOut   = hop{"orchestrator", "", "client"}
	toOrch    = []hop{gwChat, gwOut, orchChat}
	viaGRPC   = []hop{{"orchestrator", "invoke_agent researcher", "client"}, {"orchestrator", "loupe.demo.a2a.v1.Agents/Invoke", "client"}, {"orchestrator", "loupe.demo.a2a.v1.Agents/Invoke", "server"}, {"orchestrator", "invoke_agent researcher", "internal"}}
	viaHTTP   = []hop{{"orchestrator", "invoke_agent writer", "client"}, orchOut, {"orchestrator", "POST /a2a/{agent}", "server"}, {"orchestrator", "invoke_agent writer", "internal"}}
	toWorker  = []hop{{"orchestrator", "send jobs", "producer"}, {"worker", "process jobs", "consumer"}, {"worker", "process_job", ""}}
	chatPaths = [][]hop{
		cat(toOrch, []hop{{"orchestrator", "plan", ""}}),
		cat(toOrch, viaGRPC, []hop{{"orchestrator", "execute_tool knowledge_search", ""}}),
		cat(toOrch, viaGRPC, []hop{{"orchestrator", "chat demo-small", "client"}, orchOut, {"llm", "POST /v1/chat/completions", "server"}, {"llm", "chat demo-small", ""}}),
		cat(toOrch, viaHTTP, []hop{{"orchestrator", "chat demo-large", "client"}, orchOut, {"llm", "POST /v1/chat/completions", "server"}, {"llm", "chat demo-large", ""}}),
		cat(toOrch, []hop{orchOut, {"tts", "POST /v1/speech", "server"}}),
		cat(toOrch, toWorker, []hop{{"worker", "fetch", ""}}),
		cat(toOrch, toWorker, []hop{{"worker", "transform", ""}}),
		cat(toOrch, toWorker, []hop{{"worker", "save", ""}}),
	}
)

func cat(paths ...[]hop) []hop { return slices.Concat(paths...) }

// chatProblems returns what a chat trace lacks of chatPaths, or why it is
// not whole.
func chatProblems(v *traceView) []string {
	var out []string
	if err := v.whole(); err != nil {
		out = append(out, err.Error())
	}
	for _, p := range chatPaths {
		if !v.hasPath(p) {
			hops := make([]string, len(p))
			for i, h := range p {
				hops[i] = h.String()
			}
			out = append(out, "no path "+strings.Join(hops, " → "))
		}
	}
	return out
}

// checkChatTrace looks for a spoken chat (one that reaches tts) whose trace
// reaches every service, with the parent of every span as the demo sets it
// and no orphan.
func checkChatTrace(ctx context.Context, api *demoAPI, _ time.Time) (string, error) {
	found, err := api.search(ctx, url.Values{"service": {"tts"}, "operation": {"POST /v1/speech"}, "limit": {"200"}})
	if err != nil {
		return "", err
	}
	var best []string
	for _, v := range found {
		if len(v.roots) == 0 || !gwChat.matches(v.roots[0]) {
			continue // a POST /v1/speech, not a chat
		}
		p := chatProblems(v)
		if len(p) == 0 {
			return fmt.Sprintf("trace %s, %d spans", v.TraceID, len(v.Spans)), nil
		}
		if best == nil || len(p) < len(best) {
			best = append([]string{"closest: trace " + v.TraceID}, p...)
		}
	}
	if best == nil {
		return "", errors.New("no trace of a chat that reached tts yet")
	}
	return "", errors.New(strings.Join(best, "\n\t"))
}

// checkLLMTimeout looks for a chat answered 504 because a model call timed
// out: an llm span in error, and an orchestrator "chat {model}" span in
// error with error.type timeout.
func checkLLMTimeout(ctx context.Context, api *demoAPI, _ time.Time) (string, error) {
	found, err := api.search(ctx, url.Values{"service": {"llm"}, "tags": {`{"error":"true"}`}, "limit": {"50"}})
	if err != nil {
		return "", err
	}
	for _, v := range found {
		timedOut := slices.ContainsFunc(v.spans(orchOut), func(s *jaegerSpan) bool {
			return strings.HasPrefix(s.OperationName, "chat ") && s.tag("error") == "true" && s.tag("error.type") == "timeout"
		})
		if timedOut && len(v.roots) == 1 && gwChat.matches(v.roots[0]) && v.roots[0].tag("http.response.status_code") == "504" {
			return "trace " + v.TraceID, nil
		}
	}
	return "", fmt.Errorf("no chat trace answered 504 with a chat span in error.type timeout, among %d traces with an llm error", len(found))
}

// checkPanic follows the orchestrator's log record of a recovered panic to
// its span: the chat's server span, answered 500, with the panic's
// exception event, under a gateway span answered 500.
func checkPanic(ctx context.Context, api *demoAPI, _ time.Time) (string, error) {
	found, n, err := api.loggedSpan(ctx, "orchestrator", "recovered from a panic", func(v *traceView, s *jaegerSpan) bool {
		if len(v.roots) != 1 || v.roots[0].tag("http.response.status_code") != "500" || !orchChat.matches(s) ||
			s.tag("http.response.status_code") != "500" || s.tag("error") != "true" {
			return false
		}
		return slices.ContainsFunc(s.Logs, func(l struct{ Fields []jaegerKV }) bool {
			return kvText(l.Fields, "event") == "exception" && strings.Contains(kvText(l.Fields, "exception.message"), "injected panic")
		})
	})
	if err != nil || found != "" {
		return found, err
	}
	return "", fmt.Errorf("no log record \"recovered from a panic\" (%d) points at an orchestrator POST /v1/chat span answered 500 with the panic's exception event, under a gateway span answered 500", n)
}

// checkSlowSQL looks for a slow query (100 ms or more) in a step of a
// worker's job (fetch, transform or save), in a whole chat trace.
func checkSlowSQL(ctx context.Context, api *demoAPI, _ time.Time) (string, error) {
	found, err := api.search(ctx, url.Values{"service": {"worker"}, "operation": {"process_job"}, "minDuration": {"100ms"}, "limit": {"20"}})
	if err != nil {
		return "", err
	}
	for _, v := range found {
		if v.whole() != nil || !v.hasPath(cat(toOrch, toWorker)) {
			continue
		}
		for _, job := range v.spans(hop{"worker", "process_job", ""}) {
			for _, step := range v.children[job.SpanID] {
				for _, q := range v.children[step.SpanID] {
					if q.tag("db.system.name") != "" && q.Duration >= 100_000 {
						return fmt.Sprintf("trace %s, %v under %s", v.TraceID, time.Duration(q.Duration)*time.Microsecond, step), nil
					}
				}
			}
		}
	}
	// A job that fails before the slow step runs no query: say which did.
	failed, err := api.search(ctx, url.Values{"service": {"worker"}, "operation": {"process_job"}, "tags": {`{"error":"true"}`}, "limit": {"20"}})
	if err != nil {
		return "", err
	}
	var jobs []string
	for _, v := range failed {
		for _, s := range v.spans(hop{"worker", "process_job", ""}) {
			jobs = append(jobs, fmt.Sprintf("%s at %s: %s", s.tag("job.id"), time.UnixMicro(s.StartTime).Format("15:04:05.000"), s.tag("otel.status_description")))
		}
	}
	return "", fmt.Errorf("no whole chat trace with a query of 100 ms or more in a step of a worker's process_job (%d jobs of 100 ms or more); the jobs that failed:\n\t%s",
		len(found), strings.Join(jobs, "\n\t"))
}

// checkCacheFlush follows tts's log record of the flush to its trace.
func checkCacheFlush(ctx context.Context, api *demoAPI, _ time.Time) (string, error) {
	speech := []hop{{"gateway", "POST /v1/speech", "server"}, gwOut, {"orchestrator", "POST /v1/speech", "server"}, orchOut, {"tts", "POST /v1/speech", "server"}}
	found, n, err := api.loggedSpan(ctx, "tts", "speech cache flushed", func(v *traceView, _ *jaegerSpan) bool {
		return v.whole() == nil && v.hasPath(speech)
	})
	if err != nil || found != "" {
		return found, err
	}
	return "", fmt.Errorf("no whole speech trace through tts holds the span of a log record \"speech cache flushed\" (%d records)", n)
}

// loggedSpan looks at the log records of service that match q, in turn,
// for one whose span arrived and for which ok holds (given the span's
// trace and the span): it returns "trace <id>" of the first, or "", and
// the number of records.
func (a *demoAPI) loggedSpan(ctx context.Context, service, q string, ok func(*traceView, *jaegerSpan) bool) (string, int, error) {
	var resp struct{ Logs []logRecord }
	if err := a.get(ctx, "/api/logs", url.Values{"service": {service}, "q": {q}}, &resp); err != nil {
		return "", 0, err
	}
	for _, r := range resp.Logs {
		traces, err := a.byIDs(ctx, []string{r.TraceID})
		if err != nil {
			return "", 0, err
		}
		if spanArrived(traces, r.TraceID, r.SpanID) != nil {
			continue
		}
		v := traces[normTraceID(r.TraceID)]
		if ok(v, v.byID[strings.ToLower(r.SpanID)]) {
			return "trace " + v.TraceID, len(resp.Logs), nil
		}
	}
	return "", len(resp.Logs), nil
}

// checkStatus looks for a gateway server span answered with code.
func checkStatus(code int) func(context.Context, *demoAPI, time.Time) (string, error) {
	return func(ctx context.Context, api *demoAPI, _ time.Time) (string, error) {
		found, err := api.search(ctx, url.Values{"service": {"gateway"}, "tags": {fmt.Sprintf(`{"http.response.status_code":"%d","span.kind":"server"}`, code)}, "limit": {"1"}})
		if err != nil {
			return "", err
		}
		if len(found) == 0 {
			return "", fmt.Errorf("no gateway server span answered %d", code)
		}
		return "trace " + found[0].TraceID, nil
	}
}

// checkResource returns why a resource lacks service.version or
// deployment.environment.name.
func checkResource(what string, get func(key string) string) error {
	var missing []string
	for _, k := range []string{"service.version", "deployment.environment.name"} {
		if get(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s has no %s", what, strings.Join(missing, " and "))
	}
	return nil
}

// joinFirst joins the first five errors and counts them all.
func joinFirst(errs []error, of int, what string) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d %s:\n\t%w", len(errs), of, what, errors.Join(errs[:min(len(errs), 5)]...))
}

// checkAllTraces checks every trace begun at the gateway before cutoff
// (where every request of the traffic starts): whole (one root, no
// orphan), and each of its resources with service.version and
// deployment.environment.name; the five services must be among them.
func checkAllTraces(ctx context.Context, api *demoAPI, cutoff time.Time) (string, error) {
	found, err := api.search(ctx, url.Values{"service": {"gateway"}, "limit": {"10000"}, "end": {strconv.FormatInt(cutoff.UnixMicro(), 10)}})
	if err != nil {
		return "", err
	}
	var errs []error
	services := map[string]bool{}
	n, spans := 0, 0
	for _, v := range found {
		if !v.start.Before(cutoff) {
			continue
		}
		n, spans = n+1, spans+len(v.Spans)
		if err := v.whole(); err != nil {
			errs = append(errs, err)
		}
		for pid, p := range v.Processes {
			services[p.ServiceName] = true
			if err := checkResource(fmt.Sprintf("trace %s: process %s (%s)", v.TraceID, pid, p.ServiceName), func(k string) string { return kvText(p.Tags, k) }); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if n < 20 {
		return "", fmt.Errorf("only %d traces begun before %s", n, cutoff.Format(time.TimeOnly))
	}
	for _, s := range demoServices {
		if !services[s] {
			errs = append(errs, fmt.Errorf("no span of %s in %d traces", s, n))
		}
	}
	return fmt.Sprintf("%d traces, %d spans", n, spans), joinFirst(errs, n, "traces")
}

// logRecord is a record of GET /api/logs.
type logRecord struct {
	Time            time.Time
	TraceID, SpanID string
	Body            any
	Service         string
	Resource        map[string]any
}

// checkLogs checks the log records of before cutoff: each one's resource
// has service.version and deployment.environment.name, and each one that
// carries a trace id carries the id of a span that arrived.
func checkLogs(ctx context.Context, api *demoAPI, cutoff time.Time) (string, error) {
	var resp struct{ Logs []logRecord }
	if err := api.get(ctx, "/api/logs", url.Values{"limit": {"10000"}, "end": {cutoff.UTC().Format(time.RFC3339Nano)}}, &resp); err != nil {
		return "", err
	}
	var ids []string
	var errs []error
	for _, r := range resp.Logs {
		if r.TraceID != "" {
			ids = append(ids, r.TraceID)
		}
		if err := checkResource(fmt.Sprintf("the resource of %s's record %q", r.Service, r.Body), func(k string) string {
			if v, ok := r.Resource[k]; ok {
				return fmt.Sprint(v)
			}
			return ""
		}); err != nil {
			errs = append(errs, err)
		}
	}
	if len(ids) < 20 {
		return "", fmt.Errorf("only %d log records with a trace id before %s", len(ids), cutoff.Format(time.TimeOnly))
	}
	traces, err := api.byIDs(ctx, ids)
	if err != nil {
		return "", err
	}
	for _, r := range resp.Logs {
		if r.TraceID == "" {
			continue
		}
		if r.SpanID == "" {
			errs = append(errs, fmt.Errorf("%s's record %q has trace id %s and no span id", r.Service, r.Body, r.TraceID))
		} else if err := spanArrived(traces, r.TraceID, r.SpanID); err != nil {
			errs = append(errs, fmt.Errorf("%s's record %q at %s: %w", r.Service, r.Body, r.Time.Format(time.TimeOnly), err))
		}
	}
	return fmt.Sprintf("%d records, %d with a trace id", len(resp.Logs), len(ids)), joinFirst(errs, len(resp.Logs), "log records")
}

// checkExemplars checks the histograms' exemplars recorded before cutoff:
// each names a span that arrived.
func checkExemplars(ctx context.Context, api *demoAPI, cutoff time.Time) (string, error) {
	var resp struct {
		Data []struct {
			SeriesLabels map[string]string
			Exemplars    []struct{ Labels map[string]string }
		}
	}
	if err := api.get(ctx, "/api/v1/query_exemplars", url.Values{"query": {`{__name__=~".+_bucket"}`},
		"start": {"0"}, "end": {strconv.FormatInt(cutoff.Unix(), 10)}}, &resp); err != nil {
		return "", err
	}
	type exemplar struct{ series, traceID, spanID string }
	var all []exemplar
	names := map[string]bool{}
	for _, s := range resp.Data {
		names[s.SeriesLabels["__name__"]] = true
		for _, e := range s.Exemplars {
			all = append(all, exemplar{s.SeriesLabels["__name__"] + " of " + s.SeriesLabels["job"], e.Labels["trace_id"], e.Labels["span_id"]})
		}
	}
	if len(all) < 10 {
		return "", fmt.Errorf("only %d exemplars before %s", len(all), cutoff.Format(time.TimeOnly))
	}
	ids := make([]string, len(all))
	for i, e := range all {
		ids[i] = e.traceID
	}
	traces, err := api.byIDs(ctx, ids)
	if err != nil {
		return "", err
	}
	var errs []error
	for _, e := range all {
		if err := spanArrived(traces, e.traceID, e.spanID); err != nil {
			errs = append(errs, fmt.Errorf("an exemplar of %s: %w", e.series, err))
		}
	}
	return fmt.Sprintf("%d exemplars of %d histograms", len(all), len(names)), joinFirst(errs, len(all), "exemplars")
}

// checkTargetInfo checks the resources the metrics came with: target_info
// has a series for each service, with service_version and
// deployment_environment_name.
func checkTargetInfo(ctx context.Context, api *demoAPI, _ time.Time) (string, error) {
	var resp struct{ Data []map[string]string }
	if err := api.get(ctx, "/api/v1/series", url.Values{"match[]": {"target_info"}}, &resp); err != nil {
		return "", err
	}
	var errs []error
	services := map[string]bool{}
	for _, s := range resp.Data {
		services[s["job"]] = true
		if err := checkResource("target_info of "+s["job"], func(k string) string { return s[strings.ReplaceAll(k, ".", "_")] }); err != nil {
			errs = append(errs, err)
		}
	}
	for _, s := range demoServices {
		if !services[s] {
			errs = append(errs, fmt.Errorf("no target_info series of %s", s))
		}
	}
	return fmt.Sprintf("%d series", len(resp.Data)), joinFirst(errs, len(resp.Data), "target_info series")
}
