package receiver_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/backend/receiver"
	"github.com/loupe-dev/loupe/backend/store"
)

// blockingWriter holds every write until release is closed.
type blockingWriter struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingWriter) WriteTraces(ctx context.Context, _ ptrace.Traces) (store.WriteResult, error) {
	b.entered <- struct{}{}
	<-b.release
	return store.WriteResult{}, nil
}

func (b *blockingWriter) WriteLogs(context.Context, plog.Logs) (store.WriteResult, error) {
	return store.WriteResult{}, nil
}

func (b *blockingWriter) WriteMetrics(context.Context, pmetric.Metrics) (store.WriteResult, error) {
	return store.WriteResult{}, nil
}

// TestBusy checks that requests beyond the concurrency bound wait, and get
// 503 / UNAVAILABLE when their turn does not come in time.
func TestBusy(t *testing.T) {
	w := &blockingWriter{entered: make(chan struct{}, 10), release: make(chan struct{})}
	r := receiver.New(w, receiver.WithMaxConcurrentRequests(1, 50*time.Millisecond))
	mux := http.NewServeMux()
	r.RegisterRoutes(mux)
	pb := must(traceRequest().MarshalProto())

	first := make(chan int)
	go func() { first <- post(mux, "/v1/traces", "application/x-protobuf", "", pb).Code }()
	<-w.entered // the first request holds the only slot

	rec := post(mux, "/v1/traces", "application/x-protobuf", "", pb)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("second request while busy: %d (Retry-After %q), want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if st := decodeStatus(t, rec); codes.Code(st.Code) != codes.Unavailable {
		t.Errorf("status body %v", st)
	}

	cc := grpcServer(t, w, receiver.WithMaxConcurrentRequests(1, 50*time.Millisecond))
	client := ptraceotlp.NewGRPCClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	firstGRPC := make(chan error)
	go func() { _, err := client.Export(ctx, traceRequest()); firstGRPC <- err }()
	<-w.entered // this server's only slot is taken too
	if _, err := client.Export(ctx, traceRequest()); status.Code(err) != codes.Unavailable {
		t.Errorf("gRPC while busy: %v, want UNAVAILABLE", err)
	}

	close(w.release)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first request: %d", code)
	}
	if err := <-firstGRPC; err != nil {
		t.Errorf("first gRPC request: %v", err)
	}
	if rec := post(mux, "/v1/traces", "application/x-protobuf", "", pb); rec.Code != http.StatusOK {
		t.Errorf("after the slot is free: %d", rec.Code)
	}
}
