package loupehttp_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/instrumentation/loupehttp"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

func opts(tel *sdktest.SDK) []loupehttp.Option {
	return []loupehttp.Option{
		loupehttp.WithTracerProvider(tel.TP),
		loupehttp.WithMeterProvider(tel.MP),
		loupehttp.WithPropagators(propagation.TraceContext{}),
	}
}

func TestPanicRecordedAndRepanicked(t *testing.T) {
	tel := sdktest.New(t)
	boom := errors.New("boom")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /crash/{id}", func(http.ResponseWriter, *http.Request) { panic(boom) })
	h := loupehttp.Handler(mux, opts(tel)...)

	var recovered any
	func() {
		defer func() { recovered = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/crash/1", nil))
	}()
	if recovered != boom {
		t.Fatalf("re-panicked with %v, want %v", recovered, boom)
	}
	spans := tel.Spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != "GET /crash/{id}" || s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "boom") {
		t.Errorf("span %q status %+v", s.Name(), s.Status())
	}
	a := sdktest.Attrs(s.Attributes())
	if a["error.type"] != "panic" {
		t.Errorf("error.type = %q", a["error.type"])
	}
	if _, ok := a["http.response.status_code"]; ok {
		t.Errorf("status code recorded although nothing was sent: %v", a)
	}
	var exception bool
	for _, e := range s.Events() {
		if e.Name == "exception" {
			ea := sdktest.Attrs(e.Attributes)
			exception = ea["exception.message"] == "boom" && strings.Contains(ea["exception.stacktrace"], "handler_test.go")
		}
	}
	if !exception {
		t.Errorf("no exception event with message and stack trace: %+v", s.Events())
	}
	dps := tel.Histogram(t, "http.server.request.duration")
	if len(dps) != 1 || sdktest.Attrs(dps[0].Attributes.ToSlice())["error.type"] != "panic" {
		t.Errorf("duration points %+v, want one with error.type=panic", dps)
	}
}

func TestFilter(t *testing.T) {
	tel := sdktest.New(t)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	h := loupehttp.Handler(ok, append(opts(tel),
		loupehttp.WithoutPaths("/healthz", "/metrics"),
		loupehttp.WithFilter(func(r *http.Request) bool { return r.Header.Get("X-Probe") == "" }))...)
	for _, target := range []string{"/healthz", "/metrics", "/work", "/work?probe"} {
		r := httptest.NewRequest("GET", target, nil)
		if strings.HasSuffix(target, "probe") {
			r.Header.Set("X-Probe", "1")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d", target, w.Code)
		}
	}
	spans := tel.Spans.Ended()
	if len(spans) != 1 || sdktest.Attrs(spans[0].Attributes())["url.path"] != "/work" {
		t.Fatalf("want one span for /work, got %d", len(spans))
	}
	if dps := tel.Histogram(t, "http.server.request.duration"); len(dps) != 1 || dps[0].Count != 1 {
		t.Fatalf("want one measurement, got %+v", dps)
	}
}

// A handler mounted under a route sees the pattern before it runs.
func TestMountedUnderRoute(t *testing.T) {
	tel := sdktest.New(t)
	mux := http.NewServeMux()
	mux.Handle("PUT /users/{id}", loupehttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}), opts(tel)...))
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PUT", "/users/alice", nil))
	spans := tel.Spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	a := sdktest.Attrs(spans[0].Attributes())
	if spans[0].Name() != "PUT /users/{id}" || a["http.route"] != "/users/{id}" || a["http.response.status_code"] != "202" {
		t.Errorf("span %q attributes %v", spans[0].Name(), a)
	}
	if strings.Contains(spans[0].Name(), "alice") {
		t.Error("raw path in the span name")
	}
}

