package telemetry_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/loupe-dev/loupe/internal/testutil"
	"github.com/loupe-dev/loupe/telemetry"
)

// noEnv keeps the machine's OTEL_* variables out of a test.
var noEnv = telemetry.WithEnvLookup(func(string) (string, bool) { return "", false })

func emitAll(ctx context.Context) (traceID string) {
	s := telemetry.Get("export.test")
	ctx, span := s.Start(ctx, "exported-span", attribute.String("k", "v"))
	s.Counter("exported.counter").Add(ctx, 3)
	s.Histogram("exported.histogram", metric.WithExplicitBucketBoundaries(1, 5)).Record(ctx, 2)
	s.Logger().InfoContext(ctx, "exported log", "n", 1)
	span.End()
	return span.SpanContext().TraceID().String()
}

func TestExportToOTLPReceiver(t *testing.T) {
	for _, tc := range []struct {
		protocol, compression string
	}{
		{telemetry.ProtocolGRPC, "none"},
		{telemetry.ProtocolGRPC, "gzip"},
		{telemetry.ProtocolHTTPProtobuf, "none"},
		{telemetry.ProtocolHTTPProtobuf, "gzip"},
	} {
		t.Run(tc.protocol+"/"+tc.compression, func(t *testing.T) {
			r := startReceiver(t)
			endpoint := "http://" + r.httpAddr
			if tc.protocol == telemetry.ProtocolGRPC {
				endpoint = "http://" + r.grpcAddr
			}
			tel, err := telemetry.Setup(context.Background(), noEnv,
				telemetry.WithServiceName("exporter-test"),
				telemetry.WithOTLPEndpoint(endpoint),
				telemetry.WithOTLPProtocol(tc.protocol),
				telemetry.WithOTLPCompression(tc.compression),
				telemetry.WithRuntimeMetrics(false),
				telemetry.WithLogWriter(io.Discard),
			)
			if err != nil {
				t.Fatal(err)
			}
			traceID := emitAll(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := tel.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
			span, ok := r.spanNames()["exported-span"]
			if !ok {
				t.Fatalf("span not received; got %v", r.spanNames())
			}
			if span.TraceID().String() != traceID {
				t.Errorf("trace id %s, want %s", span.TraceID(), traceID)
			}
			if v, _ := span.Attributes().Get("k"); v.AsString() != "v" {
				t.Errorf("attribute k = %q", v.AsString())
			}
			if got := r.resourceService(); got != "exporter-test" {
				t.Errorf("service.name = %q", got)
			}
			ms := r.metricNames()
			if m, ok := ms["exported.counter"]; !ok || m.Sum().DataPoints().At(0).IntValue() != 3 {
				t.Errorf("counter not received right: %v", ms)
			}
			if m, ok := ms["exported.histogram"]; !ok || m.Histogram().DataPoints().At(0).Count() != 1 {
				t.Errorf("histogram not received")
			} else if ex := m.Histogram().DataPoints().At(0).Exemplars(); ex.Len() == 0 || ex.At(0).TraceID().String() != traceID {
				t.Errorf("histogram exemplar missing or not linked to the span")
			}
			if _, ok := ms["loupe.telemetry.spans.exported"]; !ok {
				t.Errorf("self-metrics not exported")
			}
			lr, ok := r.logBodies()["exported log"]
			if !ok {
				t.Fatalf("log not received; got %v", r.logBodies())
			}
			if lr.TraceID().String() != traceID {
				t.Errorf("log trace id %s, want %s", lr.TraceID(), traceID)
			}
			if s := tel.Stats(); s.SpansExported != 1 || s.LogsExported != 1 || s.SpansDropped+s.SpansFailed != 0 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestExportTracesAsHTTPJSON(t *testing.T) {
	r := startReceiver(t)
	tel, err := telemetry.Setup(context.Background(), noEnv,
		telemetry.WithOTLPEndpoint("http://"+r.httpAddr),
		telemetry.WithOTLPProtocol(telemetry.ProtocolHTTPJSON),
		telemetry.WithExporters(telemetry.Metrics, "none"),
		telemetry.WithExporters(telemetry.Logs, "none"),
		telemetry.WithRuntimeMetrics(false),
	)
	if err != nil {
		t.Fatal(err)
	}
	_, span := telemetry.Get("json").Start(context.Background(), "json-span")
	span.End()
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.spanNames()["json-span"]; !ok {
		t.Fatal("span not received over http/json")
	}
	if r.ctypes[0] != "application/json" {
		t.Errorf("content type %q, want application/json", r.ctypes[0])
	}
}

func TestEnvironmentDrivesExport(t *testing.T) {
	r := startReceiver(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+r.grpcAddr)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_SERVICE_NAME", "from-env")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	tel, err := telemetry.Setup(context.Background(), telemetry.WithRuntimeMetrics(false), telemetry.WithLogWriter(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	emitAll(context.Background())
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.resourceService() != "from-env" {
		t.Errorf("service %q", r.resourceService())
	}
	if _, ok := r.logBodies()["exported log"]; !ok {
		t.Error("log not received")
	}
}

// blackhole accepts connections and never answers.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestCollectorDownNeverHurtsTheService(t *testing.T) {
	for _, tc := range []struct {
		name, protocol string
		addr           func(*testing.T) string
	}{
		{"closed port grpc", telemetry.ProtocolGRPC, closedPort},
		{"closed port http", telemetry.ProtocolHTTPProtobuf, closedPort},
		{"silent port grpc", telemetry.ProtocolGRPC, blackhole},
		{"silent port http", telemetry.ProtocolHTTPProtobuf, blackhole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warnings testutil.SyncBuffer
			tel, err := telemetry.Setup(context.Background(), noEnv,
				telemetry.WithOTLPEndpoint("http://"+tc.addr(t)),
				telemetry.WithOTLPProtocol(tc.protocol),
				telemetry.WithOTLPTimeout(3*time.Second),
				telemetry.WithSpanBatching(telemetry.BatchOptions{MaxQueueSize: 64, MaxExportBatchSize: 16, Delay: 10 * time.Millisecond}),
				telemetry.WithLogBatching(telemetry.BatchOptions{MaxQueueSize: 64, MaxExportBatchSize: 16, Delay: 10 * time.Millisecond}),
				telemetry.WithMetricInterval(50*time.Millisecond),
				telemetry.WithRuntimeMetrics(false),
				telemetry.WithLogWriter(io.Discard),
				telemetry.WithWarningWriter(&warnings),
			)
			if err != nil {
				t.Fatal(err)
			}
			s := telemetry.Get("down")
			const n = 2000
			var slowest time.Duration
			for i := 0; i < n; i++ {
				start := time.Now()
				ctx, span := s.Start(context.Background(), "op")
				s.Counter("ops").Add(ctx, 1)
				s.Logger().InfoContext(ctx, "op done")
				span.End()
				if d := time.Since(start); d > slowest {
					slowest = d
				}
			}
			// A call that waited on the exporter would take its 3s timeout;
			// the bound leaves room for a loaded machine and the race detector.
			if slowest > time.Second {
				t.Errorf("slowest application call took %v: telemetry blocked the service", slowest)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			err = tel.Shutdown(ctx)
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("Shutdown took %v with a 500ms deadline", took)
			}
			if err == nil {
				t.Fatal("Shutdown returned nil with the collector down")
			}
			var loss *telemetry.DataLossError
			if !errors.As(err, &loss) {
				t.Fatalf("Shutdown error %v carries no DataLossError", err)
			}
			st := tel.Stats()
			if st.SpansDropped+st.SpansFailed < n-64 || st.LogsDropped+st.LogsFailed < n-64 {
				t.Errorf("stats %+v: want (nearly) all %d spans and logs counted as dropped or failed", st, n)
			}
			if st.SpansExported != 0 {
				t.Errorf("stats claim %d spans exported to a dead collector", st.SpansExported)
			}
			if c := strings.Count(warnings.String(), "span queue"); c != 1 {
				t.Errorf("%d 'span queue' warnings, want exactly one (rate-limited):\n%s", c, warnings.String())
			}
			time.Sleep(50 * time.Millisecond) // let exporters abandoned at the deadline notice their closed connections
		})
	}
}

func TestPrometheusOpenMetricsWithExemplar(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tel, err := telemetry.Setup(context.Background(), noEnv,
		telemetry.WithExporters(telemetry.Traces, "none"),
		telemetry.WithExporters(telemetry.Metrics, "prometheus"),
		telemetry.WithExporters(telemetry.Logs, "none"),
		telemetry.WithRuntimeMetrics(false),
		telemetry.WithSpanProcessor(rec),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()

	s := telemetry.Get("prom")
	ctx, span := s.Start(context.Background(), "request")
	s.Histogram("http.server.request.duration", metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(0.1, 1)).Record(ctx, 0.05)
	s.Counter("requests").Add(ctx, 1)
	span.End()
	traceID := rec.Ended()[0].SpanContext().TraceID().String()

	srv := httptest.NewServer(tel.MetricsHandler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("content type %q, want OpenMetrics", ct)
	}
	var exemplarLine string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "http_server_request_duration_seconds_bucket") && strings.Contains(sc.Text(), "# {") {
			exemplarLine = sc.Text()
		}
	}
	if !strings.Contains(exemplarLine, `trace_id="`+traceID+`"`) {
		t.Errorf("no exemplar with trace_id %s; bucket line: %q", traceID, exemplarLine)
	}
}

func TestPrometheusOwnListener(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), noEnv,
		telemetry.WithExporters(telemetry.Metrics, "prometheus"),
		telemetry.WithExporters(telemetry.Traces, "none"),
		telemetry.WithExporters(telemetry.Logs, "none"),
		telemetry.WithPrometheusListener("127.0.0.1:0"),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	resp, err := http.Get("http://" + tel.PrometheusAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "go_goroutine") {
		t.Errorf("runtime metrics missing from the scrape:\n%.500s", body)
	}
}

func TestMetricsHandlerWithoutPrometheus(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), noEnv, telemetry.WithDefaultExporter("none"), telemetry.WithRuntimeMetrics(false))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	w := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "OTEL_METRICS_EXPORTER=prometheus") {
		t.Errorf("got %d %q", w.Code, w.Body.String())
	}
}

