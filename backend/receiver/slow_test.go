package receiver_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/backend/receiver"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

// slowClient sends the headers of an OTLP/HTTP request declaring size
// bytes, then one byte every interval until the server answers or closes;
// it returns the answer's status line ("" when the connection closed
// without one).
func slowClient(t *testing.T, addr string, size int, interval time.Duration, started chan<- struct{}) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Error(err)
		return ""
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // bounds the test
	fmt.Fprintf(c, "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: %d\r\n\r\n", size)
	started <- struct{}{}
	answer := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(c).ReadString('\n')
		answer <- strings.TrimSpace(line)
	}()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for range size {
		select {
		case a := <-answer:
			return a
		case <-tick.C:
			if _, err := c.Write([]byte{0x0a}); err != nil {
				return <-answer
			}
		}
	}
	return <-answer
}

// A body that trickles in slower than the floor is cut with 408 once the
// grace period is over, and holds nothing for longer.
func TestSlowBodyCut(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	mux := http.NewServeMux()
	receiver.New(s, receiver.WithMinBodyRate(1000, 300*time.Millisecond, 10*time.Second)).RegisterRoutes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	start := time.Now()
	started := make(chan struct{}, 1)
	line := slowClient(t, srv.Listener.Addr().String(), 1000, 100*time.Millisecond, started)
	if !strings.Contains(line, "408") {
		t.Errorf("slow body: %q, want 408", line)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cut after %v, want about the grace period", d)
	}
	// An ordinary request on the same server still succeeds.
	resp, err := http.Post(srv.URL+"/v1/traces", "application/x-protobuf", strings.NewReader(string(must(traceRequest().MarshalProto()))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("ordinary request: %d", resp.StatusCode)
	}
}

// Slow bodies hold no request slot: with every slot's worth of slow
// clients trickling in, ordinary requests are answered at once.
func TestSlowBodiesHoldNoSlot(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	mux := http.NewServeMux()
	receiver.New(s, receiver.WithMaxConcurrentRequests(2, 50*time.Millisecond), receiver.WithMaxPendingRequests(8)).RegisterRoutes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	const slow = 4
	started := make(chan struct{}, slow)
	done := make(chan struct{})
	for range slow {
		go func() {
			defer func() { done <- struct{}{} }()
			slowClient(t, srv.Listener.Addr().String(), 3, 300*time.Millisecond, started)
		}()
	}
	for range slow {
		<-started
	}
	body := string(must(traceRequest().MarshalProto()))
	for i := range 10 {
		resp, err := http.Post(srv.URL+"/v1/traces", "application/x-protobuf", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ordinary request %d with %d slow clients: %d", i, slow, resp.StatusCode)
		}
	}
	for range slow {
		<-done
	}
}

// Over gRPC the authorization check comes before the message is read, and
// a call beyond the pending bound is refused at once.
func TestGRPCTap(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	auth := func(md metadata.MD) error {
		if len(md.Get("authorization")) == 0 {
			return status.Error(codes.Unauthenticated, "no token")
		}
		return nil
	}
	cc := grpcServer(t, s, receiver.WithGRPCAuth(auth), receiver.WithMaxConcurrentRequests(1, time.Second), receiver.WithMaxPendingRequests(1))
	client := ptraceotlp.NewGRPCClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if _, err := client.Export(ctx, traceRequest()); status.Code(err) != codes.Unauthenticated {
		t.Errorf("without a token: %v, want UNAUTHENTICATED", err)
	}
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "x")
	if _, err := client.Export(authed, traceRequest()); err != nil {
		t.Errorf("with a token: %v", err)
	}
	// The pending slot is given back when a call ends, whatever the end:
	// many calls in a row each find it free.
	for i := range 20 {
		if _, err := client.Export(authed, traceRequest()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
}

// A gRPC connection without calls is closed after the idle bound; the
// client reconnects for its next call.
func TestGRPCIdleClosed(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	cc := grpcServer(t, s, receiver.WithMaxConnectionIdle(200*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client := ptraceotlp.NewGRPCClient(cc)
	if _, err := client.Export(ctx, traceRequest()); err != nil {
		t.Fatal(err)
	}
	for st := cc.GetState(); st == connectivity.Ready; st = cc.GetState() {
		if !cc.WaitForStateChange(ctx, st) {
			t.Fatalf("the idle connection is still %v after 10 s", st)
		}
	}
	if _, err := client.Export(ctx, traceRequest()); err != nil {
		t.Errorf("after the idle close: %v", err)
	}
}
