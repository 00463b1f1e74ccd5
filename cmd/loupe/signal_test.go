//go:build unix

package main

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/internal/probe"
)

// TestSignalStopsBinary builds loupe as users get it (CGO_ENABLED=0), runs
// `loupe serve`, and stops it with SIGTERM.
func TestSignalStopsBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildLoupe(t)
	cmd := exec.Command(bin, "serve", "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--http", "127.0.0.1:0",
		"--data-dir", t.TempDir())
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	waitFor := func(what string) {
		t.Helper()
		deadline := time.After(15 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("loupe exited before %q", what)
				}
				if strings.Contains(l, what) {
					return
				}
			case <-deadline:
				_ = cmd.Process.Kill()
				t.Fatalf("no %q from loupe", what)
			}
		}
	}
	waitFor("listener=http")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor("msg=stopped")
	for range lines { // drain until the pipe closes
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
}

// buildLoupe builds loupe as users get it, pure Go (CGO_ENABLED=0), into a
// temporary directory, and returns its path.
func buildLoupe(tb testing.TB) string {
	tb.Helper()
	bin, err := probe.Build(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}
