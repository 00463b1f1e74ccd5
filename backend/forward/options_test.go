package forward_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/featuregate"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/loupe-dev/loupe/backend/forward"
	"github.com/loupe-dev/loupe/backend/store/storetest"
	"github.com/loupe-dev/loupe/internal/servertest"
	"github.com/loupe-dev/loupe/internal/testutil"
)

// received is what the in-test OTLP/gRPC server saw of one export.
type received struct {
	method      string
	headers     metadata.MD
	compression string // grpc-encoding of the request
	wireLen     int    // payload bytes on the wire
	rawLen      int    // payload bytes after decompression
	body        []byte // the request as the server decoded it, re-encoded
	at          time.Time
}

// otlpServer is a plain OTLP/gRPC server on the collector's pdata
// services, independent of Loupe's receiver, that records every export.
type otlpServer struct {
	addr        string
	refuse      error // answered to exports when set
	refuseFirst int   // to the first refuseFirst exports only, when not 0

	mu   sync.Mutex
	got  []received
	done chan struct{} // one value per export
}

type rpcKey struct{}

func (s *otlpServer) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return context.WithValue(ctx, rpcKey{}, &received{})
}
func (s *otlpServer) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (s *otlpServer) HandleConn(context.Context, stats.ConnStats)                       {}
func (s *otlpServer) HandleRPC(ctx context.Context, st stats.RPCStats) {
	r := ctx.Value(rpcKey{}).(*received)
	switch st := st.(type) {
	case *stats.InHeader:
		r.method, r.headers, r.compression = st.FullMethod, st.Header.Copy(), st.Compression
	case *stats.InPayload:
		r.wireLen, r.rawLen = st.CompressedLength, st.Length
	}
}

func (s *otlpServer) record(ctx context.Context, body []byte) error {
	r := ctx.Value(rpcKey{}).(*received)
	r.body, r.at = body, time.Now()
	s.mu.Lock()
	s.got = append(s.got, *r)
	n := len(s.got)
	s.mu.Unlock()
	s.done <- struct{}{}
	if s.refuseFirst != 0 && n > s.refuseFirst {
		return nil
	}
	return s.refuse
}

type traceService struct {
	ptraceotlp.UnimplementedGRPCServer
	*otlpServer
}

func (s traceService) Export(ctx context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	b, _ := req.MarshalProto()
	return ptraceotlp.NewExportResponse(), s.record(ctx, b)
}

type metricsService struct {
	pmetricotlp.UnimplementedGRPCServer
	*otlpServer
}

func (s metricsService) Export(ctx context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	b, _ := req.MarshalProto()
	return pmetricotlp.NewExportResponse(), s.record(ctx, b)
}

type logsService struct {
	plogotlp.UnimplementedGRPCServer
	*otlpServer
}

func (s logsService) Export(ctx context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	b, _ := req.MarshalProto()
	return plogotlp.NewExportResponse(), s.record(ctx, b)
}

// startOTLPServer listens on loopback, with TLS when creds is not nil.
func startOTLPServer(t *testing.T, creds credentials.TransportCredentials) *otlpServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &otlpServer{addr: l.Addr().String(), done: make(chan struct{}, 16)}
	opts := []grpc.ServerOption{grpc.StatsHandler(s)}
	if creds != nil {
		opts = append(opts, grpc.Creds(creds))
	}
	gs := grpc.NewServer(opts...)
	ptraceotlp.RegisterGRPCServer(gs, &traceService{otlpServer: s})
	pmetricotlp.RegisterGRPCServer(gs, &metricsService{otlpServer: s})
	plogotlp.RegisterGRPCServer(gs, &logsService{otlpServer: s})
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)
	return s
}