func TestFailureHalfWayShutsDownWhatWasBuilt(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = telemetry.Setup(context.Background(), noEnv,
		telemetry.WithOTLPEndpoint("http://"+closedPort(t)),
		telemetry.WithExporters(telemetry.Metrics, "prometheus"),
		telemetry.WithPrometheusListener(busy.Addr().String()),
		telemetry.WithRuntimeMetrics(false),
	)
	if err == nil || !strings.Contains(err.Error(), "prometheus listener on "+busy.Addr().String()) {
		t.Fatalf("Setup: %v, want the Prometheus listener's error", err)
	}
	// The providers and exporters built before the failure were shut down
	// (goleak checks their goroutines) and nothing is left active.
	tel, err := telemetry.Setup(context.Background(), noEnv, telemetry.WithDefaultExporter("none"))
	if err != nil {
		t.Fatalf("Setup after a failed one: %v", err)
	}
	_ = tel.Shutdown(context.Background())
}

func TestCardinalityOverflowWarnsOnce(t *testing.T) {
	var out testutil.SyncBuffer
	tel, err := telemetry.Setup(context.Background(), noEnv,
		telemetry.WithExporters(telemetry.Metrics, "console"),
		telemetry.WithExporters(telemetry.Traces, "none"),
		telemetry.WithExporters(telemetry.Logs, "none"),
		telemetry.WithRuntimeMetrics(false),
		telemetry.WithCardinalityLimit(3),
		telemetry.WithMetricInterval(20*time.Millisecond),
		telemetry.WithWarningWriter(&out),
	)
	if err != nil {
		t.Fatal(err)
	}
	c := telemetry.Get("cardinality").Counter("by.user")
	for i := range 10 {
		c.Add(context.Background(), 1, metric.WithAttributes(attribute.Int("user", i)))
	}
	time.Sleep(100 * time.Millisecond) // several exports
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), `metric "by.user" passed the cardinality limit`); n != 1 {
		t.Errorf("%d overflow warnings, want 1:\n%s", n, out.String())
	}
	if !strings.Contains(out.String(), "otel.metric.overflow=true") {
		t.Errorf("console output lacks the overflow series:\n%s", out.String())
	}
}
