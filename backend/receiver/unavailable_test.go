package receiver_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
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

// fullDisk is a store whose disk refuses every write, as diskstore answers
// then (its own tests fill a disk for real).
type fullDisk struct{}

var errFull = fmt.Errorf("%w: diskstore: write seg-1.loupe: no space left on device", store.ErrUnavailable)

func (fullDisk) WriteTraces(context.Context, ptrace.Traces) (store.WriteResult, error) {
	return store.WriteResult{}, errFull
}
func (fullDisk) WriteLogs(context.Context, plog.Logs) (store.WriteResult, error) {
	return store.WriteResult{}, errFull
}
func (fullDisk) WriteMetrics(context.Context, pmetric.Metrics) (store.WriteResult, error) {
	return store.WriteResult{}, errFull
}

// TestStoreUnavailableIsRetryable: a write the store cannot take now
// (store.ErrUnavailable) answers what OTLP exporters retry: 503 with
// Retry-After over HTTP, UNAVAILABLE over gRPC, with the reason. A 500
// or INTERNAL, as before, made them drop the data.
func TestStoreUnavailableIsRetryable(t *testing.T) {
	mux := http.NewServeMux()
	receiver.New(fullDisk{}).RegisterRoutes(mux)
	rec := post(mux, "/v1/traces", "application/x-protobuf", "", must(traceRequest().MarshalProto()))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Errorf("HTTP: %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if st := decodeStatus(t, rec); st.Code != int32(codes.Unavailable) || !strings.Contains(st.Message, "no space left on device") {
		t.Errorf("HTTP status %v", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := ptraceotlp.NewGRPCClient(grpcServer(t, fullDisk{})).Export(ctx, traceRequest())
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("gRPC: %v, want UNAVAILABLE", err)
	}
}
