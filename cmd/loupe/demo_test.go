//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/internal/servertest"
	"github.com/loupe-dev/loupe/internal/testservers"
	"github.com/loupe-dev/loupe/internal/testutil"
)

// TestDemo builds loupe as users get it (CGO_ENABLED=0) and runs `loupe
// demo` three times, one after the other, as real processes: on its
// embedded backend, polled while it runs; with --backend none into an OTLP
// receiver, read after it exits (so what the services flush as they stop
// counts); and on the embedded backend with a real Redis and PostgreSQL,
// stopped by Ctrl-C once the checks hold. Each time the telemetry must pass
// demoChecks, the command must exit 0 and no service it started may outlive
// it.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs the demo platform for a minute")
	}
	bin := buildLoupe(t)

	t.Run("embedded", func(t *testing.T) {
		d := startDemo(t, nil, bin, "demo", "--duration", "25s", "--http", "127.0.0.1:0")
		awaitDemoTelemetry(t, d, true)
		d.wait(t)
	})

	t.Run("backend none", func(t *testing.T) {
		recv := servertest.Start(t, server.Config{OTLPGRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
		d := startDemo(t, []string{
			"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + recv.Addrs("otlp-grpc")[0].String(),
			"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		}, bin, "demo", "--backend", "none", "--duration", "15s")
		if d.ui != "" {
			t.Errorf("--backend none printed a web UI address: %s", d.ui)
		}
		d.wait(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		held := map[string]string{}
		for _, p := range demoProblems(ctx, newDemoAPI(servertest.URL(recv, "http")), time.Now(), held, false) {
			t.Error(p)
		}
		logHeld(t, held)
	})

	t.Run("redis and postgresql", func(t *testing.T) {
		rd := requireServer(t, "redis", testservers.StartRedis)
		pg := requireServer(t, "postgresql", testservers.StartPostgres)
		d := startDemo(t, nil, bin, "demo", "--duration", "25s", "--http", "127.0.0.1:0",
			"--redis-url", "redis://"+rd.Addr+"/0", "--database-url", pg.DSN)
		for _, want := range []string{"redis: redis://" + rd.Addr, "sql:   " + pg.DSN} {
			if !strings.Contains(d.stdout.String(), want) {
				t.Errorf("the start message does not say %q", want)
			}
		}
		awaitDemoTelemetry(t, d, false)
		// Then Ctrl-C, as a user stops it, rather than wait for --duration.
		if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		d.wait(t)
	})

	// `go run` ends on SIGTERM without passing it on to the program it
	// runs; whatever started the demo may also just die. The launcher must
	// then stop the platform as on SIGTERM.
	t.Run("parent ends", func(t *testing.T) {
		d := startDemo(t, nil, "sh", "-c", `"$0" "$@" & echo "launcher pid $!"; wait`,
			bin, "demo", "--duration", "2m", "--http", "127.0.0.1:0")
		m := regexp.MustCompile(`launcher pid (\d+)`).FindStringSubmatch(d.stdout.String())
		if m == nil {
			t.Fatal("sh did not print the launcher's pid")
		}
		d.pids["launcher"], _ = strconv.Atoi(m[1])
		if err := d.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		// Wait returns once the launcher and the services, which share
		// sh's stdout, have all closed it.
		select {
		case <-d.done:
		case <-time.After(45 * time.Second):
			t.Fatal("loupe demo still running 45 s after its parent ended")
		}
		d.stopped(t)
	})
}

// requireServer starts a test server, stopped when t ends. A server that
// cannot start fails t under CI=true and skips it elsewhere.
func requireServer[S interface{ Stop() error }](t *testing.T, name string, start func() (S, error)) S {
	t.Helper()
	s, err := start()
	if err != nil {
		msg := fmt.Sprintf("%s unavailable (run scripts/install-services): %v", name, err)
		if testservers.InCI() {
			t.Fatal(msg, "— CI=true does not skip")
		}
		t.Skip(msg)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping %s: %v", name, err)
		}
	})
	return s
}

// demoRun is a running `loupe demo`.
type demoRun struct {
	cmd            *exec.Cmd
	stdout, stderr *testutil.SyncBuffer
	ui             string         // the embedded backend's http://host:port, if any
	pids           map[string]int // the services' processes, by name
	started        time.Time
	stopsAt        time.Time     // when --duration ends at the earliest
	done           chan struct{} // closed when the command has exited
	err            error         // its exit status, set before done closes
}

// startDemo runs argv, a command that runs `loupe demo` with --duration,
// with this process's environment, without its OTEL_* variables, with
// LLM_HANG_RATE=0, plus env; and returns once the demo has printed its
// services and starts the traffic.
func startDemo(t *testing.T, env []string, argv ...string) *demoRun {
	t.Helper()
	var duration time.Duration
	for i, a := range argv {
		if a == "--duration" {
			duration, _ = time.ParseDuration(argv[i+1])
		}
	}
	d := &demoRun{stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}, pids: map[string]int{}, done: make(chan struct{})}
	d.cmd = exec.Command(argv[0], argv[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OTEL_") {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	// The model's random hangs (0.5% of calls) could turn the one chat that
	// carries slow_sql into a timeout; llm_timeout injects the one checked.
	d.cmd.Env = append(d.cmd.Env, "LLM_HANG_RATE=0")
	d.cmd.Env = append(d.cmd.Env, env...)
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	d.started = time.Now()
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default: // the test failed before wait
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.done:
			case <-time.After(30 * time.Second):
				_ = d.cmd.Process.Kill()
				<-d.done
			}
		}
		if t.Failed() { // with its summary: answers by status, failures injected
			t.Logf("loupe demo's stdout:\n%s\nstderr:\n%s", d.stdout, d.stderr)
		}
	})
	const startTimeout = 60 * time.Second
	for deadline := time.Now().Add(startTimeout); ; {
		if out := d.stdout.String(); strings.Contains(out, "loupe demo: sending") {
			d.parse(t, out)
			d.stopsAt = d.started.Add(duration)
			return d
		}
		select {
		case <-d.done:
			t.Fatalf("loupe demo exited before it started the traffic: %v", d.err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("loupe demo did not start the traffic within %v", startTimeout)
		}
	}
}

