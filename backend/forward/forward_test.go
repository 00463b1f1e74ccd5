package forward_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"

	"github.com/loupe-dev/loupe/backend/forward"
	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
	"github.com/loupe-dev/loupe/internal/servertest"
	"github.com/loupe-dev/loupe/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startSource runs a backend that receives OTLP/HTTP, stores it in a
// memory store (closed after the backend) and forwards it with fw.
func startSource(t *testing.T, fw *forward.Forwarder) (*memstore.Store, *server.Server) {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() }) // after the backend's shutdown: cleanups run last first
	return st, servertest.Start(t, server.Config{OTLPHTTPAddr: "127.0.0.1:0", Store: forward.Wrap(st, fw)})
}

func post(t *testing.T, url string, body []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d", url, resp.StatusCode)
	}
}

func mustProto(t *testing.T, m interface{ MarshalProto() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestForwardEndToEnd sends traces, metrics and logs over OTLP/HTTP to a
// backend that forwards them, over each protocol and with a bearer token, to
// a second one, and finds all of it in both stores.
func TestForwardEndToEnd(t *testing.T) {
	for _, protocol := range []string{forward.ProtocolGRPC, forward.ProtocolHTTPProtobuf} {
		t.Run(protocol, func(t *testing.T) { forwardEndToEnd(t, protocol) })
	}
}

func forwardEndToEnd(t *testing.T, protocol string) {
	const token = "t0ken"
	targetStore := memstore.New()
	defer targetStore.Close()
	target := servertest.Start(t, server.Config{OTLPGRPCAddr: "127.0.0.1:0", OTLPHTTPAddr: "127.0.0.1:0", Store: targetStore, Token: token})
	endpoint := target.Addrs("otlp-grpc")[0].String()
	if protocol == forward.ProtocolHTTPProtobuf {
		endpoint = servertest.URL(target, "otlp-http")
	}
	fw, err := forward.New(endpoint, forward.WithProtocol(protocol), forward.WithHeaders(map[string]string{"authorization": "Bearer " + token}),
		forward.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	localStore, source := startSource(t, fw)
	base := servertest.URL(source, "otlp-http")

	td := storetest.Traces(
		storetest.SpanSpec{Service: "web", Trace: 1, ID: 1, Name: "GET /", Dur: time.Millisecond},
		storetest.SpanSpec{Service: "db", Trace: 1, ID: 2, Parent: 1, Name: "query", Dur: time.Millisecond},
	)
	post(t, base+"/v1/traces", mustProto(t, ptraceotlp.NewExportRequestFromTraces(td)))
	post(t, base+"/v1/metrics", mustProto(t, pmetricotlp.NewExportRequestFromMetrics(storetest.Metrics("web", "/", time.Second, 3, 1))))
	post(t, base+"/v1/logs", mustProto(t, plogotlp.NewExportRequestFromLogs(storetest.Logs(storetest.LogSpec{Service: "web", Trace: 1, Span: 1, Body: "hello"}))))

	// Shutdown sends what is queued before it returns.
	if err := source.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := fw.Stats(); s != (forward.Stats{Sent: 3}) {
		t.Errorf("stats %+v, want 3 sent", s)
	}
	for name, st := range map[string]store.Store{"local": localStore, "target": targetStore} {
		tr, err := st.Trace(context.Background(), storetest.TID(1))
		if err != nil || len(tr.Spans) != 2 {
			t.Errorf("%s: trace 1: %d spans, %v", name, len(tr.Spans), err)
		}
		names, err := st.MetricNames(context.Background())
		if err != nil || len(names) != 3 {
			t.Errorf("%s: metric names %v, %v", name, names, err)
		}
		var bodies []string
		for r, err := range st.FindLogs(context.Background(), store.LogQuery{TraceID: storetest.TID(1)}) {
			if err != nil {
				t.Fatal(err)
			}
			bodies = append(bodies, r.Body.Str())
		}
		if len(bodies) != 1 || bodies[0] != "hello" {
			t.Errorf("%s: logs %q", name, bodies)
		}
	}
	if err := fw.Shutdown(context.Background()); err == nil {
		t.Error("a second Shutdown returned nil")
	}
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestTargetDown: with the endpoint unreachable, ingest through the
// receiver stays fast and stores everything; what cannot be forwarded is
// dropped, counted, and warned about once.
func TestTargetDown(t *testing.T) {
	var logs testutil.SyncBuffer
	fw, err := forward.New(deadAddr(t), forward.WithQueueSize(4), forward.WithRetryFor(300*time.Millisecond),
		forward.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	localStore, source := startSource(t, fw)
	url := servertest.URL(source, "otlp-http") + "/v1/traces"

	const requests = 200
	start := time.Now()
	for i := range requests {
		td := storetest.Traces(storetest.SpanSpec{Service: "web", Trace: byte(i + 1), ID: 1, Name: "GET /", Dur: time.Millisecond})
		post(t, url, mustProto(t, ptraceotlp.NewExportRequestFromTraces(td)))
	}
	// 200 requests over loopback take a few ms each at most; a forwarder
	// that blocked ingest would wait out its retries (300 ms) per request.
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("%d requests took %v with the forward target down", requests, elapsed)
	}
	for i := range requests {
		if _, err := localStore.Trace(context.Background(), storetest.TID(byte(i+1))); err != nil {
			t.Fatalf("trace %d not stored locally: %v", i+1, err)
		}
	}
	s := fw.Stats()
	if s.Sent != 0 || s.Dropped < requests/2 || s.Dropped+s.Failed > requests {
		t.Errorf("stats %+v after %d requests to a dead endpoint", s, requests)
	}
	if n := strings.Count(logs.String(), "requests lost (queue full"); n != 1 {
		t.Errorf("%d drop warnings in a minute, want 1:\n%s", n, logs.String())
	}

	// Shutdown gives up on the queue when its context ends.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	err = fw.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) && err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("Shutdown took %v", elapsed)
	}
	s = fw.Stats()
	if s.Sent != 0 || s.Dropped+s.Failed != requests || s.DroppedItems != requests {
		t.Errorf("stats after shutdown %+v, want all %d requests (1 span each) lost", s, requests)
	}
	if !strings.Contains(logs.String(), "requests lost in all") {
		t.Errorf("no final report:\n%s", logs.String())
	}
}

func TestNewRejectsBadEndpoints(t *testing.T) {
	for _, e := range []string{"", "http://", "http://host:4317/v1/traces", "user:pw@host:4317", "https://user:pw@host:4317", "https://user:p%20w@host:4317/"} {
		if fw, err := forward.New(e); err == nil {
			_ = fw.Shutdown(context.Background())
			t.Errorf("New(%q) accepted", e)
		} else if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "p%20w") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	for _, e := range []string{"", "host:4318", "127.0.0.1:4318", "ftp://host:4318", "http://", "http://host:4318/?a=1",
		"http://host:4318/#x", "http://user:pw@host:4318", "http://user:pw@host:4318/x", "http://user:p w@host:4318/x"} {
		fw, err := forward.New(e, forward.WithProtocol(forward.ProtocolHTTPProtobuf))
		if err == nil {
			_ = fw.Shutdown(context.Background())
			t.Errorf("New(%q) over http/protobuf accepted", e)
		} else if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "p w") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

// TestQueueItemsBound: requests beyond the item bound are dropped even
// when the queue has room; one larger than the bound still goes alone.
func TestQueueItemsBound(t *testing.T) {
	fw, err := forward.New(deadAddr(t), forward.WithQueueItems(3), forward.WithWorkers(1), forward.WithRetryFor(time.Hour),
		forward.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	two := storetest.Traces(
		storetest.SpanSpec{Service: "a", Trace: 1, ID: 1, Name: "x"},
		storetest.SpanSpec{Service: "a", Trace: 1, ID: 2, Name: "y"})
	big := storetest.Traces(
		storetest.SpanSpec{Service: "a", Trace: 2, ID: 1, Name: "x"},
		storetest.SpanSpec{Service: "a", Trace: 2, ID: 2, Name: "y"},
		storetest.SpanSpec{Service: "a", Trace: 2, ID: 3, Name: "z"},
		storetest.SpanSpec{Service: "a", Trace: 2, ID: 4, Name: "w"})
	// The worker takes the first request and retries it for an hour; then
	// the queue is empty again.
	if !fw.Traces(big) {
		t.Fatal("a request larger than the bound was dropped with the queue empty")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !fw.Traces(two) { // accepted once the worker holds big
		if time.Now().After(deadline) {
			t.Fatal("the worker never took the first request")
		}
		time.Sleep(time.Millisecond)
	}
	if fw.Traces(two) {
		t.Error("4 items queued with a bound of 3")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = fw.Shutdown(ctx)
	if s := fw.Stats(); s.Sent != 0 || s.Dropped < 1 || s.Failed != 2 {
		t.Errorf("stats %+v", s)
	}
}

// TestShutdownDoesNotRetry: with the endpoint down and a long retry time,
// Shutdown gives each queued request one attempt and returns promptly.
func TestShutdownDoesNotRetry(t *testing.T) {
	fw, err := forward.New(deadAddr(t), forward.WithRetryFor(time.Hour), forward.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	const requests = 20
	for i := range requests {
		if !fw.Traces(storetest.Traces(storetest.SpanSpec{Service: "a", Trace: byte(i + 1), ID: 1, Name: "x"})) {
			t.Fatalf("request %d dropped with room in the queue", i)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := fw.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v after %v", err, time.Since(start))
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Shutdown took %v", elapsed)
	}
	if s := fw.Stats(); s.Failed != requests || s.Sent != 0 {
		t.Errorf("stats %+v, want %d failed", s, requests)
	}
}
