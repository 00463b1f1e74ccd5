package demo_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/examples/demo"
)

// A service whose telemetry cannot be flushed at shutdown — its collector
// accepts connections and never answers — still stops within its bound and
// reports no error: its own work ended well.
func TestStopsCleanWhenTelemetryCannotFlush(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered
		}
	}()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "60000")
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "100")

	svc, ok := demo.Lookup("llm")
	if !ok {
		t.Fatal("no llm service")
	}
	env := map[string]string{"LISTEN_ADDR": "127.0.0.1:0"}
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- svc.Run(ctx, func(k string) string { return env[k] }, pw)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("no ready line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	addr := strings.TrimPrefix(strings.Fields(line)[1], "http=")
	resp, err := http.Get("http://" + addr + "/health") // a span to flush, at least the server's
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	time.Sleep(300 * time.Millisecond) // the batch is sent, and hangs

	cancel()
	start := time.Now()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v, want nil", err)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("stopped after %v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the service did not stop within 20 s")
	}
}