var (
	uiLine      = regexp.MustCompile(`(?m)^loupe demo: the web UI is at (http://[^/\s]+)/`)
	serviceLine = regexp.MustCompile(`(?m)^\s+(\S+)\s+http://\S+.*\spid (\d+)$`)
)

// parse reads the UI address and the services' pids from the start message.
func (d *demoRun) parse(t *testing.T, out string) {
	t.Helper()
	if m := uiLine.FindStringSubmatch(out); m != nil {
		d.ui = m[1]
	}
	for _, m := range serviceLine.FindAllStringSubmatch(out, -1) {
		d.pids[m[1]], _ = strconv.Atoi(m[2])
	}
	for _, s := range demoServices {
		if d.pids[s] <= 0 {
			t.Fatalf("no pid for %s in the start message", s)
		}
	}
}

// settle is how long after a moment everything sent about it has
// arrived: a request's longest span (a model timeout, 3 s) and the
// export delay (1 s), with room to spare on a busy machine.
const settle = 8 * time.Second

// awaitDemoTelemetry polls the embedded backend while the demo runs, until
// demoChecks hold; then, with lastRound, runs the forAll ones once more as
// late as it can, to cover as much of the run as it can. It fails t with
// what does not hold.
func awaitDemoTelemetry(t *testing.T, d *demoRun, lastRound bool) {
	t.Helper()
	if d.ui == "" {
		t.Fatal("no web UI address in the start message")
	}
	api := newDemoAPI(d.ui)
	// The demo counts its --duration from the start of the traffic, after
	// its services' start: the backend answers until d.stopsAt at least.
	ctx, cancel := context.WithDeadline(context.Background(), d.stopsAt)
	defer cancel()
	last := d.stopsAt.Add(-4 * time.Second) // the start of the last round
	held := map[string]string{}
	defer logHeld(t, held)
	fail := func(problems []error) {
		t.Errorf("%v after the demo's start:", time.Since(d.started).Round(time.Second))
		for _, p := range problems {
			t.Error(p)
		}
	}
	for {
		problems := demoProblems(ctx, api, time.Now().Add(-settle), held, true)
		if len(problems) == 0 {
			t.Logf("the checks held %v after the demo's start", time.Since(d.started).Round(time.Second))
			if !lastRound {
				return
			}
			break
		}
		if time.Now().After(last) {
			fail(problems)
			return
		}
		select {
		case <-d.done:
			fail(problems)
			return
		case <-time.After(time.Second):
		}
	}
	select {
	case <-d.done:
		return // wait reports it
	case <-time.After(time.Until(last)):
	}
	if problems := demoProblems(ctx, api, time.Now().Add(-settle), held, true); len(problems) > 0 {
		fail(problems)
	}
}

// logHeld logs what each check that held saw.
func logHeld(t *testing.T, held map[string]string) {
	t.Helper()
	for _, c := range demoChecks {
		if saw, ok := held[c.name]; ok {
			t.Logf("%s: %s", c.name, saw)
		}
	}
}

// wait waits for the command to exit, after its --duration or a signal: it
// must exit 0 and leave no service running.
func (d *demoRun) wait(t *testing.T) {
	t.Helper()
	const stopTimeout = 45 * time.Second // the services stop one after another, each within 10 s
	select {
	case <-d.done:
	case <-time.After(time.Until(d.stopsAt) + stopTimeout):
		t.Fatalf("loupe demo still running %v after its --duration", stopTimeout)
	}
	if d.err != nil {
		t.Errorf("loupe demo: %v", d.err)
	}
	d.stopped(t)
}

// stopped checks, once the demo has ended, that it said its services
// stopped and that none of its processes is left.
func (d *demoRun) stopped(t *testing.T) {
	t.Helper()
	if !strings.Contains(d.stdout.String(), fmt.Sprintf("loupe demo: %d services stopped", len(demoServices))) {
		t.Error("no stop message")
	}
	// The launcher waited for each service, so none should be left; one
	// that is has escaped it. Give init a moment to reap what it inherited.
	deadline := time.Now().Add(5 * time.Second)
	for name, pid := range d.pids {
		for {
			err := syscall.Kill(pid, 0)
			if errors.Is(err, syscall.ESRCH) {
				break
			}
			if time.Now().After(deadline) {
				stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
				t.Errorf("%s (pid %d) outlived loupe demo: kill(pid, 0) = %v; /proc/%d/stat: %s", name, pid, err, pid, stat)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
