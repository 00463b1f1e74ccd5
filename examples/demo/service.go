package demo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/instrumentation/loupehttp"
	"github.com/loupe-dev/loupe/instrumentation/louperedis"
	"github.com/loupe-dev/loupe/telemetry"
)

// Version is the demo services' service.version.
const Version = "0.3.0"

// DefaultEnvironment is deployment.environment.name when neither
// OTEL_ENVIRONMENT nor OTEL_RESOURCE_ATTRIBUTES names one.
const DefaultEnvironment = "demo"

// Service describes one demo service: its name and the variables it reads
// besides the OTEL_* ones, with their defaults.
type Service struct {
	Name string
	Vars []Var
	run  func(context.Context, *runtime) error
}

// Var is a variable a service reads, with its default.
type Var struct{ Name, Default, Doc string }

// Variables shared by several services.
var (
	varRedis = Var{"REDIS_URL", "redis://127.0.0.1:6379/0", "Redis: rate limits, speech cache, job queue"}
	varDB    = Var{"DATABASE_URL", "sqlite://loupe-demo.db", "postgres://… (pgx) or sqlite://PATH (pure-Go SQLite)"}
)

// Services lists the five services in the order they are best started:
// each after the peers it calls.
var Services = []Service{
	{Name: "llm", run: runLLM, Vars: []Var{
		{"LISTEN_ADDR", "127.0.0.1:8082", "HTTP listen address"},
		{"LLM_HANG_RATE", "0.005", "share of calls on which the model hangs (its callers time out)"},
	}},
	{Name: "tts", run: runTTS, Vars: []Var{
		{"LISTEN_ADDR", "127.0.0.1:8083", "HTTP listen address"},
		varRedis,
	}},
	{Name: "worker", run: runWorker, Vars: []Var{
		{"LISTEN_ADDR", "127.0.0.1:8084", "HTTP listen address (health and metrics)"},
		varRedis, varDB,
	}},
	{Name: "orchestrator", run: runOrchestrator, Vars: []Var{
		{"LISTEN_ADDR", "127.0.0.1:8081", "HTTP listen address (API and HTTP A2A)"},
		{"GRPC_LISTEN_ADDR", "127.0.0.1:9081", "gRPC listen address (A2A)"},
		{"LLM_URL", "http://127.0.0.1:8082", "the llm service"},
		{"TTS_URL", "http://127.0.0.1:8083", "the tts service"},
		{"AGENTS_URL", "", "HTTP A2A peer hosting the agents (default: this orchestrator)"},
		{"AGENTS_GRPC_ADDR", "", "gRPC A2A peer hosting the agents (default: this orchestrator)"},
		{"AGENT_TTL", "60s", "how long a deployed agent stays active"},
		varRedis,
	}},
	{Name: "gateway", run: runGateway, Vars: []Var{
		{"LISTEN_ADDR", "127.0.0.1:8080", "HTTP listen address"},
		{"ORCHESTRATOR_URL", "http://127.0.0.1:8081", "the orchestrator service"},
		{"RATE_LIMIT", "20", "requests per second allowed per client"},
		varRedis, varDB,
	}},
}

// Lookup returns the service of that name.
func Lookup(name string) (Service, bool) {
	i := slices.IndexFunc(Services, func(s Service) bool { return s.Name == name })
	if i < 0 {
		return Service{}, false
	}
	return Services[i], true
}

// Names returns the services' names, in start order.
func Names() []string {
	names := make([]string, len(Services))
	for i, s := range Services {
		names[i] = s.Name
	}
	return names
}

// Run runs the service until ctx is done, then shuts it down and flushes its
// telemetry. It prints "ready http=ADDR …" to stdout once it listens.
// getenv reads its variables (os.Getenv in a process of its own); the
// OTEL_* variables are read by [telemetry.Setup] from the process
// environment.
func (s Service) Run(ctx context.Context, getenv func(string) string, stdout io.Writer) (err error) {
	rt := &runtime{svc: s, getenv: getenv, stdout: stdout, mux: http.NewServeMux()}
	if rt.tel, err = telemetry.Setup(ctx, resourceOptions(s.Name, getenv)...); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, rt.closeAll())
		// Telemetry that cannot be flushed in time is said, not a failure
		// of the service: its work ended well, and an orchestrator would
		// otherwise count a clean stop as a crash.
		if serr := rt.tel.Shutdown(sctx); serr != nil {
			fmt.Fprintf(os.Stderr, "%s: telemetry not all flushed at shutdown: %v\n", s.Name, serr)
		}
	}()
	rt.log = telemetry.Get("demo/" + s.Name).Logger()
	rt.mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": s.Name, "version": Version})
	})
	rt.mux.Handle("GET /metrics", rt.tel.MetricsHandler())
	return s.run(ctx, rt)
}

// resourceOptions names the service and its environment unless the
// OTEL_* variables do: code options would win over them.
func resourceOptions(name string, getenv func(string) string) []telemetry.Option {
	attrs := getenv("OTEL_RESOURCE_ATTRIBUTES")
	opts := []telemetry.Option{telemetry.WithServiceVersion(Version)}
	if getenv("OTEL_SERVICE_NAME") == "" && !strings.Contains(attrs, "service.name=") {
		opts = append(opts, telemetry.WithServiceName(name))
	}
	if getenv("OTEL_ENVIRONMENT") == "" && !strings.Contains(attrs, "deployment.environment.name=") {
		opts = append(opts, telemetry.WithEnvironment(DefaultEnvironment))
	}
	return opts
}

