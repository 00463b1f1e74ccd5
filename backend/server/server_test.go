package server_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/internal/servertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "s3cret-token"

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func apiGet(t *testing.T, base, path, tok string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func res(service string) *resource.Resource {
	return resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service), attribute.String("test.run", "e2e"))
}

// emitTrace makes a two-span trace with the given exporter and returns its id.
func emitTrace(t *testing.T, exp sdktrace.SpanExporter, service string) trace.TraceID {
	t.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res(service)))
	tr := tp.Tracer("e2e")
	ctx, root := tr.Start(context.Background(), "checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.Int("items", 3)))
	_, child := tr.Start(ctx, "charge card", trace.WithSpanKind(trace.SpanKindClient))
	child.AddEvent("card declined", trace.WithAttributes(attribute.String("reason", "expired")))
	child.End()
	root.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatalf("exporting to the server: %v", err)
	}
	return root.SpanContext().TraceID()
}

type jaegerTraces struct {
	Data []struct {
		TraceID string `json:"traceID"`
		Spans   []struct {
			SpanID        string `json:"spanID"`
			OperationName string `json:"operationName"`
			References    []struct {
				RefType string `json:"refType"`
				SpanID  string `json:"spanID"`
			} `json:"references"`
			Tags []struct {
				Key   string `json:"key"`
				Type  string `json:"type"`
				Value any    `json:"value"`
			} `json:"tags"`
			Logs []struct {
				Fields []struct {
					Key   string `json:"key"`
					Value any    `json:"value"`
				} `json:"fields"`
			} `json:"logs"`
			ProcessID string `json:"processID"`
		} `json:"spans"`
		Processes map[string]struct {
			ServiceName string `json:"serviceName"`
		} `json:"processes"`
	} `json:"data"`
}

// TestEndToEnd sends with the OpenTelemetry Go SDK's own OTLP exporters
// (gRPC and HTTP, gzip, with a bearer token) to a running server and reads
// the result back through the Jaeger API.
func TestEndToEnd(t *testing.T) {
	st := memstore.New()
	t.Cleanup(func() { _ = st.Close() }) // after the server's shutdown: cleanups run last first
	srv := servertest.Start(t, server.Config{
		OTLPGRPCAddr: "127.0.0.1:0", OTLPHTTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Token: token, Store: st,
	})
	grpcAddr := srv.Addrs("otlp-grpc")[0].String()
	httpAddr := srv.Addrs("otlp-http")[0].String()
	api := servertest.URL(srv, "http")
	auth := map[string]string{"Authorization": "Bearer " + token}
	ctx := context.Background()

	gexp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(grpcAddr), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithHeaders(auth), otlptracegrpc.WithCompressor("gzip"))
	if err != nil {
		t.Fatal(err)
	}
	grpcTrace := emitTrace(t, gexp, "e2e-grpc")

	hexp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(httpAddr), otlptracehttp.WithInsecure(),
		otlptracehttp.WithHeaders(auth), otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	if err != nil {
		t.Fatal(err)
	}
	httpTrace := emitTrace(t, hexp, "e2e-http")

	// Logs over gRPC, correlated with the gRPC trace.
	lexp, err := otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(grpcAddr), otlploggrpc.WithInsecure(), otlploggrpc.WithHeaders(auth))
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res("e2e-grpc")))
	var rec otellog.Record
	rec.SetBody(attribute.StringValue("payment failed"))
	rec.SetSeverity(otellog.SeverityError)
	spanCtx := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: grpcTrace, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled}))
	lp.Logger("e2e").Emit(spanCtx, rec)
	if err := lp.Shutdown(ctx); err != nil {
		t.Fatalf("logs: %v", err)
	}

	// Metrics over HTTP.
	mexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(httpAddr), otlpmetrichttp.WithInsecure(), otlpmetrichttp.WithHeaders(auth))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp)), sdkmetric.WithResource(res("e2e-http")))
	counter, _ := mp.Meter("e2e").Int64Counter("orders")
	counter.Add(ctx, 5, metric.WithAttributes(attribute.String("route", "/checkout")))
	if err := mp.Shutdown(ctx); err != nil {
		t.Fatalf("metrics: %v", err)
	}

	// The Jaeger API answers with what was sent.
	code, body := apiGet(t, api, "/api/services", token)
	if code != 200 || !strings.Contains(string(body), `"e2e-grpc"`) || !strings.Contains(string(body), `"e2e-http"`) {
		t.Fatalf("services: %d %s", code, body)
	}
	for service, id := range map[string]trace.TraceID{"e2e-grpc": grpcTrace, "e2e-http": httpTrace} {
		code, body := apiGet(t, api, "/api/traces?service="+service+"&lookback=1h", token)
		if code != 200 {
			t.Fatalf("search %s: %d %s", service, code, body)
		}
		var got jaegerTraces
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		if len(got.Data) != 1 || got.Data[0].TraceID != id.String() {
			t.Fatalf("search %s: %s", service, body)
		}
		tr := got.Data[0]
		if len(tr.Spans) != 2 {
			t.Fatalf("%s: %d spans, want 2", service, len(tr.Spans))
		}
		root, child := tr.Spans[0], tr.Spans[1]
		if root.OperationName != "checkout" || child.OperationName != "charge card" {
			t.Errorf("%s: operations %q, %q", service, root.OperationName, child.OperationName)
		}
		if len(child.References) != 1 || child.References[0].RefType != "CHILD_OF" || child.References[0].SpanID != root.SpanID {
			t.Errorf("%s: child references %+v, want CHILD_OF %s", service, child.References, root.SpanID)
		}
		if p := tr.Processes[root.ProcessID]; p.ServiceName != service {
			t.Errorf("%s: process %+v", service, p)
		}
		var items bool
		for _, tag := range root.Tags {
			if tag.Key == "items" && tag.Type == "int64" && tag.Value == float64(3) {
				items = true
			}
		}
		if !items {
			t.Errorf("%s: root tags %+v lack items=3 (int64)", service, root.Tags)
		}
		if len(child.Logs) != 1 || child.Logs[0].Fields[0].Value != "card declined" {
			t.Errorf("%s: child logs %+v", service, child.Logs)
		}
		code, byID := apiGet(t, api, "/api/traces/"+id.String(), token)
		if code != 200 || !strings.Contains(string(byID), id.String()) {
			t.Errorf("trace by id: %d %s", code, byID)
		}
	}

	var logs []*store.LogRecord
	for r, err := range st.FindLogs(ctx, store.LogQuery{TraceID: store.TraceID(grpcTrace)}) {
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, r)
	}
	if len(logs) != 1 || logs[0].Body.AsString() != "payment failed" || logs[0].Resource.ServiceName != "e2e-grpc" {
		t.Errorf("logs by trace id: %+v", logs)
	}
	var series int
	for s, err := range st.FindSeries(ctx, store.SeriesQuery{Name: "orders", Labels: map[string]string{"route": "/checkout"}}) {
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Points) == 0 || s.Points[len(s.Points)-1].Value != 5 {
			t.Errorf("orders points: %+v", s.Points)
		}
		series++
	}
	if series != 1 {
		t.Errorf("orders: %d series, want 1", series)
	}
}