// TestClientServer runs a real loopback server and the instrumented client:
// one trace, client span parent of server span, both durations recorded, and
// the writer wrapper keeps Flush and ReadFrom working.
func TestClientServer(t *testing.T) {
	tel := sdktest.New(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stream/{n}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "part1,")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
		_, _ = io.Copy(w, strings.NewReader("part2"))
	})
	srv := httptest.NewServer(loupehttp.Handler(mux, opts(tel)...))
	defer srv.Close()
	base := srv.Client().Transport.(*http.Transport)
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: loupehttp.NewTransport(base, opts(tel)...)}

	ctx, parent := tel.TP.Tracer("test").Start(t.Context(), "caller")
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/stream/3", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	parent.End()
	if string(body) != "part1,part2" {
		t.Fatalf("body %q", body)
	}

	var serverSpan, clientSpan sdktrace.ReadOnlySpan
	for _, s := range tel.Spans.Ended() {
		switch s.SpanKind() {
		case trace.SpanKindServer:
			serverSpan = s
		case trace.SpanKindClient:
			clientSpan = s
		}
	}
	if serverSpan == nil || clientSpan == nil {
		t.Fatalf("want a server and a client span, got %d spans", len(tel.Spans.Ended()))
	}
	if clientSpan.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Error("client span is not a child of the caller")
	}
	if serverSpan.Parent().SpanID() != clientSpan.SpanContext().SpanID() || !serverSpan.Parent().IsRemote() {
		t.Errorf("server span parent %v, want the client span (remote)", serverSpan.Parent())
	}
	if tid := parent.SpanContext().TraceID(); clientSpan.SpanContext().TraceID() != tid || serverSpan.SpanContext().TraceID() != tid {
		t.Fatal("not one trace")
	}
	if clientSpan.Name() != "GET" {
		t.Errorf("client span %q, want GET", clientSpan.Name())
	}
	if serverSpan.Name() != "GET /stream/{n}" {
		t.Errorf("server span %q", serverSpan.Name())
	}
	serverAttrs := sdktest.Attrs(serverSpan.Attributes())
	if serverAttrs["http.response.body.size"] != "11" || serverAttrs["network.peer.address"] != "127.0.0.1" {
		t.Errorf("server attributes %v", serverAttrs)
	}
	if len(tel.Histogram(t, "http.client.request.duration")) != 1 || len(tel.Histogram(t, "http.server.request.duration")) != 1 {
		t.Error("missing client or server duration")
	}
}

// A request that never reaches a server: the client span and the client
// duration record the error.
func TestClientTransportError(t *testing.T) {
	tel := sdktest.New(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close() // nothing listens there now
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: loupehttp.NewTransport(base, opts(tel)...)}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+addr+"/x", nil)
	if resp, err := client.Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatal("request to a closed port succeeded")
	}
	spans := tel.Spans.Ended()
	if len(spans) != 1 || spans[0].SpanKind() != trace.SpanKindClient || spans[0].Status().Code != codes.Error {
		t.Fatalf("spans %v", spans)
	}
	dps := tel.Histogram(t, "http.client.request.duration")
	if len(dps) != 1 || sdktest.Attrs(dps[0].Attributes.ToSlice())["error.type"] == "" {
		t.Errorf("client duration %+v, want one point with error.type", dps)
	}
}

// runtime.Goexit in a handler is not a panic: the span ends without error
// and Goexit goes on.
func TestGoexitIsNotAPanic(t *testing.T) {
	tel := sdktest.New(t)
	h := loupehttp.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { runtime.Goexit() }), opts(tel)...)
	done := make(chan any)
	go func() {
		defer func() { done <- recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}()
	if p := <-done; p != nil {
		t.Fatalf("Goexit turned into a panic: %v", p)
	}
	spans := tel.Spans.Ended()
	if len(spans) != 1 || spans[0].Status().Code == codes.Error {
		t.Fatalf("spans %v", spans)
	}
}

// The duration histogram measures the request: for a sampled request it is
// the span's own duration, and an unsampled request is timed too.
func TestDurationMatchesSpan(t *testing.T) {
	const pause = 20 * time.Millisecond
	slow := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(pause) })

	tel := sdktest.New(t)
	loupehttp.Handler(slow, opts(tel)...).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	spans := tel.Spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	want := spans[0].EndTime().Sub(spans[0].StartTime()).Seconds()
	dps := tel.Histogram(t, "http.server.request.duration")
	if len(dps) != 1 || dps[0].Count != 1 || dps[0].Sum != want {
		t.Fatalf("histogram %+v, want one measurement of the span's %v s", dps, want)
	}

	unsampled := sdktest.New(t)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	loupehttp.Handler(slow, loupehttp.WithTracerProvider(tp), loupehttp.WithMeterProvider(unsampled.MP)).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	dps = unsampled.Histogram(t, "http.server.request.duration")
	if len(dps) != 1 || dps[0].Count != 1 || dps[0].Sum < pause.Seconds() || dps[0].Sum > 10*pause.Seconds() {
		t.Fatalf("unsampled histogram %+v, want one measurement of about %v", dps, pause)
	}
}
