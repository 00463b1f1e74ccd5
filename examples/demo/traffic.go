package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Traffic sends a realistic mix of requests to a gateway at a steady rate
// (open loop: a slow answer does not slow the arrivals), with every kind of
// failure injected on a schedule, and reports requests/s and p50/p99 per
// endpoint as it runs.
type Traffic struct {
	GatewayURL string  // http://host:port
	Rate       float64 // requests per second; 0 means 5
	// Report receives one line per endpoint every ReportEvery (default 5 s);
	// nil prints nothing.
	Report      io.Writer
	ReportEvery time.Duration
	// NoFailures leaves the scheduled failures out (for measurements); the
	// everyday mix keeps its few invalid requests.
	NoFailures bool
	// Client sends the requests (default: a plain client with a 20 s
	// timeout). The traffic stands for users: it is not instrumented, so
	// traces start at the gateway.
	Client *http.Client
}

// The injected failures, in the order of their first round: the slow ones
// first, so that a short run sees each one finish.
var failures = []string{FaultLLMTimeout, FaultSlowSQL, FaultPanic, "rate_limit", FaultCacheFlush, "validation"}

// Gaps between failures: close together in the first round, so that a short
// run shows them all, then sparser.
const (
	firstRoundGap = 2 * time.Second
	laterGap      = 10 * time.Second
	maxInFlight   = 200
)

// Summary is what a run sent.
type Summary struct {
	// Requests counts answers by endpoint ("POST /v1/chat") and status code;
	// status 0 is a transport error.
	Requests map[string]map[int]int
	// Latencies holds every answer's latency by endpoint, sorted.
	Latencies map[string][]time.Duration
	// Failures counts the failures injected, by kind.
	Failures map[string]int
	// Skipped counts requests not sent because too many were in flight.
	Skipped int
}

var (
	clients  = []string{"acme", "globex", "initech", "umbrella", "hooli", "stark"}
	projects = []string{"support-bot", "search", "voice-assistant"}
	phrases  = []string{
		"Your order has shipped.", "Welcome back!", "Please hold while I look that up.",
		"The meeting starts in five minutes.", "I found three results.", "Goodbye and thank you.",
		"Your balance is up to date.", "Let me summarise the conversation.", "That took longer than usual.",
		"Here is the weather for today.", "Your password was changed.", "The report is ready.",
	}
	questions = []string{
		"Why did checkout latency spike yesterday?", "Summarise the incident report for the gateway.",
		"Which agent used the most tokens this week?", "Draft a reply to the customer about the delay.",
		"Explain the cache hit ratio of the speech service.", "Plan the migration of the worker queue.",
		"What changed in the last deployment?", "Write release notes for version three.",
	}
	agentNames = []string{"triage", "summarizer", "translator", "planner", "reviewer"}
)

// Run sends traffic until ctx is done, waits for the answers in flight and
// returns what was sent.
func (t *Traffic) Run(ctx context.Context) Summary {
	rate := t.Rate
	if rate <= 0 {
		rate = 5
	}
	client := t.Client
	if client == nil {
		client = &http.Client{Timeout: 20 * time.Second}
	}
	every := t.ReportEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	st := &trafficStats{summary: Summary{Requests: map[string]map[int]int{}, Latencies: map[string][]time.Duration{}, Failures: map[string]int{}},
		window: map[string][]time.Duration{}, since: time.Now()}
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxInFlight)
	send := func(r request) {
		select {
		case sem <- struct{}{}:
		default:
			st.skip()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			start := time.Now()
			code := r.do(context.WithoutCancel(ctx), client, t.GatewayURL)
			st.add(r.endpoint(), code, time.Since(start))
		})
	}

	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	report := time.NewTicker(every)
	defer report.Stop()
	nextFailure := time.NewTimer(time.Second)
	defer nextFailure.Stop()
	if t.NoFailures {
		nextFailure.Stop()
	}
	round := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			send(ordinary())
		case <-nextFailure.C:
			kind := failures[round%len(failures)]
			st.failure(kind)
			for _, r := range failing(kind) {
				send(r)
			}
			round++
			if round < len(failures) {
				nextFailure.Reset(firstRoundGap)
			} else {
				nextFailure.Reset(laterGap)
			}
		case <-report.C:
			if t.Report != nil {
				st.report(t.Report)
			}
		}
	}
	wg.Wait()
	if t.Report != nil {
		st.report(t.Report)
	}
	for _, ds := range st.summary.Latencies {
		slices.Sort(ds)
	}
	return st.summary
}

// request is one API call of the traffic.
type request struct {
	path   string
	client string
	body   any
	fault  string // baggage demo.fault, if any
}

func (r request) endpoint() string { return "POST " + r.path }