func TestTokenRequired(t *testing.T) {
	srv := servertest.Start(t, server.Config{OTLPGRPCAddr: "127.0.0.1:0", OTLPHTTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Token: token})
	api := servertest.URL(srv, "http")
	for _, tok := range []string{"", "wrong"} {
		if code, _ := apiGet(t, api, "/api/services", tok); code != http.StatusUnauthorized {
			t.Errorf("API with token %q: %d, want 401", tok, code)
		}
	}
	if code, _ := apiGet(t, api, "/api/services", token); code != http.StatusOK {
		t.Errorf("API with the token: %d", code)
	}
	ctx := context.Background()
	hexp, _ := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(srv.Addrs("otlp-http")[0].String()), otlptracehttp.WithInsecure(),
		otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	if err := exportOne(hexp); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("OTLP/HTTP without token: %v, want a 401", err)
	}
	gexp, _ := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(srv.Addrs("otlp-grpc")[0].String()), otlptracegrpc.WithInsecure(),
		otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	if err := exportOne(gexp); err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
		t.Errorf("OTLP/gRPC without token: %v, want Unauthenticated", err)
	}
}

// exportOne exports one span and returns the exporter's error.
func exportOne(exp sdktrace.SpanExporter) error {
	var gotErr error
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(errCatcher{exp, &gotErr}))
	_, sp := tp.Tracer("x").Start(context.Background(), "x")
	sp.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = tp.Shutdown(ctx)
	return gotErr
}

type errCatcher struct {
	sdktrace.SpanExporter
	err *error
}

func (e errCatcher) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err != nil {
		*e.err = err
	}
	return err
}

func TestLocalhostBindsBothLoopbacks(t *testing.T) {
	srv := servertest.Start(t, server.Config{HTTPAddr: "localhost:0"})
	addrs := srv.Addrs("http")
	if len(addrs) == 0 || !addrs[0].(*net.TCPAddr).IP.Equal(net.IPv4(127, 0, 0, 1)) {
		t.Fatalf("addresses %v: want 127.0.0.1 first", addrs)
	}
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Logf("no IPv6 loopback here (%v): only 127.0.0.1 checked", err)
	} else {
		_ = ln.Close()
		if len(addrs) != 2 || !addrs[1].(*net.TCPAddr).IP.Equal(net.IPv6loopback) {
			t.Fatalf("addresses %v: want 127.0.0.1 and ::1", addrs)
		}
		if addrs[0].(*net.TCPAddr).Port != addrs[1].(*net.TCPAddr).Port {
			t.Errorf("ports differ: %v", addrs)
		}
	}
	for _, a := range addrs {
		if code, body := apiGet(t, "http://"+a.String(), "/api/services", ""); code != 200 {
			t.Errorf("%s: %d %s", a, code, body)
		}
	}
}

func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	st := memstore.New()
	defer st.Close()
	cases := []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"empty host", server.Config{HTTPAddr: ":0"}, "no host"},
		{"bad address", server.Config{HTTPAddr: "nonsense"}, "nonsense"},
		{"port in use", server.Config{OTLPGRPCAddr: "127.0.0.1:0", HTTPAddr: busy.Addr().String()}, "--http"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Store = st
			tc.cfg.Logger = quietLogger()
			srv, err := server.Start(context.Background(), tc.cfg)
			if err == nil {
				_ = srv.Shutdown(context.Background())
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	if _, err := server.Start(context.Background(), server.Config{HTTPAddr: "127.0.0.1:0"}); err == nil {
		t.Error("Start without a store succeeded")
	}
}
