// Package probe drives a `loupe serve` process from outside, as issue 10's
// hostile clients and unlucky operators did: it builds and starts the
// binary on loopback ports, reads its memory from /proc, and has the
// clients (16 MiB gRPC floods, bodies sent at a byte a second, fills of a
// store). cmd/loupe's reliability tests and benchmark and scripts/soak
// share it.
package probe

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build builds cmd/loupe with CGO_ENABLED=0 into dir and returns the
// binary's path. It runs `go build` in the current module.
func Build(dir string) (string, error) {
	bin := filepath.Join(dir, "loupe")
	build := exec.Command("go", "build", "-o", bin, "github.com/loupe-dev/loupe/cmd/loupe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	return bin, nil
}

// startTimeout bounds the wait for a process's addresses.
const startTimeout = 30 * time.Second

// Listeners are the names of serve's listeners, as it prints them.
var Listeners = []string{"otlp-grpc", "otlp-http", "http"}

// Process is a running `loupe serve`.
type Process struct {
	PID int
	// Addrs are the listeners' addresses by name (Listeners).
	Addrs map[string]string
	// Listening is the time from the start of the process to its
	// addresses being printed.
	Listening time.Duration

	cmd  *exec.Cmd
	done chan struct{}
	err  error // of Wait, once done is closed

	mu   sync.Mutex
	logs []byte // stderr so far
}

// Start runs `bin serve` on ephemeral loopback ports with args added (and
// env added to the environment) and returns once it has printed its three
// addresses. Kill or Stop it.
func Start(bin string, env []string, args ...string) (*Process, error) {
	cmd := exec.Command(bin, append([]string{"serve", "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--http", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logs, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &Process{Addrs: map[string]string{}, cmd: cmd, done: make(chan struct{})}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p.PID = cmd.Process.Pid
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := logs.Read(buf)
			p.mu.Lock()
			p.logs = append(p.logs, buf[:n]...)
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	found := make(chan map[string]string, 1)
	go func() {
		addrs := map[string]string{}
		sc := bufio.NewScanner(out)
		for len(addrs) < len(Listeners) && sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 && !strings.Contains(f[1], "[") {
				addrs[f[0]] = f[1]
			}
		}
		found <- addrs
		_, _ = io.Copy(io.Discard, out)
		<-copied // Wait closes the pipes
		p.err = cmd.Wait()
		close(p.done)
	}()
	select {
	case p.Addrs = <-found:
	case <-time.After(startTimeout):
	}
	p.Listening = time.Since(start)
	if len(p.Addrs) < len(Listeners) {
		_ = p.Kill()
		return nil, fmt.Errorf("loupe serve printed addresses %v in %v; stderr:\n%s", p.Addrs, p.Listening.Round(time.Millisecond), p.Logs())
	}
	return p, nil
}

// URL is "http://" and the address of listener name.
func (p *Process) URL(name string) string { return "http://" + p.Addrs[name] }

// Logs is what the process wrote to stderr so far.
func (p *Process) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return string(p.logs)
}

// Alive reports whether the process has not exited.
func (p *Process) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Kill ends the process with SIGKILL and waits for it.
func (p *Process) Kill() error {
	if !p.Alive() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return nil
}

// Stop ends the process with SIGTERM and waits up to timeout for it to
// exit (then kills it); it returns the error of an exit other than 0.
func (p *Process) Stop(timeout time.Duration) error {
	if !p.Alive() {
		return p.err
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		_ = p.Kill()
		return fmt.Errorf("still running %v after SIGTERM", timeout)
	}
}

// Mem is a field of /proc/<pid>/status in bytes: VmRSS, or VmHWM (the
// peak RSS since the start or the last ResetPeak).
func (p *Process) Mem(field string) (int64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, p.PID)
}

// ResetPeak resets VmHWM to the current RSS (through
// /proc/<pid>/clear_refs).
func (p *Process) ResetPeak() error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.PID), []byte("5"), 0)
}
