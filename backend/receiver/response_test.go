package receiver_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"

	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// A full success is an Export*ServiceResponse with partial_success unset,
// as the OTLP specification asks: 0 bytes in protobuf, {} in JSON. A
// partial success still carries its counts.
func TestFullSuccessIsEmpty(t *testing.T) {
	mux, _ := newHTTP(t)
	metrics := pmetricotlp.NewExportRequestFromMetrics(storetest.Metrics("api", "/", time.Second, 2, 1))
	logs := plogotlp.NewExportRequestFromLogs(storetest.Logs(storetest.LogSpec{Service: "api", Body: "x"}))
	for _, tc := range []struct {
		path  string
		ctype string
		body  []byte
		want  string
	}{
		{"/v1/traces", "application/x-protobuf", must(traceRequest().MarshalProto()), ""},
		{"/v1/metrics", "application/x-protobuf", must(metrics.MarshalProto()), ""},
		{"/v1/logs", "application/x-protobuf", must(logs.MarshalProto()), ""},
		{"/v1/traces", "application/json", must(traceRequest().MarshalJSON()), "{}"},
		{"/v1/logs", "application/json", must(logs.MarshalJSON()), "{}"},
	} {
		rec := post(mux, tc.path, tc.ctype, "", tc.body)
		if rec.Code != http.StatusOK || rec.Body.String() != tc.want {
			t.Errorf("%s %s: %d %q, want 200 %q", tc.path, tc.ctype, rec.Code, rec.Body.String(), tc.want)
		}
		if cl := rec.Header().Get("Content-Length"); cl != string(rune('0'+len(tc.want))) {
			t.Errorf("%s %s: Content-Length %q", tc.path, tc.ctype, cl)
		}
		if ct := rec.Header().Get("Content-Type"); ct != tc.ctype {
			t.Errorf("%s: Content-Type %q", tc.path, ct)
		}
	}

	partial := ptraceotlp.NewExportRequestFromTraces(storetest.Traces(storetest.SpanSpec{Service: "api", Trace: 1, ID: 0, Name: "no span id"}))
	rec := post(mux, "/v1/traces", "application/x-protobuf", "", must(partial.MarshalProto()))
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(rec.Body.Bytes()); err != nil || resp.PartialSuccess().RejectedSpans() != 1 {
		t.Errorf("partial success: %v, %d rejected", err, resp.PartialSuccess().RejectedSpans())
	}
}

// A client that closes each answer without reading it keeps its
// connection, since a full success has no body.
func TestConnectionReusedWithoutReadingBody(t *testing.T) {
	mux, s := newHTTP(t)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	body := must(traceRequest().MarshalProto())
	reused := 0
	for range 5 {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) {
				if info.Reused {
					reused++
				}
			},
		})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/traces", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // unread
		if resp.StatusCode != http.StatusOK || resp.ContentLength != 0 {
			t.Fatalf("%d, Content-Length %d", resp.StatusCode, resp.ContentLength)
		}
	}
	if reused != 4 {
		t.Errorf("%d of 4 later requests reused the connection", reused)
	}
	if tr, err := s.Trace(context.Background(), storetest.TID(1)); err != nil || len(tr.Spans) != 10 {
		t.Errorf("stored: %d spans, %v; want 5 times 2", len(tr.Spans), err)
	}
}

// Over gRPC the full success is the same empty message, which the
// collector's pdata client decodes as a response without partial success.
func TestGRPCFullSuccessIsEmpty(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	cc := grpcServer(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := ptraceotlp.NewGRPCClient(cc).Export(ctx, traceRequest())
	if err != nil || resp.PartialSuccess().RejectedSpans() != 0 || resp.PartialSuccess().ErrorMessage() != "" {
		t.Fatalf("%v %+v", err, resp.PartialSuccess())
	}
	req := rawBytes(must(traceRequest().MarshalProto()))
	out := rawBytes{0xff}
	if err := cc.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &req, &out, grpc.ForceCodecV2(rawClientCodec{})); err != nil {
		t.Fatal(err)
	}
	if len(out) != 0 {
		t.Errorf("response % x, want 0 bytes", []byte(out))
	}
}