func (s *otlpServer) wait(t *testing.T, n int) []received {
	t.Helper()
	for range n {
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("the OTLP server received fewer than %d exports", n)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

// bigTraces is a request large and repetitive enough that gzip shrinks it.
func bigTraces() ptrace.Traces {
	specs := make([]storetest.SpanSpec, 0, 64)
	for i := range 64 {
		specs = append(specs, storetest.SpanSpec{Service: "web", Trace: byte(i/8 + 1), ID: byte(i + 1), Name: "GET /items/{id}",
			Dur: time.Millisecond, Attrs: map[string]any{"http.route": "/items/{id}", "http.response.status_code": 200}})
	}
	return storetest.Traces(specs...)
}

func shutdown(t *testing.T, fw *forward.Forwarder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestHeadersAndGzip: by default every signal goes out gzip-compressed,
// with the configured headers, and arrives intact.
func TestHeadersAndGzip(t *testing.T) {
	srv := startOTLPServer(t, nil)
	var logs testutil.SyncBuffer
	fw, err := forward.New(srv.addr,
		forward.WithHeaders(map[string]string{"Authorization": "Bearer s3cret-token"}),
		forward.WithHeaders(map[string]string{"x-scope-orgid": "team-a"}),
		forward.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	td := bigTraces()
	md := storetest.Metrics("web", "/", time.Second, 3, 1)
	ld := storetest.Logs(storetest.LogSpec{Service: "web", Trace: 1, Span: 1, Body: "hello"})
	want := map[string][]byte{
		"/opentelemetry.proto.collector.trace.v1.TraceService/Export":     mustProto(t, ptraceotlp.NewExportRequestFromTraces(td)),
		"/opentelemetry.proto.collector.metrics.v1.MetricsService/Export": mustProto(t, pmetricotlp.NewExportRequestFromMetrics(md)),
		"/opentelemetry.proto.collector.logs.v1.LogsService/Export":       mustProto(t, plogotlp.NewExportRequestFromLogs(ld)),
	}
	if !fw.Traces(td) || !fw.Metrics(md) || !fw.Logs(ld) {
		t.Fatal("dropped with an empty queue")
	}
	got := srv.wait(t, 3)
	shutdown(t, fw)
	for _, r := range got {
		if w, ok := want[r.method]; !ok {
			t.Errorf("unexpected method %s", r.method)
		} else if !bytes.Equal(r.body, w) {
			t.Errorf("%s: the request arrived changed", r.method)
		}
		delete(want, r.method)
		if a := r.headers.Get("authorization"); len(a) != 1 || a[0] != "Bearer s3cret-token" {
			t.Errorf("%s: authorization %q", r.method, a)
		}
		if a := r.headers.Get("x-scope-orgid"); len(a) != 1 || a[0] != "team-a" {
			t.Errorf("%s: x-scope-orgid %q", r.method, a)
		}
		if r.compression != "gzip" {
			t.Errorf("%s: grpc-encoding %q, want gzip", r.method, r.compression)
		}
		if strings.HasSuffix(r.method, "TraceService/Export") && (r.wireLen <= 0 || r.wireLen >= r.rawLen/2) {
			t.Errorf("traces: %d bytes on the wire for %d decompressed: not compressed", r.wireLen, r.rawLen)
		}
	}
	if len(want) > 0 {
		t.Errorf("not received: %v", want)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Errorf("a header value was logged:\n%s", logs.String())
	}
}

// TestNoCompression: "none" sends the payload as it is.
func TestNoCompression(t *testing.T) {
	srv := startOTLPServer(t, nil)
	fw, err := forward.New(srv.addr, forward.WithCompression("none"), forward.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	fw.Traces(bigTraces())
	got := srv.wait(t, 1)
	shutdown(t, fw)
	if r := got[0]; r.compression != "" && r.compression != "identity" || r.wireLen != r.rawLen {
		t.Errorf("grpc-encoding %q, %d bytes on the wire for %d", r.compression, r.wireLen, r.rawLen)
	}
	if len(got[0].headers.Get("authorization")) != 0 {
		t.Error("an authorization header without WithHeaders")
	}
}

// TestGRPCRetryInfo: a throttling endpoint's RetryInfo sets the wait
// before the retry.
func TestGRPCRetryInfo(t *testing.T) {
	srv := startOTLPServer(t, nil)
	st, err := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	srv.refuse, srv.refuseFirst = st.Err(), 1
	fw, err := forward.New(srv.addr, forward.WithRetryFor(5*time.Second), forward.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	fw.Traces(bigTraces())
	got := srv.wait(t, 2)
	shutdown(t, fw)
	if s := fw.Stats(); s.Sent != 1 {
		t.Errorf("stats %+v, want sent on the retry", s)
	}
	if wait := got[1].at.Sub(got[0].at); wait < time.Second {
		t.Errorf("retried after %v, the endpoint asked for 1s", wait)
	}
}

// TestRefusedNeverLogsHeaders: an endpoint that refuses the credentials
// gets its error logged, without the header's value.
func TestRefusedNeverLogsHeaders(t *testing.T) {
	srv := startOTLPServer(t, nil)
	srv.refuse = status.Error(codes.Unauthenticated, "bad token")
	var logs testutil.SyncBuffer
	fw, err := forward.New(srv.addr, forward.WithHeaders(map[string]string{"authorization": "Bearer s3cret-token"}),
		forward.WithWarnInterval(time.Nanosecond),
		forward.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err != nil {
		t.Fatal(err)
	}
	fw.Traces(bigTraces())
	srv.wait(t, 1) // Unauthenticated is not retried
	shutdown(t, fw)
	if s := fw.Stats(); s.Failed != 1 {
		t.Errorf("stats %+v, want 1 failed", s)
	}
	if out := logs.String(); strings.Contains(out, "s3cret") || !strings.Contains(out, "bad token") {
		t.Errorf("log:\n%s", out)
	}
}

// TestTLSWithCustomRoots: an https:// endpoint with a certificate from a
// private authority is reached with WithTLSConfig's roots, and refused
// with the system's.
func TestTLSWithCustomRoots(t *testing.T) {
	self := testutil.SelfSigned(t)
	cert, roots := self.TLS, self.Pool
	srv := startOTLPServer(t, credentials.NewServerTLSFromCert(&cert))
	fw, err := forward.New("https://"+srv.addr, forward.WithTLSConfig(&tls.Config{RootCAs: roots}),
		forward.WithHeaders(map[string]string{"authorization": "Bearer x"}), forward.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	fw.Traces(bigTraces())
	got := srv.wait(t, 1)
	shutdown(t, fw)
	if s := fw.Stats(); s.Sent != 1 || got[0].headers.Get("authorization")[0] != "Bearer x" {
		t.Errorf("stats %+v, headers %v", s, got[0].headers)
	}

	fw, err = forward.New("https://"+srv.addr, forward.WithRetryFor(time.Millisecond), forward.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	fw.Traces(bigTraces())
	shutdown(t, fw)
	if s := fw.Stats(); s.Sent != 0 || s.Failed != 1 {
		t.Errorf("with the system's roots: stats %+v, want the export to fail", s)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	cases := map[string][]forward.Option{
		"compression":          {forward.WithCompression("zstd")},
		"empty header name":    {forward.WithHeaders(map[string]string{"": "x"})},
		"space in header name": {forward.WithHeaders(map[string]string{"x y": "x"})},
		"reserved header":      {forward.WithHeaders(map[string]string{"grpc-timeout": "1S"})},
		"content-type":         {forward.WithHeaders(map[string]string{"Content-Type": "text/plain"})},
		"newline in value":     {forward.WithHeaders(map[string]string{"authorization": "Bearer s3cret\nx"})},
		"TLS for plaintext":    {forward.WithTLSConfig(&tls.Config{})},
		"content-encoding":     {forward.WithHeaders(map[string]string{"content-encoding": "br"})},
		"protocol":             {forward.WithProtocol("http/json")},
	}
	for name, opts := range cases {
		fw, err := forward.New("127.0.0.1:4317", opts...)
		if err == nil {
			_ = fw.Shutdown(context.Background())
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the value: %v", name, err)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	got, err := forward.ParseHeaders(" Authorization = Bearer%20x ,api-key=a%2Cb,, x-empty=")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"authorization": "Bearer x", "api-key": "a,b", "x-empty": ""}
	if len(got) != len(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{"novalue", "=x", "k=%zzs3cret"} {
		if _, err := forward.ParseHeaders(bad); err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%q: the error shows the value: %v", bad, err)
		}
	}
}

// TestWrapCopiesUnderPooling: with pdata's proto pooling on, as loupe serve
// runs, the receiver recycles each request once the write returns; what
// Wrap queued must still arrive intact.
func TestWrapCopiesUnderPooling(t *testing.T) {
	const gate = "pdata.useProtoPooling"
	if err := featuregate.GlobalRegistry().Set(gate, true); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = featuregate.GlobalRegistry().Set(gate, false) }()
	srv := startOTLPServer(t, nil)
	fw, err := forward.New(srv.addr, forward.WithWorkers(1), forward.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	_, source := startSource(t, fw)
	url := servertest.URL(source, "otlp-http") + "/v1/traces"
	var want [][]byte
	for i := range 20 {
		td := storetest.Traces(storetest.SpanSpec{Service: fmt.Sprintf("svc-%d", i), Trace: byte(i + 1), ID: 1, Name: fmt.Sprintf("op-%d", i),
			Attrs: map[string]any{"i": i, "s": strings.Repeat("x", i)}})
		body := mustProto(t, ptraceotlp.NewExportRequestFromTraces(td))
		want = append(want, body)
		post(t, url, body)
	}
	got := srv.wait(t, len(want))
	shutdown(t, fw)
	for i, r := range got {
		if !bytes.Equal(r.body, want[i]) {
			t.Errorf("request %d arrived changed", i)
		}
	}
}

// TestPlaintextHeadersWarning: headers for a plaintext endpoint beyond
// loopback are warned about once, by name, never by value; loopback and
// TLS endpoints are not.
func TestPlaintextHeadersWarning(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		warn     bool
	}{
		{"192.0.2.1:4317", true},
		{"collector.example:4317", true},
		{"localhost:4317", false},
		{"127.0.0.1:4317", false},
		{"[::1]:4317", false},
		{"https://collector.example:4317", false},
	} {
		var logs testutil.SyncBuffer
		fw, err := forward.New(tc.endpoint, forward.WithHeaders(map[string]string{"Authorization": "Bearer s3cret", "x-team": "a"}),
			forward.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		_ = fw.Shutdown(context.Background())
		out := logs.String()
		if got := strings.Contains(out, "plaintext"); got != tc.warn {
			t.Errorf("%s: warned %v, want %v:\n%s", tc.endpoint, got, tc.warn, out)
		}
		if tc.warn && !strings.Contains(out, "authorization,x-team") {
			t.Errorf("%s: warning does not name the headers:\n%s", tc.endpoint, out)
		}
		if strings.Contains(out, "s3cret") {
			t.Errorf("%s: a header value was logged:\n%s", tc.endpoint, out)
		}
	}
}
