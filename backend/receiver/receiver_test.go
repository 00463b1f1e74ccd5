package receiver_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/loupe-dev/loupe/backend/receiver"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func traceRequest() ptraceotlp.ExportRequest {
	return ptraceotlp.NewExportRequestFromTraces(storetest.Traces(
		storetest.SpanSpec{Service: "api", Trace: 1, ID: 1, Name: "GET /", Dur: time.Millisecond},
		storetest.SpanSpec{Service: "db", Trace: 1, ID: 2, Parent: 1, Name: "query", Dur: time.Millisecond},
	))
}

func newHTTP(t *testing.T, opts ...receiver.Option) (*http.ServeMux, *memstore.Store) {
	t.Helper()
	s := memstore.New()
	t.Cleanup(func() { _ = s.Close() })
	mux := http.NewServeMux()
	receiver.New(s, opts...).RegisterRoutes(mux)
	return mux, s
}

func post(mux http.Handler, path, contentType, contentEncoding string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if contentEncoding != "" {
		req.Header.Set("Content-Encoding", contentEncoding)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// must is for encoding fixed test data, which cannot fail.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestHTTPTracesEncodings(t *testing.T) {
	req := traceRequest()
	pb := must(req.MarshalProto())
	js := must(req.MarshalJSON())
	cases := []struct {
		name, ctype, cenc string
		body              []byte
	}{
		{"protobuf", "application/x-protobuf", "", pb},
		{"json", "application/json", "", js},
		{"json with charset", "application/json; charset=utf-8", "", js},
		{"gzip protobuf", "application/x-protobuf", "gzip", gz(t, pb)},
		{"gzip json", "application/json", "gzip", gz(t, js)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mux, s := newHTTP(t)
			rec := post(mux, "/v1/traces", tc.ctype, tc.cenc, tc.body)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			wantCT := "application/x-protobuf"
			if strings.HasPrefix(tc.ctype, "application/json") {
				wantCT = "application/json"
			}
			if ct := rec.Header().Get("Content-Type"); ct != wantCT {
				t.Errorf("response Content-Type %q, want %q", ct, wantCT)
			}
			resp := ptraceotlp.NewExportResponse()
			if wantCT == "application/json" {
				err := resp.UnmarshalJSON(rec.Body.Bytes())
				if err != nil {
					t.Fatalf("response not OTLP JSON: %v", err)
				}
			} else if err := resp.UnmarshalProto(rec.Body.Bytes()); err != nil {
				t.Fatalf("response not OTLP protobuf: %v", err)
			}
			if resp.PartialSuccess().RejectedSpans() != 0 {
				t.Errorf("unexpected partial success: %v", resp.PartialSuccess().ErrorMessage())
			}
			tr, err := s.Trace(context.Background(), storetest.TID(1))
			if err != nil || len(tr.Spans) != 2 {
				t.Fatalf("stored: %v, %v", tr, err)
			}
		})
	}
}

