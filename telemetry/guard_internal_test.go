package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// The errors net/http and grpc-go give when the protocol does not match the
// port, as they print them (net/http's are taken from a client posting to a
// server that speaks HTTP/2 first: 189 and 11 of 200 posts).
func TestPortHint(t *testing.T) {
	for _, tc := range []struct{ err, want string }{
		{`Post "http://127.0.0.1:4317/v1/traces": net/http: HTTP/1.x transport connection broken: malformed HTTP response "\x00\x00\x06\x04\x00\x00\x00\x00\x00"`, "looks like a gRPC port"},
		{`Post "http://127.0.0.1:4317/v1/traces": readLoopPeekFailLocked: %!w(<nil>)`, "looks like a gRPC port"},
		{`rpc error: code = Unavailable desc = connection error: desc = "error reading server preface: http2: failed reading the frame payload"`, "looks like an HTTP port"},
		{`Post "http://127.0.0.1:4318/v1/traces": readLoopPeekFailLocked: read tcp 127.0.0.1:1->127.0.0.1:4318: read: connection reset by peer`, ""},
		{`Post "http://127.0.0.1:4318/v1/traces": dial tcp 127.0.0.1:4318: connect: connection refused`, ""},
	} {
		got := portHint(errors.New(tc.err))
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("portHint(%s) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// A metric export that fails counts as lost only when no later export
// carries its data again: cumulative data is carried by the next success
// (the SDK cancels its periodic export in flight at Shutdown, then exports
// once more), delta data is not. Against a real OTLP/HTTP exporter and a
// collector that hangs its first request.
func TestMetricExportCarriedAgain(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if calls.Add(1) == 1 {
			select { // hangs until the client gives up
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	defer close(release)
	exp, err := otlpmetrichttp.New(context.Background(), otlpmetrichttp.WithEndpointURL(srv.URL+"/v1/metrics"), otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false}))
	if err != nil {
		t.Fatal(err)
	}
	var warnings strings.Builder
	g := newGuard(newWarner(&warnings))
	e := &metricExporter{Exporter: exp, g: g, name: srv.URL}
	rm := func(temporality metricdata.Temporality) *metricdata.ResourceMetrics {
		return &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{{
			Name: "jobs",
			Data: metricdata.Sum[int64]{Temporality: temporality, IsMonotonic: true, DataPoints: []metricdata.DataPoint[int64]{{Value: 1, Time: time.Now()}}},
		}}}}}
	}
	cancelled := func() context.Context {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		return ctx
	}

	_ = e.Export(cancelled(), rm(metricdata.CumulativeTemporality))
	if got := g.stats().MetricExportsFailed; got != 1 {
		t.Fatalf("after a cancelled cumulative export: %d failed, want 1 until a later export carries it", got)
	}
	if warnings.Len() != 0 {
		t.Errorf("a cancelled cumulative export warned: %s", warnings.String())
	}
	_ = e.Export(context.Background(), rm(metricdata.CumulativeTemporality))
	if got := g.stats().MetricExportsFailed; got != 0 {
		t.Fatalf("after the next export succeeded: %d failed, want 0", got)
	}

	calls.Store(0) // the next request hangs again
	_ = e.Export(cancelled(), rm(metricdata.DeltaTemporality))
	_ = e.Export(context.Background(), rm(metricdata.DeltaTemporality))
	if got := g.stats().MetricExportsFailed; got != 1 {
		t.Fatalf("a cancelled delta export: %d failed after a later success, want 1: its data is lost", got)
	}
	if !strings.Contains(warnings.String(), "metrics could not be exported") {
		t.Errorf("the lost delta export did not warn: %q", warnings.String())
	}
}
