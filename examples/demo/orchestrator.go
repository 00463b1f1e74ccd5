package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/loupe-dev/loupe/genai"
	"github.com/loupe-dev/loupe/telemetry"
)

var orchestratorScope = telemetry.Get("demo/orchestrator")

// ProjectKey is the attribute naming a customer's project on the agent
// metrics; the gateway bounds its values.
const ProjectKey = attribute.Key("demo.project")

// The orchestrator's API, as the gateway calls it.
type (
	chatTask struct {
		ClientID string `json:"client_id"`
		Project  string `json:"project"`
		Message  string `json:"message"`
		Stream   bool   `json:"stream"`
		Speak    bool   `json:"speak"`
	}
	chatAnswer struct {
		Answer string          `json:"answer"`
		Usage  chatUsage       `json:"usage"`
		JobID  string          `json:"job_id"`
		Speech *speechResponse `json:"speech,omitempty"`
	}
	deployRequest struct {
		Name    string `json:"name"`
		Project string `json:"project"`
	}
	deployAnswer struct {
		Name      string  `json:"name"`
		Project   string  `json:"project"`
		ExpiresIn float64 `json:"expires_in_s"`
	}
)

func runOrchestrator(ctx context.Context, rt *runtime) error {
	rdb, err := rt.redis()
	if err != nil {
		return err
	}
	ttl, err := rt.envDuration("AGENT_TTL")
	if err != nil {
		return err
	}
	gen := genai.New()
	llm, err := newLLMClient(rt.env("LLM_URL"), gen)
	if err != nil {
		return err
	}
	ln, err := rt.listen("LISTEN_ADDR")
	if err != nil {
		return err
	}
	gln, err := rt.listen("GRPC_LISTEN_ADDR")
	if err != nil {
		return err
	}
	agentsURL := rt.env("AGENTS_URL")
	if agentsURL == "" {
		agentsURL = "http://" + dialAddr(ln.Addr())
	}
	agentsGRPC := rt.env("AGENTS_GRPC_ADDR")
	if agentsGRPC == "" {
		agentsGRPC = dialAddr(gln.Addr())
	}
	a2a, err := newA2AClient(agentsGRPC)
	if err != nil {
		return fmt.Errorf("AGENTS_GRPC_ADDR: %w", err)
	}
	rt.onClose(a2a.conn.Close)

	o := &orchestrator{
		rdb: rdb, gen: gen, llm: llm, a2a: a2a, http: httpClient(10 * time.Second),
		ttsURL: strings.TrimSuffix(rt.env("TTS_URL"), "/"), agentsURL: strings.TrimSuffix(agentsURL, "/"), ttl: ttl,
		active: orchestratorScope.UpDownCounter("agents.active", metric.WithUnit("{agent}"),
			metric.WithDescription("Agents deployed and not yet expired.")),
		deployDuration: orchestratorScope.Histogram("agent.deploy.duration", metric.WithUnit("s"),
			metric.WithDescription("Time to deploy an agent."), metric.WithExplicitBucketBoundaries(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)),
		expiries: map[*time.Timer]struct{}{},
	}
	defer o.stopExpiries()
	rt.mux.HandleFunc("POST /v1/chat", o.chat)
	rt.mux.HandleFunc("POST /v1/agents", o.deploy)
	rt.mux.HandleFunc("POST /v1/speech", o.speech)
	rt.mux.HandleFunc("POST /a2a/{agent}", o.a2aHTTP)

	grpcDone := make(chan error, 1)
	go func() { grpcDone <- serveA2A(ctx, gln, o) }()
	err = rt.serveOn(ctx, ln, rt.mux, " grpc="+gln.Addr().String())
	if gerr := <-grpcDone; err == nil {
		err = gerr
	}
	return err
}

type orchestrator struct {
	rdb            *redis.Client
	gen            *genai.Instrumenter
	llm            *llmClient
	a2a            *a2aClient
	http           *http.Client
	ttsURL         string
	agentsURL      string
	ttl            time.Duration
	active         *telemetry.UpDownCounter
	deployDuration *telemetry.Histogram

	mu       sync.Mutex
	expiries map[*time.Timer]struct{} // the deployed agents' expiry timers
}