func TestHTTPMetricsAndLogs(t *testing.T) {
	mux, s := newHTTP(t)
	md := pmetricotlp.NewExportRequestFromMetrics(storetest.Metrics("api", "/", time.Second, 2, 1))
	if rec := post(mux, "/v1/metrics", "application/x-protobuf", "", must(md.MarshalProto())); rec.Code != http.StatusOK {
		t.Fatalf("metrics: %d %s", rec.Code, rec.Body)
	}
	ld := plogotlp.NewExportRequestFromLogs(storetest.Logs(storetest.LogSpec{Service: "api", Trace: 1, Span: 1, Body: "hello"}))
	if rec := post(mux, "/v1/logs", "application/json", "", must(ld.MarshalJSON())); rec.Code != http.StatusOK {
		t.Fatalf("logs: %d %s", rec.Code, rec.Body)
	}
	names, _ := s.MetricNames(context.Background())
	if len(names) != 3 {
		t.Errorf("metric names %v", names)
	}
	n := 0
	for r, err := range s.FindLogs(context.Background(), store.LogQuery{TraceID: storetest.TID(1)}) {
		if err != nil || r.Body.AsString() != "hello" {
			t.Errorf("log %v %v", r, err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("%d logs stored", n)
	}
}

// decodeStatus reads an OTLP/HTTP error body.
func decodeStatus(t *testing.T, rec *httptest.ResponseRecorder) *spb.Status {
	t.Helper()
	st := &spb.Status{}
	var err error
	if rec.Header().Get("Content-Type") == "application/json" {
		err = protojson.Unmarshal(rec.Body.Bytes(), st)
	} else {
		err = proto.Unmarshal(rec.Body.Bytes(), st)
	}
	if err != nil {
		t.Fatalf("error body is not a google.rpc.Status (%q): %v", rec.Body, err)
	}
	return st
}

func TestHTTPErrors(t *testing.T) {
	pb := must(traceRequest().MarshalProto())
	big := bytes.Repeat([]byte{'a'}, 5000)
	cases := []struct {
		name, path, ctype, cenc string
		body                    []byte
		status                  int
		code                    codes.Code
		msg                     string
	}{
		{"garbage protobuf", "/v1/traces", "application/x-protobuf", "", []byte{0xff, 0xff, 0xff}, 400, codes.InvalidArgument, "cannot decode"},
		{"garbage json", "/v1/logs", "application/json", "", []byte(`{"resourceLogs":[{`), 400, codes.InvalidArgument, "cannot decode"},
		{"json with trailing garbage", "/v1/traces", "application/json", "", []byte(`{"resourceSpans":[]} {"resourceSpans":[]}x`), 400, codes.InvalidArgument, "cannot decode"},
		{"json of the wrong type", "/v1/metrics", "application/json", "", []byte(`{"resourceMetrics":"x"}`), 400, codes.InvalidArgument, "cannot decode"},
		{"bad gzip", "/v1/traces", "application/x-protobuf", "gzip", pb, 400, codes.InvalidArgument, "gzip"},
		{"unknown encoding", "/v1/traces", "application/x-protobuf", "br", pb, 400, codes.InvalidArgument, "Content-Encoding"},
		{"no content type", "/v1/traces", "", "", pb, 415, codes.InvalidArgument, "Content-Type"},
		{"text content type", "/v1/traces", "text/plain", "", pb, 415, codes.InvalidArgument, "Content-Type"},
		{"oversized", "/v1/traces", "application/x-protobuf", "", big, 413, codes.ResourceExhausted, "larger than"},
		{"oversized once decompressed", "/v1/traces", "application/json", "gzip", gz(t, big), 413, codes.ResourceExhausted, "larger than"},
	}
	mux, _ := newHTTP(t, receiver.WithMaxRequestBytes(4096))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(mux, tc.path, tc.ctype, tc.cenc, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.status, rec.Body)
			}
			st := decodeStatus(t, rec)
			if codes.Code(st.Code) != tc.code || !strings.Contains(st.Message, tc.msg) {
				t.Errorf("status body %v %q, want %v containing %q", codes.Code(st.Code), st.Message, tc.code, tc.msg)
			}
		})
	}
	if rec := httptest.NewRecorder(); true {
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/traces", nil))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("GET: %d", rec.Code)
		}
	}
}

