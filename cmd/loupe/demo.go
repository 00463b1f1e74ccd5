package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/examples/demo"
)

type demoFlags struct {
	exe                   string // the loupe binary the services run from (default: this program)
	duration              time.Duration
	rate                  float64
	noFailures            bool
	backend               string
	http                  string
	redisURL, databaseURL string
}

func parseDemoFlags(args []string, stderr io.Writer) (*demoFlags, error) {
	f := &demoFlags{}
	fs := flag.NewFlagSet("loupe demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: loupe demo [flags]
       loupe demo service NAME   (run one service of the platform; without NAME, list them)

Runs the demo platform (gateway, orchestrator, llm, tts, worker) as child
processes, with traffic, on an embedded loupe serve (or --backend none).

The services export metrics every 5 s and spans and logs every second
unless OTEL_METRIC_EXPORT_INTERVAL, OTEL_BSP_SCHEDULE_DELAY or
OTEL_BLRP_SCHEDULE_DELAY (milliseconds) say otherwise, with either backend:
OTEL_METRIC_EXPORT_INTERVAL=60000 shows the SDK's default.

flags:
`)
		fs.PrintDefaults()
	}
	fs.DurationVar(&f.duration, "duration", 0, "stop after this long (0: run until Ctrl-C)")
	fs.Float64Var(&f.rate, "rate", 5, "requests per second the traffic sends to the gateway (0: no traffic)")
	failures := fs.Bool("failures", true, "inject failures on a schedule: validation errors, a rate-limit burst, a model timeout, a cache-miss storm, a slow SQL query, a panic")
	fs.StringVar(&f.backend, "backend", "embedded", `where telemetry goes: "embedded" (a loupe serve in memory, with its UI) or "none" (wherever the OTEL_* variables point)`)
	fs.StringVar(&f.http, "http", "localhost:16686", "address of the embedded backend's web UI and query API")
	fs.StringVar(&f.redisURL, "redis-url", "", "a real Redis server, redis://host:port/db (default: an embedded Redis stand-in, miniredis)")
	fs.StringVar(&f.databaseURL, "database-url", "", "a real PostgreSQL database, postgres://user@host:port/db (default: SQLite in a temporary file)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	f.noFailures = !*failures
	switch {
	case f.backend != "embedded" && f.backend != "none":
		return nil, fmt.Errorf(`--backend %q: want "embedded" or "none"`, f.backend)
	case f.duration < 0:
		return nil, fmt.Errorf("--duration %v: want a positive duration, or 0 to run until Ctrl-C", f.duration)
	case f.rate < 0 || f.rate > 10000:
		return nil, fmt.Errorf("--rate %v: want 0 to 10000 requests per second", f.rate)
	case f.databaseURL != "" && !strings.HasPrefix(f.databaseURL, "postgres://") && !strings.HasPrefix(f.databaseURL, "postgresql://"):
		return nil, fmt.Errorf("--database-url %q: want postgres://user@host:port/db", f.databaseURL)
	case f.redisURL != "" && !strings.HasPrefix(f.redisURL, "redis://") && !strings.HasPrefix(f.redisURL, "rediss://"):
		return nil, fmt.Errorf("--redis-url %q: want redis://host:port/db", f.redisURL)
	}
	return f, nil
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "service" {
		return runDemoService(ctx, args[1:], stdout, stderr)
	}
	f, err := parseDemoFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "loupe demo: %v\n", err)
		return 2
	}
	if err := stopWithParent(); err != nil {
		fmt.Fprintf(stderr, "loupe demo: %v (the platform will outlive the process that started it)\n", err)
	}
	res, err := launch(ctx, f, stdout, stderr)
	if len(res.CPU) > 0 {
		var parts []string
		for _, s := range demo.Names() {
			if d, ok := res.CPU[s]; ok {
				parts = append(parts, fmt.Sprintf("%s %v", s, d.Round(time.Millisecond)))
			}
		}
		fmt.Fprintf(stdout, "  CPU time: %s\n", strings.Join(parts, ", "))
	}
	if err != nil {
		fmt.Fprintf(stderr, "loupe demo: %v\n", err)
		return 1
	}
	return 0
}

// demoResult is what a run of the platform did: the traffic's answers, and
// the CPU time each service used.
type demoResult struct {
	Traffic demo.Summary
	CPU     map[string]time.Duration
}

// profileService, set only in builds with the loupeprof tag (see
// demoprof.go), starts a CPU profile of the service and returns what stops
// it: how BenchmarkDemoCost's figures are explained.
var profileService func(name string) (stop func())

// runDemoService runs one service in this process: what the launcher starts
// as a child, and what deploy files run.
func runDemoService(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: loupe demo service NAME\n\nservices and the variables they read besides OTEL_*:")
		for _, s := range demo.Services {
			fmt.Fprintf(stderr, "  %s\n", s.Name)
			for _, v := range s.Vars {
				fmt.Fprintf(stderr, "      %-17s %s (default %q)\n", v.Name, v.Doc, v.Default)
			}
		}
		return 2
	}
	svc, ok := demo.Lookup(args[0])
	if !ok {
		fmt.Fprintf(stderr, "loupe demo service: no service %q: want one of %s\n", args[0], strings.Join(demo.Names(), ", "))
		return 2
	}
	if profileService != nil {
		defer profileService(svc.Name)()
	}
	if err := svc.Run(ctx, os.Getenv, stdout); err != nil {
		fmt.Fprintf(stderr, "loupe demo service %s: %v\n", svc.Name, err)
		return 1
	}
	return 0
}

// Timeouts of the launcher.
const (
	childReadyTimeout = 30 * time.Second // a service binds its listeners in well under a second
	childStopTimeout  = 10 * time.Second // a service drains requests (5 s) and flushes telemetry (5 s)
)

// launch runs the platform until ctx is done or f.duration has passed.
func launch(ctx context.Context, f *demoFlags, stdout, stderr io.Writer) (res demoResult, err error) {
	exe := f.exe
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return res, fmt.Errorf("finding this program to start the services: %w", err)
		}
	}
	tmp, err := os.MkdirTemp("", "loupe-demo-")
	if err != nil {
		return res, err
	}
	defer func() { _ = os.RemoveAll(tmp) }()

	env := childEnv(os.Environ(), f.backend == "embedded")
	if f.backend == "embedded" {
		st := memstore.New(memstore.WithMaxBytes(256 << 20))
		defer func() { _ = st.Close() }()
		srv, err := server.Start(ctx, server.Config{OTLPGRPCAddr: "127.0.0.1:0", OTLPHTTPAddr: "127.0.0.1:0", HTTPAddr: f.http, Store: st,
			Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			return res, fmt.Errorf("embedded backend: %w", err)
		}
		// Stopped last, deferred first: the services flush into it as they stop.
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			defer cancel()
			err = errors.Join(err, srv.Shutdown(sctx))
		}()
		otlp := srv.Addrs("otlp-http")[0].String()
		env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://" + otlp
		env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf"
		fmt.Fprintf(stdout, "loupe demo: the web UI is at http://%s/ (telemetry kept in memory)\n", srv.Addrs("http")[0])
		fmt.Fprintf(stdout, "  OTLP: http://%s (HTTP), %s (gRPC): send your own services here too\n", otlp, srv.Addrs("otlp-grpc")[0])
	} else {
		fmt.Fprintf(stdout, "loupe demo: no embedded backend; telemetry goes where OTEL_EXPORTER_OTLP_ENDPOINT points (%s)\n",
			orDefault(env["OTEL_EXPORTER_OTLP_ENDPOINT"], "unset: the SDK default, http://localhost:4318"))
	}

	redisURL := f.redisURL
	if redisURL == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.StartAddr("127.0.0.1:0"); err != nil {
			return res, fmt.Errorf("embedded Redis: %w", err)
		}
		defer mr.Close()
		stopClock := tickRedisClock(mr)
		defer stopClock()
		redisURL = "redis://" + mr.Addr() + "/0"
		fmt.Fprintf(stdout, "  redis: an embedded stand-in (miniredis) at %s; --redis-url uses a real server\n", mr.Addr())
	} else {
		fmt.Fprintf(stdout, "  redis: %s\n", redactURL(redisURL))
	}
	databaseURL := f.databaseURL
	if databaseURL == "" {
		databaseURL = "sqlite://" + filepath.ToSlash(filepath.Join(tmp, "demo.db"))
		fmt.Fprintf(stdout, "  sql:   SQLite (pure Go) in %s; --database-url uses a real PostgreSQL\n", tmp)
	} else {
		fmt.Fprintf(stdout, "  sql:   %s\n", redactURL(databaseURL))
	}
	env["REDIS_URL"], env["DATABASE_URL"] = redisURL, databaseURL

	children := &supervisor{exe: exe, logDir: tmp, exited: make(chan *child, len(demo.Services))}
	defer func() {
		err = errors.Join(err, children.stopAll(stdout))
		res.CPU = children.cpu()
	}()
	for _, s := range demo.Services {
		c, err := children.start(ctx, s.Name, env)
		if err != nil {
			return res, err
		}
		fmt.Fprintf(stdout, "  %-12s http://%s%s  pid %d\n", s.Name, c.http, suffix(" grpc ", c.grpc), c.cmd.Process.Pid)
		switch s.Name { // the peers' addresses of the services started next
		case "llm":
			env["LLM_URL"] = "http://" + c.http
		case "tts":
			env["TTS_URL"] = "http://" + c.http
		case "orchestrator":
			env["ORCHESTRATOR_URL"] = "http://" + c.http
		case "gateway":
			env["GATEWAY_URL"] = "http://" + c.http
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if f.duration > 0 {
		runCtx, cancel = context.WithTimeout(runCtx, f.duration)
		defer cancel()
	}
	go func() { // a service that dies stops the demo; stopAll reports it
		select {
		case <-children.exited:
			cancel()
		case <-runCtx.Done():
		}
	}()
	fmt.Fprintf(stdout, "loupe demo: sending %.1f requests/s to the gateway; Ctrl-C stops everything\n", f.rate)
	if f.rate > 0 {
		res.Traffic = (&demo.Traffic{GatewayURL: env["GATEWAY_URL"], Rate: f.rate, NoFailures: f.noFailures, Report: stdout}).Run(runCtx)
		printSummary(stdout, res.Traffic)
	} else {
		<-runCtx.Done()
	}
	cancel()
	fmt.Fprintln(stdout, "loupe demo: stopping")
	return res, nil
}

// childEnv is the services' environment: this process's, without what names
// one service or one place to send to (each child gets its own), with the
// demo's faster export defaults where the variables are unset or empty: a
// user's own interval or delay applies, with either backend.
func childEnv(environ []string, embedded bool) map[string]string {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "OTEL_SERVICE_NAME":
			continue
		case embedded && (strings.HasPrefix(k, "OTEL_EXPORTER_") || strings.HasSuffix(k, "_EXPORTER") && strings.HasPrefix(k, "OTEL_")):
			continue // the embedded backend is where telemetry goes
		}
		env[k] = v
	}
	// Export every second (spans, logs) and every 5 s (metrics), rather
	// than 5 s and 60 s, so that the UI is live at once. An empty variable
	// is an unset one, as the SDK reads it.
	for k, v := range map[string]string{
		"OTEL_METRIC_EXPORT_INTERVAL": "5000",
		"OTEL_BSP_SCHEDULE_DELAY":     "1000",
		"OTEL_BLRP_SCHEDULE_DELAY":    "1000",
	} {
		if strings.TrimSpace(env[k]) == "" {
			env[k] = v
		}
	}
	return env
}

// tickRedisClock advances miniredis' clock with the wall clock: it expires
// keys only when told time has passed.
func tickRedisClock(mr *miniredis.Miniredis) (stop func()) {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				mr.FastForward(now.Sub(last))
				last = now
			}
		}
	}()
	return func() { close(done) }
}

// redactURL hides a URL's password.
func redactURL(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		if at := strings.LastIndex(raw, "@"); at > i {
			if colon := strings.Index(raw[i+3:at], ":"); colon >= 0 {
				return raw[:i+3+colon+1] + "xxxxx" + raw[at:]
			}
		}
	}
	return raw
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func suffix(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func printSummary(w io.Writer, s demo.Summary) {
	fmt.Fprintln(w, "loupe demo: answers by endpoint and status (0: no answer), and their latency")
	for _, e := range slices.Sorted(maps.Keys(s.Requests)) {
		var parts []string
		for _, code := range slices.Sorted(maps.Keys(s.Requests[e])) {
			parts = append(parts, fmt.Sprintf("%d×%d", s.Requests[e][code], code))
		}
		ds := s.Latencies[e]
		fmt.Fprintf(w, "  %-16s %s  p50 %v p99 %v\n", e, strings.Join(parts, "  "),
			demo.Quantile(ds, 0.5).Round(time.Millisecond), demo.Quantile(ds, 0.99).Round(time.Millisecond))
	}
	var kinds []string
	for _, k := range slices.Sorted(maps.Keys(s.Failures)) {
		kinds = append(kinds, fmt.Sprintf("%s×%d", k, s.Failures[k]))
	}
	fmt.Fprintf(w, "  injected failures: %s\n", strings.Join(kinds, " "))
	if s.Skipped > 0 {
		fmt.Fprintf(w, "  %d requests not sent: too many in flight\n", s.Skipped)
	}
}

// supervisor starts the services as children of this process and stops them.
type supervisor struct {
	exe      string
	logDir   string
	children []*child
	exited   chan *child // children that exited on their own; buffered for all
}

type child struct {
	name       string
	cmd        *exec.Cmd
	http, grpc string
	log        string
	done       chan struct{} // closed when the process has exited
	err        error         // its exit status, set before done closes
	stopping   atomic.Bool   // set before the launcher stops it
}

// start starts the service and waits for its ready line.
func (s *supervisor) start(ctx context.Context, name string, env map[string]string) (*child, error) {
	c := &child{name: name, log: filepath.Join(s.logDir, name+".log"), done: make(chan struct{})}
	logFile, err := os.Create(c.log)
	if err != nil {
		return nil, err
	}
	defer func() { _ = logFile.Close() }() // the child holds its own descriptor
	c.cmd = exec.Command(s.exe, "demo", "service", name)
	childEnv := maps.Clone(env)
	childEnv["LISTEN_ADDR"] = "127.0.0.1:0"
	if name == "orchestrator" {
		childEnv["GRPC_LISTEN_ADDR"] = "127.0.0.1:0"
	}
	for _, k := range slices.Sorted(maps.Keys(childEnv)) {
		c.cmd.Env = append(c.cmd.Env, k+"="+childEnv[k])
	}
	c.cmd.Stderr = logFile
	c.cmd.SysProcAttr = childProcAttr()
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	s.children = append(s.children, c)
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			ready <- sc.Text()
		}
		close(ready)
		_, _ = io.Copy(io.Discard, out) // a service prints nothing more; drained all the same
	}()
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
		if !c.stopping.Load() {
			s.exited <- c
		}
	}()
	select {
	case line, ok := <-ready:
		fields := strings.Fields(line)
		if !ok || len(fields) < 2 || fields[0] != "ready" {
			<-c.done
			return nil, fmt.Errorf("%s did not start: %v\n%s", name, c.err, c.logTail())
		}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			switch k {
			case "http":
				c.http = v
			case "grpc":
				c.grpc = v
			}
		}
		return c, nil
	case <-time.After(childReadyTimeout):
		return nil, fmt.Errorf("%s was not ready within %v\n%s", name, childReadyTimeout, c.logTail())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stopAll stops the children, the last started first (the gateway before
// what it calls), each with SIGTERM then, after childStopTimeout, SIGKILL.
func (s *supervisor) stopAll(stdout io.Writer) error {
	var errs []error
	for _, c := range slices.Backward(s.children) {
		if c.stopping.Swap(true) {
			continue
		}
		select {
		case <-c.done:
			errs = append(errs, fmt.Errorf("%s exited early: %v\n%s", c.name, c.err, c.logTail()))
			continue
		default:
		}
		if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			_ = c.cmd.Process.Kill() // where there is no SIGTERM (Windows)
		}
		select {
		case <-c.done:
			if c.err != nil {
				errs = append(errs, fmt.Errorf("%s: %v\n%s", c.name, c.err, c.logTail()))
			}
		case <-time.After(childStopTimeout):
			_ = c.cmd.Process.Kill()
			<-c.done
			errs = append(errs, fmt.Errorf("%s did not stop within %v: killed", c.name, childStopTimeout))
		}
	}
	if len(errs) == 0 && len(s.children) > 0 {
		fmt.Fprintf(stdout, "loupe demo: %d services stopped\n", len(s.children))
	}
	return errors.Join(errs...)
}

// cpu is the CPU time (user and system) each child that has exited used.
func (s *supervisor) cpu() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, c := range s.children {
		select {
		case <-c.done:
			if ps := c.cmd.ProcessState; ps != nil {
				out[c.name] = ps.UserTime() + ps.SystemTime()
			}
		default:
		}
	}
	return out
}

// logTail is the end of the child's log, for an error message.
func (c *child) logTail() string {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "  " + c.name + " log:\n    " + strings.Join(lines, "\n    ")
}
