package loupehttp

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Host headers are the client's choice: the metric-set cache stops growing
// at maxCachedSets and every request is still measured with its own
// server.address.
func TestMetricSetCacheBounded(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()); _ = mp.Shutdown(t.Context()) })
	h := Handler(http.NotFoundHandler(), WithTracerProvider(tp), WithMeterProvider(mp), WithPropagators(propagation.TraceContext{})).(*middleware)

	const requests = maxCachedSets + 100
	for i := range requests {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = fmt.Sprintf("h%d.example", i)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if n := len(*h.metricOpts.Load()); n != maxCachedSets {
		t.Errorf("cache holds %d sets, want the bound %d", n, maxCachedSets)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	hosts := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok && m.Name == "http.server.request.duration" {
				for _, dp := range h.DataPoints {
					v, _ := dp.Attributes.Value("server.address")
					hosts[v.AsString()] = true
				}
			}
		}
	}
	// The SDK's own cardinality limit (2000 by default) is above requests.
	if len(hosts) != requests {
		t.Errorf("%d distinct server.address values measured, want %d", len(hosts), requests)
	}
}

// Only protocols the cache key can encode ("HTTP/d.d", all net/http passes
// on) are cached; others are measured with their own attributes each time.
func TestMetricSetCacheProtocols(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()); _ = mp.Shutdown(t.Context()) })
	h := Handler(http.NotFoundHandler(), WithTracerProvider(tp), WithMeterProvider(mp)).(*middleware)
	for _, proto := range []string{"HTTP/1.1", "HTTP/2.0", "HTTP/1.1", "SPDY/3.1", "HTTP/11", "QUIC"} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Proto = proto
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	if n := len(*h.metricOpts.Load()); n != 2 {
		t.Errorf("cache holds %d sets, want 2 (HTTP/1.1 and HTTP/2.0)", n)
	}
	for proto, want := range map[string]uint8{"HTTP/1.1": 12, "HTTP/2.0": 21, "HTTP/3.0": 31, "HTTP/x.1": 0, "HTTP/1.10": 0, "": 0, "http/1.1": 0} {
		if got := protoKey(proto); got != want {
			t.Errorf("protoKey(%q) = %d, want %d", proto, got, want)
		}
	}
}