// do sends the request and returns the status code, 0 on a transport error.
func (r request) do(ctx context.Context, c *http.Client, gateway string) int {
	body, _ := json.Marshal(r.body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(gateway, "/")+r.path, bytes.NewReader(body))
	if err != nil {
		return 0
	}
	req.Header.Set("Content-Type", "application/json")
	if r.client != "" {
		req.Header.Set(ClientHeader, r.client)
	}
	if r.fault != "" {
		req.Header.Set("Baggage", FaultKey+"="+r.fault)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func pick[T any](s []T) T { return s[rand.IntN(len(s))] }

// ordinary is the everyday mix: mostly chats (some streamed, some spoken),
// speech, agent deployments, and a few invalid requests.
func ordinary() request {
	client := pick(clients)
	switch n := rand.IntN(100); {
	case n < 65:
		return chatRequestOf(client, n < 25, n%5 == 0, "")
	case n < 82:
		return request{path: "/v1/speech", client: client, body: speechRequest{Text: pick(phrases), Voice: pick([]string{"alloy", "echo", "nova"})}}
	case n < 96:
		return request{path: "/v1/agents", client: client, body: deployRequest{Name: pick(agentNames), Project: pick(projects)}}
	}
	return invalid(client)
}

func chatRequestOf(client string, stream, speak bool, fault string) request {
	return request{path: "/v1/chat", client: client, fault: fault,
		body: publicChat{Project: pick(projects), Message: pick(questions), Stream: stream, Speak: speak}}
}

// invalid is one of the mistakes clients make, each answered 400.
func invalid(client string) request {
	switch rand.IntN(4) {
	case 0:
		return request{path: "/v1/chat", client: client, body: publicChat{Project: pick(projects)}}
	case 1:
		return request{path: "/v1/chat", client: client, body: publicChat{Project: "Not A Project!", Message: pick(questions)}}
	case 2:
		return request{path: "/v1/speech", client: client, body: speechRequest{Text: pick(phrases), Voice: "robot"}}
	}
	return request{path: "/v1/agents", client: "", body: deployRequest{Name: pick(agentNames), Project: pick(projects)}}
}

// failing is the requests that inject one kind of failure.
func failing(kind string) []request {
	switch kind {
	case "validation":
		return []request{invalid(pick(clients))}
	case "rate_limit": // one client bursts beyond its per-second limit
		burst := make([]request, 40)
		for i := range burst {
			burst[i] = request{path: "/v1/speech", client: "burst-client", body: speechRequest{Text: pick(phrases), Voice: "echo"}}
		}
		return burst
	case FaultCacheFlush:
		return []request{{path: "/v1/speech", client: pick(clients), fault: kind, body: speechRequest{Text: pick(phrases), Voice: "alloy"}}}
	}
	return []request{chatRequestOf(pick(clients), kind == FaultLLMTimeout, false, kind)}
}

// trafficStats counts answers, and keeps the latencies of the current
// report window.
type trafficStats struct {
	mu      sync.Mutex
	summary Summary
	window  map[string][]time.Duration
	since   time.Time // the window's start
}

func (s *trafficStats) add(endpoint string, code int, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.summary.Requests[endpoint] == nil {
		s.summary.Requests[endpoint] = map[int]int{}
	}
	s.summary.Requests[endpoint][code]++
	s.summary.Latencies[endpoint] = append(s.summary.Latencies[endpoint], d)
	s.window[endpoint] = append(s.window[endpoint], d)
}

func (s *trafficStats) failure(kind string) {
	s.mu.Lock()
	s.summary.Failures[kind]++
	s.mu.Unlock()
}

func (s *trafficStats) skip() {
	s.mu.Lock()
	s.summary.Skipped++
	s.mu.Unlock()
}

// report prints the window's rate and latencies per endpoint, then starts
// a new window.
func (s *trafficStats) report(w io.Writer) {
	s.mu.Lock()
	window, secs := s.window, time.Since(s.since).Seconds()
	s.window, s.since = map[string][]time.Duration{}, time.Now()
	s.mu.Unlock()
	endpoints := make([]string, 0, len(window))
	total := 0
	for e, ds := range window {
		endpoints = append(endpoints, e)
		total += len(ds)
	}
	sort.Strings(endpoints)
	fmt.Fprintf(w, "traffic %s  %.1f req/s\n", time.Now().Format("15:04:05"), float64(total)/secs)
	for _, e := range endpoints {
		ds := window[e]
		slices.Sort(ds)
		fmt.Fprintf(w, "  %-16s %5.1f req/s  p50 %-8s p99 %s\n", e, float64(len(ds))/secs,
			Quantile(ds, 0.50).Round(time.Millisecond), Quantile(ds, 0.99).Round(time.Millisecond))
	}
}

// Quantile is the q-quantile (nearest rank) of sorted durations; 0 when
// there are none.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