// runtime is what a running service shares: its telemetry, variables,
// listeners and the clients it opened.
type runtime struct {
	svc     Service
	getenv  func(string) string
	stdout  io.Writer
	tel     *telemetry.Telemetry
	log     *slog.Logger
	mux     *http.ServeMux
	closers []func() error
}

// env returns the variable's value or its default.
func (rt *runtime) env(name string) string {
	if v := rt.getenv(name); v != "" {
		return v
	}
	for _, v := range rt.svc.Vars {
		if v.Name == name {
			return v.Default
		}
	}
	panic("demo: " + rt.svc.Name + " does not declare " + name) // a programming error
}

func (rt *runtime) envInt(name string) (int, error) {
	n, err := strconv.Atoi(rt.env(name))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive integer", name, rt.env(name))
	}
	return n, nil
}

func (rt *runtime) envDuration(name string) (time.Duration, error) {
	d, err := time.ParseDuration(rt.env(name))
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 60s", name, rt.env(name))
	}
	return d, nil
}

func (rt *runtime) onClose(f func() error) { rt.closers = append(rt.closers, f) }

func (rt *runtime) closeAll() error {
	var errs []error
	for _, f := range slices.Backward(rt.closers) {
		errs = append(errs, f())
	}
	return errors.Join(errs...)
}

// redis opens the instrumented Redis client of REDIS_URL.
func (rt *runtime) redis() (*redis.Client, error) {
	opts, err := redis.ParseURL(rt.env("REDIS_URL"))
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rdb := redis.NewClient(opts)
	rt.onClose(rdb.Close)
	// A worker's idle polls are not requests of anyone's: left untraced.
	if err := louperedis.Instrument(rdb, louperedis.WithoutCommands("brpop")); err != nil {
		return nil, err
	}
	return rdb, nil
}

// db opens the instrumented database of DATABASE_URL and creates the demo's
// tables.
func (rt *runtime) db(ctx context.Context) (*sql.DB, error) {
	db, err := openDB(rt.env("DATABASE_URL"))
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	rt.onClose(db.Close)
	if err := migrate(ctx, db); err != nil {
		return nil, fmt.Errorf("DATABASE_URL: creating tables: %w", err)
	}
	return db, nil
}

// listen binds the address in the variable and returns the listener.
func (rt *runtime) listen(name string) (net.Listener, error) {
	ln, err := net.Listen("tcp", rt.env(name))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ln, nil
}

// shutdownGrace bounds how long a stopping service waits for requests in
// flight.
const shutdownGrace = 5 * time.Second

// serveHTTP serves h on the LISTEN_ADDR listener: see serveOn.
func (rt *runtime) serveHTTP(ctx context.Context, h http.Handler) error {
	ln, err := rt.listen("LISTEN_ADDR")
	if err != nil {
		return err
	}
	return rt.serveOn(ctx, ln, h)
}

// serveOn serves h (instrumented, with panics answered 500) on ln, prints
// the ready line (with extra, such as " grpc=ADDR", appended), and shuts
// down when ctx is done.
func (rt *runtime) serveOn(ctx context.Context, ln net.Listener, h http.Handler, extra ...string) error {
	srv := &http.Server{
		Handler: loupehttp.Handler(recoverPanics(rt.log, h), loupehttp.WithoutPaths("/health", "/metrics")),
		// Bodies are small JSON documents: a client slower than this is gone.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// Streamed completions take seconds; nothing here takes a minute.
		WriteTimeout: time.Minute,
		IdleTimeout:  2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(rt.stdout, "ready http=%s%s\n", ln.Addr(), strings.Join(extra, ""))
	rt.log.InfoContext(ctx, "listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	return srv.Shutdown(sctx)
}

// recoverPanics answers 500 for a handler that panicked, as a service that
// must stay up does. It sits inside the instrumented handler, so the server
// span is still open: the panic goes on it as an exception event with its
// stack, the span and the duration histogram carry the 500, and the log
// record carries the span's trace and span ids.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err := fmt.Errorf("panic: %v", p)
			span := trace.SpanFromContext(r.Context())
			span.RecordError(err, trace.WithStackTrace(true))
			span.SetStatus(codes.Error, err.Error())
			log.ErrorContext(r.Context(), "recovered from a panic", "panic", fmt.Sprint(p), "http.route", r.Pattern)
			writeError(w, http.StatusInternalServerError, "internal error")
		}()
		next.ServeHTTP(w, r)
	})
}

// maxBody bounds request bodies: the demo's requests are small.
const maxBody = 64 << 10

// decodeJSON reads a JSON body into v, answering 400 itself on failure.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{msg})
}

// httpClient is the instrumented client every service calls its peers with.
func httpClient(timeout time.Duration) *http.Client {
	c := loupehttp.NewClient()
	c.Timeout = timeout
	return c
}

// postJSON posts in as JSON to url and decodes a 2xx answer into out. Any
// other status is a *StatusError carrying the peer's message.
func postJSON(ctx context.Context, c *http.Client, url string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var e apiError
		_ = json.Unmarshal(data, &e)
		return &StatusError{Code: resp.StatusCode, Msg: e.Error}
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(data, out)
}

// StatusError is a peer's non-2xx answer.
type StatusError struct {
	Code int
	Msg  string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("status %d: %s", e.Code, e.Msg)
}

// ErrorType is the error.type of a call that failed with e: the status
// code, as the HTTP conventions have it, rather than this type's name.
func (e *StatusError) ErrorType() string { return strconv.Itoa(e.Code) }

// dialAddr is the host:port to reach a listener at, with 127.0.0.1 for an
// unspecified host (a listener on all interfaces).
func dialAddr(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); err != nil || ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
