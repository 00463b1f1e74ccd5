package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/loupe-dev/loupe/telemetry"
)

var gatewayScope = telemetry.Get("demo/gateway")

// ClientHeader names the calling client. A real gateway would derive the
// client from its credentials; the demo trusts the header.
const ClientHeader = "X-Client-ID"

// ClientKey is the attribute naming the client on the gateway's metrics.
const ClientKey = attribute.Key("demo.client.id")

// quotaTokens is each client's token allowance, reported in X-Quota-Remaining.
const quotaTokens = 5_000_000

// ids are client ids and project names: short and lower-case, so that
// metric attributes stay bounded in length (and, in the demo, in number).
var ids = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

// chatRequest of the public API.
type publicChat struct {
	Project string `json:"project"`
	Message string `json:"message"`
	Stream  bool   `json:"stream"`
	Speak   bool   `json:"speak"`
}

func runGateway(ctx context.Context, rt *runtime) error {
	rdb, err := rt.redis()
	if err != nil {
		return err
	}
	db, err := rt.db(ctx)
	if err != nil {
		return err
	}
	limit, err := rt.envInt("RATE_LIMIT")
	if err != nil {
		return err
	}
	g := &gateway{rdb: rdb, db: db, limit: int64(limit), orchestrator: strings.TrimSuffix(rt.env("ORCHESTRATOR_URL"), "/"),
		http: httpClient(15 * time.Second),
		invalid: gatewayScope.Counter("gateway.validation.errors", metric.WithUnit("{request}"),
			metric.WithDescription("Requests refused as invalid (400), by route and reason.")),
		limited: gatewayScope.Counter("gateway.rate_limited", metric.WithUnit("{request}"),
			metric.WithDescription("Requests refused by the per-client rate limit (429).")),
		tokens: gatewayScope.Counter("gateway.usage.tokens", metric.WithUnit("{token}"),
			metric.WithDescription("Model tokens used, by client and project.")),
	}
	rt.mux.HandleFunc("POST /v1/chat", g.chat)
	rt.mux.HandleFunc("POST /v1/agents", g.agents)
	rt.mux.HandleFunc("POST /v1/speech", g.speech)
	return rt.serveHTTP(ctx, rt.mux)
}

type gateway struct {
	rdb                      *redis.Client
	db                       *sql.DB
	limit                    int64
	orchestrator             string
	http                     *http.Client
	invalid, limited, tokens *telemetry.Counter
}

// admit checks the client id and its rate limit, answering 400 or 429
// itself; it returns the client id when the request may go on.
func (g *gateway) admit(w http.ResponseWriter, r *http.Request) (string, bool) {
	client := r.Header.Get(ClientHeader)
	if !ids.MatchString(client) {
		g.refuse(w, r, "client_id", ClientHeader+" must be 1-32 lower-case letters, digits or dashes")
		return "", false
	}
	ctx := r.Context()
	// A fixed one-second window per client: INCR, with the key expiring
	// after the window.
	key := fmt.Sprintf("ratelimit:%s:%d", client, time.Now().Unix())
	var n *redis.IntCmd
	_, err := g.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		n = p.Incr(ctx, key)
		p.Expire(ctx, key, 2*time.Second)
		return nil
	})
	if err != nil { // fail open: a rate limiter that is down must not take the API with it
		gatewayScope.Logger().WarnContext(ctx, "rate limiter unavailable; request admitted", telemetry.Err(err))
		return client, true
	}
	if n.Val() > g.limit {
		g.limited.Add(ctx, 1, metric.WithAttributes(ClientKey.String(client)))
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, fmt.Sprintf("rate limit of %d requests per second exceeded", g.limit))
		return "", false
	}
	return client, true
}

// refuse answers 400 and counts the reason.
func (g *gateway) refuse(w http.ResponseWriter, r *http.Request, reason, msg string) {
	g.invalid.Add(r.Context(), 1, metric.WithAttributes(attribute.String("http.route", r.Pattern),
		attribute.String("demo.validation.reason", reason)))
	gatewayScope.Logger().InfoContext(r.Context(), "invalid request", "reason", reason)
	writeError(w, http.StatusBadRequest, msg)
}