func (o *orchestrator) chat(w http.ResponseWriter, r *http.Request) {
	var t chatTask
	if !decodeJSON(w, r, &t) {
		return
	}
	ctx := r.Context()
	if fault(ctx) == FaultPanic {
		panic("demo: injected panic in the chat planner")
	}
	log := orchestratorScope.Logger()

	_, plan := orchestratorScope.Start(ctx, "plan", ProjectKey.String(t.Project), attribute.StringSlice("demo.plan.agents", []string{"researcher", "writer"}))
	_ = sleep(ctx, jitter(3*time.Millisecond))
	plan.End()

	research, err := o.invokeAgent(ctx, "grpc", agentTask{Agent: "researcher", Project: t.Project, Message: t.Message})
	if err != nil {
		log.ErrorContext(ctx, "researcher failed", telemetry.Err(err))
		writeError(w, statusOf(err), "researcher: "+err.Error())
		return
	}
	answer, err := o.invokeAgent(ctx, "http", agentTask{Agent: "writer", Project: t.Project, Message: t.Message + "\nnotes: " + research.Text, Stream: t.Stream})
	if err != nil {
		log.ErrorContext(ctx, "writer failed", telemetry.Err(err))
		writeError(w, statusOf(err), "writer: "+err.Error())
		return
	}
	out := chatAnswer{Answer: answer.Text, Usage: chatUsage{
		PromptTokens:     research.InputTokens + answer.InputTokens,
		CompletionTokens: research.OutputTokens + answer.OutputTokens,
	}}
	out.Usage.TotalTokens = out.Usage.PromptTokens + out.Usage.CompletionTokens
	if t.Speak {
		var sp speechResponse
		if err := postJSON(ctx, o.http, o.ttsURL+"/v1/speech", speechRequest{Text: firstWords(answer.Text, 12), Voice: "nova"}, &sp); err != nil {
			log.WarnContext(ctx, "answer not spoken", telemetry.Err(err))
		} else {
			out.Speech = &sp
		}
	}
	// Not the span id: with telemetry off there is none, and every job
	// would share one id (and fail to save as a duplicate key).
	out.JobID = fmt.Sprintf("job-%016x", rand.Uint64())
	if err := enqueue(ctx, o.rdb, job{ID: out.JobID, Kind: "summarize", ClientID: t.ClientID, Project: t.Project, Text: answer.Text}); err != nil {
		log.ErrorContext(ctx, "job not queued", telemetry.Err(err))
		out.JobID = ""
	}
	log.InfoContext(ctx, "chat answered", "demo.project", t.Project, "tokens", out.Usage.TotalTokens)
	writeJSON(w, http.StatusOK, out)
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

// invokeAgent calls an agent agent-to-agent: an "invoke_agent {name}" client
// span over the gRPC or HTTP hop, whose server side continues the trace.
func (o *orchestrator) invokeAgent(ctx context.Context, transport string, t agentTask) (res agentResult, err error) {
	ctx, call := o.gen.StartAgent(ctx, genai.Agent{Name: t.Agent, Remote: true, Provider: provider,
		MetricAttributes: []attribute.KeyValue{genai.AgentNameKey.String(t.Agent), ProjectKey.String(t.Project)}})
	call.Span().SetAttributes(attribute.String("demo.a2a.transport", transport))
	defer func() { call.End(err) }()
	if transport == "grpc" {
		return o.a2a.invoke(ctx, t)
	}
	err = postJSON(ctx, o.http, o.agentsURL+"/a2a/"+t.Agent, t, &res)
	return res, err
}

// a2aHTTP serves POST /a2a/{agent}.
func (o *orchestrator) a2aHTTP(w http.ResponseWriter, r *http.Request) {
	var t agentTask
	if !decodeJSON(w, r, &t) {
		return
	}
	t.Agent = r.PathValue("agent")
	res, err := o.runAgent(r.Context(), t)
	if err != nil {
		writeError(w, statusOf(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// runAgent runs a task for an agent this orchestrator hosts: the
// researcher looks its topic up (a tool) and asks the small model; the
// writer asks the large one, streaming.
func (o *orchestrator) runAgent(ctx context.Context, t agentTask) (res agentResult, err error) {
	attrs := []attribute.KeyValue{genai.AgentNameKey.String(t.Agent), ProjectKey.String(t.Project)}
	var modelName string
	switch t.Agent {
	case "researcher":
		modelName = "demo-small"
	case "writer":
		modelName = "demo-large"
	default:
		return res, &StatusError{Code: http.StatusBadRequest, Msg: fmt.Sprintf("no agent %q here", t.Agent)}
	}
	ctx, call := o.gen.StartAgent(ctx, genai.Agent{Name: t.Agent, Provider: provider, Model: modelName, MetricAttributes: attrs})
	defer func() { call.End(err) }()
	msgs := []chatMessage{{Role: "system", Content: "You are the " + t.Agent + " agent."}, {Role: "user", Content: t.Message}}
	if t.Agent == "researcher" {
		notes, err := o.search(ctx, t.Message)
		if err != nil {
			return res, err
		}
		msgs = append(msgs, chatMessage{Role: "tool", Content: notes})
	}
	rep, err := o.llm.chat(ctx, modelName, msgs, t.Stream, attrs...)
	if err != nil {
		return res, err
	}
	return agentResult(rep), nil
}

// search is the researcher's tool: a knowledge lookup cached in Redis.
func (o *orchestrator) search(ctx context.Context, query string) (notes string, err error) {
	ctx, call := o.gen.StartTool(ctx, genai.Tool{Name: "knowledge_search", Type: "datastore", Description: "Looks a topic up in the knowledge base."})
	defer func() { call.End(err) }()
	topic := firstWords(strings.ToLower(query), 2)
	key := fmt.Sprintf("kb:%016x", hash(topic))
	notes, err = o.rdb.Get(ctx, key).Result()
	if err == nil {
		return notes, nil
	}
	if err != redis.Nil {
		return "", err
	}
	_ = sleep(ctx, jitter(25*time.Millisecond))
	notes = "facts about " + topic
	return notes, o.rdb.Set(ctx, key, notes, 5*time.Minute).Err()
}

func (o *orchestrator) speech(w http.ResponseWriter, r *http.Request) {
	var req speechRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	var out speechResponse
	if err := postJSON(r.Context(), o.http, o.ttsURL+"/v1/speech", req, &out); err != nil {
		writeError(w, statusOf(err), "tts: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

var agentName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// deploy deploys an agent: it builds and registers it, counts it active
// and schedules its expiry.
func (o *orchestrator) deploy(w http.ResponseWriter, r *http.Request) {
	var req deployRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if !agentName.MatchString(req.Name) {
		writeError(w, http.StatusBadRequest, "name must be 1-32 lower-case letters, digits or dashes, starting with a letter")
		return
	}
	ctx, span := orchestratorScope.Start(r.Context(), "deploy_agent", genai.AgentNameKey.String(req.Name), ProjectKey.String(req.Project))
	var err error
	defer func() { telemetry.End(span, err) }()
	start := time.Now()
	if _, err = telemetry.Traced(ctx, "build", func(ctx context.Context) (struct{}, error) {
		return struct{}{}, sleep(ctx, jitter(300*time.Millisecond))
	}); err != nil {
		writeError(w, http.StatusServiceUnavailable, "build: "+err.Error())
		return
	}
	member := req.Project + "/" + req.Name
	if err = o.rdb.HSet(ctx, "agents", member, time.Now().Unix()).Err(); err != nil {
		writeError(w, http.StatusServiceUnavailable, "register: "+err.Error())
		return
	}
	project := metric.WithAttributeSet(attribute.NewSet(ProjectKey.String(req.Project)))
	o.deployDuration.Record(ctx, time.Since(start).Seconds(), project)
	o.active.Add(ctx, 1, project)
	o.expireLater(member, project)
	orchestratorScope.Logger().InfoContext(ctx, "agent deployed", "gen_ai.agent.name", req.Name, "demo.project", req.Project)
	writeJSON(w, http.StatusCreated, deployAnswer{Name: req.Name, Project: req.Project, ExpiresIn: o.ttl.Seconds()})
}

// expireLater undeploys the agent after its TTL.
func (o *orchestrator) expireLater(member string, project metric.AddOption) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var t *time.Timer
	t = time.AfterFunc(o.ttl, func() {
		o.mu.Lock()
		delete(o.expiries, t)
		o.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		o.active.Add(ctx, -1, project)
		_ = o.rdb.HDel(ctx, "agents", member).Err()
	})
	o.expiries[t] = struct{}{}
}

func (o *orchestrator) stopExpiries() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for t := range o.expiries {
		t.Stop()
	}
	clear(o.expiries)
}
