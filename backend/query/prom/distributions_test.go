package prom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/loupe-dev/loupe/backend/query/prom"
	"github.com/loupe-dev/loupe/backend/receiver"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// loupeServer is a receiver and this package's API on one memory store,
// its clock at at.
func loupeServer(t *testing.T, at time.Time) (*httptest.Server, *memstore.Store) {
	t.Helper()
	st := memstore.New()
	t.Cleanup(func() { st.Close() })
	mux := http.NewServeMux()
	receiver.New(st).RegisterRoutes(mux)
	prom.New(st, prom.WithClock(func() time.Time { return at })).RegisterRoutes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, st
}

// exponentialView makes the SDK aggregate every histogram as a base-2
// exponential histogram with room for 8192 buckets: values from 1 to 1000
// fit at scale 9, above Prometheus' 8, so Loupe has to merge buckets.
var exponentialView = sdkmetric.NewView(sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindHistogram},
	sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 8192, MaxScale: 20}})

// The OTel Go SDK records an exponential histogram and exports it over
// OTLP; Loupe serves it as a native histogram that histogram_quantile,
// histogram_count and histogram_sum read, besides its _count and _sum.
func TestExponentialHistogramFromSDK(t *testing.T) {
	ctx := context.Background()
	srv, st := loupeServer(t, time.Now().Add(time.Second))
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(srv.URL+"/v1/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(exponentialView),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "exp"))))
	defer func() {
		if err := mp.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	h := must(mp.Meter("loupe.test/exp").Float64Histogram("payload.size", metric.WithUnit("By")))
	// 1..1000 in one series and 10x that in another.
	for i := 1; i <= 1000; i++ {
		h.Record(ctx, float64(i), metric.WithAttributes(attribute.String("size", "small")))
		h.Record(ctx, float64(10*i), metric.WithAttributes(attribute.String("size", "large")))
	}
	if err := mp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	for s, err := range st.FindSeries(ctx, store.SeriesQuery{Name: "payload.size"}) {
		if err != nil || len(s.Points) != 1 || s.Points[0].Exp == nil || s.Points[0].Exp.Scale <= 8 {
			t.Fatalf("the SDK's point is not above scale 8: %+v %v", s.Points[0].Exp, err)
		}
	}

	for _, tc := range []struct {
		query string
		want  map[string]float64 // by the size label
		tol   float64            // relative
	}{
		{`histogram_count(payload_size_bytes)`, map[string]float64{"small": 1000, "large": 1000}, 0},
		{`histogram_sum(payload_size_bytes)`, map[string]float64{"small": 500500, "large": 5005000}, 0},
		{`payload_size_bytes_count`, map[string]float64{"small": 1000, "large": 1000}, 0},
		{`payload_size_bytes_sum`, map[string]float64{"small": 500500, "large": 5005000}, 0},
		// At scale 8 a bucket is 0.27% wide; interpolation within it
		// stays well inside 1%.
		{`histogram_quantile(0.5, payload_size_bytes)`, map[string]float64{"small": 500, "large": 5000}, 0.01},
		{`histogram_quantile(0.99, payload_size_bytes)`, map[string]float64{"small": 990, "large": 9900}, 0.01},
		{`histogram_quantile(0.9, sum(payload_size_bytes))`, map[string]float64{"": 8000}, 0.01}, // the 1800th of the 2000 values
	} {
		got := instant(t, srv, tc.query, "size")
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
			continue
		}
		for k, w := range tc.want {
			if g, ok := got[k]; !ok || math.Abs(g-w) > tc.tol*w+1e-9 {
				t.Errorf("%s{size=%q} = %v, want %v ± %.0f%%", tc.query, k, g, w, tc.tol*100)
			}
		}
	}

	// The native histogram itself, as /api/v1/query answers it.
	code, body := get(t, srv, "/api/v1/query?"+q(`payload_size_bytes{size="small"}`))
	var r struct {
		Data struct {
			Result []struct {
				Metric    map[string]string
				Histogram [2]json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(body, &r); code != 200 || err != nil || len(r.Data.Result) != 1 {
		t.Fatalf("%d %v %s", code, err, body)
	}
	var hist struct {
		Count, Sum string
		Buckets    [][4]json.RawMessage
	}
	if err := json.Unmarshal(r.Data.Result[0].Histogram[1], &hist); err != nil || hist.Count != "1000" || hist.Sum != "500500" || len(hist.Buckets) == 0 {
		t.Errorf("histogram %s: %v", r.Data.Result[0].Histogram[1], err)
	}
	if m := r.Data.Result[0].Metric; m["__name__"] != "payload_size_bytes" || m["job"] != "exp" || m["otel_scope_name"] != "loupe.test/exp" {
		t.Errorf("labels %v", m)
	}
}

// Delta exponential histograms add up, so that rate() of the native
// histogram sees a counter, as for explicit histograms.
func TestExponentialHistogramDelta(t *testing.T) {
	ctx := context.Background()
	srv, _ := loupeServer(t, time.Now().Add(time.Second))
	exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpointURL(srv.URL+"/v1/metrics"),
		otlpmetrichttp.WithTemporalitySelector(func(sdkmetric.InstrumentKind) metricdata.Temporality { return metricdata.DeltaTemporality }))
	if err != nil {
		t.Fatal(err)
	}
	reader := sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(exponentialView),
		sdkmetric.WithResource(resource.NewSchemaless(attribute.String("service.name", "exp"))))
	defer func() { _ = mp.Shutdown(ctx) }()
	h := must(mp.Meter("loupe.test/exp").Int64Histogram("queue.wait", metric.WithUnit("ms")))
	for round := range 3 {
		for i := 1; i <= 100; i++ {
			h.Record(ctx, int64(i*(round+1)))
		}
		if err := mp.ForceFlush(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct millisecond timestamps
	}
	got := instant(t, srv, `histogram_count(queue_wait_milliseconds)`, "")
	if got[""] != 300 {
		t.Errorf("count of 3 delta exports of 100: %v", got)
	}
	if got := instant(t, srv, `queue_wait_milliseconds_count`, ""); got[""] != 300 {
		t.Errorf("_count: %v", got)
	}
}

// A summary, as the Collector receives one from Prometheus or StatsD
// receivers, keeps its quantiles as quantile="…" series under its own name,
// besides _count and _sum.
func TestSummaryQuantiles(t *testing.T) {
	srv, _ := loupeServer(t, storetest.Base.Add(3*time.Second))
	for i := range 2 {
		body := must(pmetricotlp.NewExportRequestFromMetrics(storetest.Distributions("rpc", "/a", time.Duration(i+1)*time.Second, float64(i+1))).MarshalProto())
		resp, err := http.Post(srv.URL+"/v1/metrics", "application/x-protobuf", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST: %d", resp.StatusCode)
		}
	}
	got := instant(t, srv, `rpc_duration_milliseconds{route="/a"}`, "quantile")
	want := map[string]float64{"0": 1, "0.5": 16, "0.99": 40, "1": 50}
	if len(got) != len(want) {
		t.Errorf("quantiles %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("quantile %s: %v, want %v", k, got[k], w)
		}
	}
	if got := instant(t, srv, `rpc_duration_milliseconds_count`, ""); got[""] != 8 {
		t.Errorf("_count %v", got)
	}
	if got := instant(t, srv, `rpc_duration_milliseconds_sum`, ""); got[""] != 80 {
		t.Errorf("_sum %v", got)
	}
	code, body := get(t, srv, "/api/v1/metadata?metric=rpc_duration_milliseconds")
	if code != 200 || !strings.Contains(string(body), `"rpc_duration_milliseconds":[{"type":"summary"`) {
		t.Errorf("metadata: %d %s", code, body)
	}
}