func (g *gateway) chat(w http.ResponseWriter, r *http.Request) {
	client, ok := g.admit(w, r)
	if !ok {
		return
	}
	var req publicChat
	if !decodeJSON(w, r, &req) {
		return
	}
	switch {
	case !ids.MatchString(req.Project):
		g.refuse(w, r, "project", "project must be 1-32 lower-case letters, digits or dashes")
		return
	case strings.TrimSpace(req.Message) == "":
		g.refuse(w, r, "message_empty", "message is empty")
		return
	case len(req.Message) > 4000:
		g.refuse(w, r, "message_too_long", "message is longer than 4000 bytes")
		return
	}
	ctx := r.Context()
	var out chatAnswer
	task := chatTask{ClientID: client, Project: req.Project, Message: req.Message, Stream: req.Stream, Speak: req.Speak}
	if err := postJSON(ctx, g.http, g.orchestrator+"/v1/chat", task, &out); err != nil {
		g.upstreamFailed(w, r, err)
		return
	}
	remaining, err := g.recordUsage(ctx, client, req.Project, out.Usage.TotalTokens)
	if err != nil {
		gatewayScope.Logger().ErrorContext(ctx, "usage not recorded", telemetry.Err(err))
	} else {
		w.Header().Set("X-Quota-Remaining", strconv.FormatInt(remaining, 10))
	}
	writeJSON(w, http.StatusOK, out)
}

// recordUsage counts the tokens and adds them to the client's row; it
// returns what is left of the client's quota.
func (g *gateway) recordUsage(ctx context.Context, client, project string, tokens int64) (int64, error) {
	g.tokens.Add(ctx, tokens, metric.WithAttributes(ClientKey.String(client), ProjectKey.String(project)))
	var total int64
	err := g.db.QueryRowContext(ctx, `INSERT INTO client_usage (client_id, requests, tokens, updated_ms) VALUES ($1, 1, $2, $3)
		ON CONFLICT (client_id) DO UPDATE SET requests = client_usage.requests + 1,
			tokens = client_usage.tokens + excluded.tokens, updated_ms = excluded.updated_ms
		RETURNING tokens`, client, tokens, time.Now().UnixMilli()).Scan(&total)
	return quotaTokens - total, err
}

// upstreamFailed passes a downstream refusal on, or answers 502/504.
func (g *gateway) upstreamFailed(w http.ResponseWriter, r *http.Request, err error) {
	gatewayScope.Logger().ErrorContext(r.Context(), "orchestrator call failed", telemetry.Err(err))
	var se *StatusError
	if errors.As(err, &se) {
		writeError(w, se.Code, se.Msg)
		return
	}
	writeError(w, statusOf(err), "orchestrator: "+err.Error())
}

func (g *gateway) agents(w http.ResponseWriter, r *http.Request) {
	if _, ok := g.admit(w, r); !ok {
		return
	}
	var req deployRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	switch {
	case !agentName.MatchString(req.Name):
		g.refuse(w, r, "agent_name", "name must be 1-32 lower-case letters, digits or dashes, starting with a letter")
		return
	case !ids.MatchString(req.Project):
		g.refuse(w, r, "project", "project must be 1-32 lower-case letters, digits or dashes")
		return
	}
	var out deployAnswer
	if err := postJSON(r.Context(), g.http, g.orchestrator+"/v1/agents", req, &out); err != nil {
		g.upstreamFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

func (g *gateway) speech(w http.ResponseWriter, r *http.Request) {
	if _, ok := g.admit(w, r); !ok {
		return
	}
	var req speechRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if msg := req.validate(); msg != "" {
		g.refuse(w, r, "speech", msg)
		return
	}
	var out speechResponse
	if err := postJSON(r.Context(), g.http, g.orchestrator+"/v1/speech", req, &out); err != nil {
		g.upstreamFailed(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
