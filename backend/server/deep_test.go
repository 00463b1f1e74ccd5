package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/storetest"
	"github.com/loupe-dev/loupe/internal/probe"
	"github.com/loupe-dev/loupe/internal/servertest"
)

// TestDeepAttribute sends the request of issue 10: one span attribute
// nested a million levels deep (13.5 MB), which overflowed the stack, over
// OTLP/HTTP and over gRPC. The server answers at once, keeps serving, and
// stores each span with its value cut at the bound, which the query APIs
// render.
func TestDeepAttribute(t *testing.T) {
	const depth = 1_000_000
	srv := servertest.Start(t, server.Config{OTLPGRPCAddr: "127.0.0.1:0", OTLPHTTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	api := servertest.URL(srv, "http")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	start := time.Now()
	resp, err := http.Post(servertest.URL(srv, "otlp-http")+"/v1/traces", "application/x-protobuf", bytes.NewReader(storetest.DeepTracesProto(1, depth)))
	if err != nil {
		t.Fatal(err)
	}
	var answer bytes.Buffer
	_, _ = answer.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("OTLP/HTTP: %d %s", resp.StatusCode, answer.Bytes())
	}
	checkWarning(t, "OTLP/HTTP", answer.Bytes())
	t.Logf("OTLP/HTTP answered in %v", time.Since(start))

	cc, err := grpc.NewClient(srv.Addrs("otlp-grpc")[0].String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(32<<20)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	start = time.Now()
	out, err := probe.ExportRaw(ctx, cc, storetest.DeepTracesProto(2, depth))
	if err != nil {
		t.Fatalf("gRPC: %v", err)
	}
	checkWarning(t, "gRPC", out)
	t.Logf("gRPC answered in %v", time.Since(start))

	if code, body := apiGet(t, api, "/api/services", ""); code != 200 || !strings.Contains(string(body), `"`+storetest.DeepService+`"`) {
		t.Fatalf("services: %d %s", code, body)
	}
	want := storetest.NestedText(depth)
	for trace := byte(1); trace <= 2; trace++ {
		id := storetest.TID(trace).String()
		// Jaeger shows the value as its JSON text.
		code, body := apiGet(t, api, "/api/traces/"+id, "")
		var jt struct {
			Data []struct {
				Spans []struct {
					Tags []struct {
						Key   string `json:"key"`
						Value any    `json:"value"`
					} `json:"tags"`
				} `json:"spans"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &jt); code != 200 || err != nil || len(jt.Data) != 1 || len(jt.Data[0].Spans) != 1 {
			t.Fatalf("Jaeger trace %s: %d %v %.300s", id, code, err, body)
		}
		found := false
		for _, tag := range jt.Data[0].Spans[0].Tags {
			if tag.Key == "deep" {
				found = tag.Value == want
			}
		}
		if !found {
			t.Errorf("Jaeger trace %s: no tag deep = %.100s…", id, want)
		}
		// api_v3 rebuilds the structure: 64 maps and arrays around the marker.
		code, body = apiGet(t, api, "/api/v3/traces/"+id, "")
		levels := bytes.Count(body, []byte(`"arrayValue"`)) + bytes.Count(body, []byte(`"kvlistValue"`))
		if code != 200 || levels != store.MaxValueDepth || !bytes.Contains(body, []byte(`{"stringValue":"`+store.TruncatedValue+`"}`)) {
			t.Errorf("api_v3 trace %s: %d, %d levels, %.300s", id, code, levels, body)
		}
	}
}

// checkWarning checks an Export answer (protobuf) for OTLP's warning: a
// partial success that rejects nothing and says one value was cut.
func checkWarning(t *testing.T, via string, answer []byte) {
	t.Helper()
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(answer); err != nil {
		t.Fatalf("%s: %v", via, err)
	}
	if ps := resp.PartialSuccess(); ps.RejectedSpans() != 0 || !strings.Contains(ps.ErrorMessage(), "1 value(s) nested deeper than 64 levels") {
		t.Errorf("%s: partial success %d rejected, %q", via, ps.RejectedSpans(), ps.ErrorMessage())
	}
}
