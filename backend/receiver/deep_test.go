package receiver_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// checkDeepSpan checks that trace's span was stored with its attribute
// "deep" cut at the bound.
func checkDeepSpan(t *testing.T, s store.Reader, trace byte, depth int) {
	t.Helper()
	tr, err := s.Trace(context.Background(), storetest.TID(trace))
	if err != nil || len(tr.Spans) != 1 {
		t.Fatalf("stored: %v %v", tr, err)
	}
	if v, _ := store.Lookup(tr.Spans[0].Attributes, "deep"); v.AsString() != storetest.NestedText(depth) {
		t.Errorf("stored value %.200s…", v.AsString())
	}
}

// warned checks a partial success that rejects nothing and says that one
// value was cut.
func warned(t *testing.T, rejected int64, msg string) {
	t.Helper()
	if rejected != 0 || !strings.Contains(msg, "1 value(s) nested deeper than 64 levels") {
		t.Errorf("partial success: %d rejected, %q", rejected, msg)
	}
}

func TestDeepValuesCut(t *testing.T) {
	mux, s := newHTTP(t)
	for i, tc := range []struct {
		ctype string
		body  []byte
		depth int
	}{
		{"application/x-protobuf", storetest.DeepTracesProto(1, 1_000_000), 1_000_000},
		{"application/json", storetest.DeepTracesJSON(2, 300_000), 300_000}, // 11.6 MB
		{"application/x-protobuf", storetest.DeepTracesProto(3, store.MaxValueDepth+1), store.MaxValueDepth + 1},
	} {
		start := time.Now()
		rec := post(mux, "/v1/traces", tc.ctype, "", tc.body)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.ctype, rec.Code, rec.Body)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: %v", tc.ctype, took)
		}
		resp := ptraceotlp.NewExportResponse()
		var err error
		if tc.ctype == "application/json" {
			err = resp.UnmarshalJSON(rec.Body.Bytes())
		} else {
			err = resp.UnmarshalProto(rec.Body.Bytes())
		}
		if err != nil {
			t.Fatal(err)
		}
		warned(t, resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage())
		checkDeepSpan(t, s, byte(i+1), tc.depth)
	}
	// Within the bound: a full success, the value whole.
	if rec := post(mux, "/v1/traces", "application/x-protobuf", "", storetest.DeepTracesProto(4, store.MaxValueDepth)); rec.Code != http.StatusOK || rec.Body.Len() != 0 {
		t.Errorf("at the bound: %d %q", rec.Code, rec.Body)
	}
	checkDeepSpan(t, s, 4, store.MaxValueDepth)
}

// TestDeepValuesCutOverGRPC sends the million levels over gRPC, and a log
// whose body is nested past the bound.
func TestDeepValuesCutOverGRPC(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	cc := grpcServer(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, out := rawBytes(storetest.DeepTracesProto(1, 1_000_000)), rawBytes{}
	if err := cc.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &in, &out, grpc.ForceCodecV2(rawClientCodec{})); err != nil {
		t.Fatal(err)
	}
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(out); err != nil {
		t.Fatal(err)
	}
	warned(t, resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage())
	checkDeepSpan(t, s, 1, 1_000_000)

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	storetest.Nest(lr.Body(), store.MaxValueDepth+10)
	lresp, err := plogotlp.NewGRPCClient(cc).Export(ctx, plogotlp.NewExportRequestFromLogs(ld))
	if err != nil {
		t.Fatal(err)
	}
	warned(t, lresp.PartialSuccess().RejectedLogRecords(), lresp.PartialSuccess().ErrorMessage())
	for r, err := range s.FindLogs(ctx, store.LogQuery{}) {
		if err != nil || r.Body.AsString() != storetest.NestedText(store.MaxValueDepth+10) {
			t.Errorf("log body %.200s… %v", r.Body.AsString(), err)
		}
	}
}