func TestHTTPPartialSuccess(t *testing.T) {
	mux, _ := newHTTP(t)
	td := storetest.Traces(
		storetest.SpanSpec{Service: "api", Trace: 1, ID: 1, Name: "ok"},
		storetest.SpanSpec{Service: "api", Trace: 1, ID: 0, Name: "no span id"},
	)
	rec := post(mux, "/v1/traces", "application/json", "", must(ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalJSON(rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	if ps := resp.PartialSuccess(); ps.RejectedSpans() != 1 || ps.ErrorMessage() == "" {
		t.Errorf("partial success %d %q, want 1 rejected with a message", ps.RejectedSpans(), ps.ErrorMessage())
	}
}

func TestHTTPStoreErrors(t *testing.T) {
	s := memstore.New(memstore.WithMaxBytes(1024))
	mux := http.NewServeMux()
	receiver.New(s).RegisterRoutes(mux)
	pb := must(ptraceotlp.NewExportRequestFromTraces(storetest.Traces(storetest.SpanSpec{
		Service: "api", Trace: 1, ID: 1, Name: "x", Attrs: map[string]any{"pad": strings.Repeat("x", 4096)}})).MarshalProto())
	if rec := post(mux, "/v1/traces", "application/x-protobuf", "", pb); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("larger than the store: %d, want 413", rec.Code)
	}
	_ = s.Close()
	rec := post(mux, "/v1/traces", "application/x-protobuf", "", must(traceRequest().MarshalProto()))
	if rec.Code != http.StatusServiceUnavailable || decodeStatus(t, rec).Code != int32(codes.Unavailable) {
		t.Errorf("closed store: %d, want 503 UNAVAILABLE", rec.Code)
	}
}

// grpcServer starts the receiver on 127.0.0.1 and returns a client conn.
func grpcServer(t *testing.T, s store.Writer, opts ...receiver.Option) *grpc.ClientConn {
	t.Helper()
	r := receiver.New(s, opts...)
	srv := grpc.NewServer(r.GRPCServerOptions()...)
	r.RegisterGRPC(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close(); srv.Stop(); <-done })
	return cc
}

func TestGRPC(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	cc := grpcServer(t, s, receiver.WithMaxRequestBytes(8192))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	traces := ptraceotlp.NewGRPCClient(cc)
	if _, err := traces.Export(ctx, traceRequest(), grpc.UseCompressor(grpcgzip.Name)); err != nil {
		t.Fatalf("gzip traces: %v", err)
	}
	if tr, err := s.Trace(ctx, storetest.TID(1)); err != nil || len(tr.Spans) != 2 {
		t.Fatalf("stored: %v %v", tr, err)
	}
	if _, err := pmetricotlp.NewGRPCClient(cc).Export(ctx, pmetricotlp.NewExportRequestFromMetrics(storetest.Metrics("api", "/", 0, 1, 0))); err != nil {
		t.Fatalf("metrics: %v", err)
	}
	if _, err := plogotlp.NewGRPCClient(cc).Export(ctx, plogotlp.NewExportRequestFromLogs(storetest.Logs(storetest.LogSpec{Service: "api", Body: "x"}))); err != nil {
		t.Fatalf("logs: %v", err)
	}

	partial := ptraceotlp.NewExportRequestFromTraces(storetest.Traces(storetest.SpanSpec{Service: "api", Trace: 0, ID: 3, Name: "no trace id"}))
	resp, err := traces.Export(ctx, partial)
	if err != nil || resp.PartialSuccess().RejectedSpans() != 1 {
		t.Errorf("partial success: %v, %d rejected", err, resp.PartialSuccess().RejectedSpans())
	}

	big := ptraceotlp.NewExportRequestFromTraces(storetest.Traces(storetest.SpanSpec{
		Service: "api", Trace: 2, ID: 1, Name: "x", Attrs: map[string]any{"pad": strings.Repeat("x", 10000)}}))
	if _, err := traces.Export(ctx, big); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("oversized: %v, want RESOURCE_EXHAUSTED", err)
	}

	// A malformed message, sent as raw bytes.
	err = cc.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &rawBytes{0xff, 0xff, 0xff}, &rawBytes{}, grpc.ForceCodecV2(rawClientCodec{}))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "cannot decode") {
		t.Errorf("malformed: %v, want INVALID_ARGUMENT", err)
	}

	_ = s.Close()
	if _, err := traces.Export(ctx, traceRequest()); status.Code(err) != codes.Unavailable {
		t.Errorf("closed store: %v, want UNAVAILABLE", err)
	}
}
