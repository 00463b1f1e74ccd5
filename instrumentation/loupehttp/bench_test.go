package loupehttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/loupe-dev/loupe/instrumentation/loupehttp"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

// BenchmarkServer compares a trivial routed handler bare, under otelhttp and
// under loupehttp, with the SDK sampling and recording every span and a
// manual metric reader. "sdk-floor" is the SDK work alone for the same
// output (extract, one span with the same attributes renamed after routing,
// one histogram measurement with a cached set), without any HTTP: what no
// middleware producing this output can go below. Run it with -benchmem and
// compare with benchstat -col .name.
func BenchmarkServer(b *testing.B) {
	newMux := func() http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "ok")
		})
		return mux
	}
	prop := propagation.TraceContext{}
	run := func(b *testing.B, h http.Handler) {
		b.ReportAllocs()
		r := httptest.NewRequest("GET", "/items/42", nil)
		r.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		for b.Loop() {
			w.Body.Reset()
			h.ServeHTTP(w, r)
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, newMux()) })
	b.Run("otelhttp", func(b *testing.B) {
		tp, mp := sdktest.Bench(b)
		run(b, otelhttp.NewHandler(newMux(), "server",
			otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp), otelhttp.WithPropagators(prop)))
	})
	// otelhttp also records http.server.request.body.size and
	// http.server.response.body.size, which loupehttp does not: dropped by
	// views, its output is the same as loupehttp's.
	b.Run("otelhttp-same-output", func(b *testing.B) {
		drop := func(name string) sdkmetric.Option {
			return sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: name},
				sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}}))
		}
		tp, mp := sdktest.Bench(b, drop("http.server.request.body.size"), drop("http.server.response.body.size"))
		run(b, otelhttp.NewHandler(newMux(), "server",
			otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp), otelhttp.WithPropagators(prop)))
	})
	b.Run("loupe", func(b *testing.B) {
		tp, mp := sdktest.Bench(b)
		run(b, loupehttp.Handler(newMux(),
			loupehttp.WithTracerProvider(tp), loupehttp.WithMeterProvider(mp), loupehttp.WithPropagators(prop)))
	})
	// With no-op providers only the glue is left: what each middleware costs
	// when the service has not set telemetry up.
	b.Run("otelhttp-noop", func(b *testing.B) {
		run(b, otelhttp.NewHandler(newMux(), "server", otelhttp.WithTracerProvider(tracenoop.NewTracerProvider()),
			otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), otelhttp.WithPropagators(prop)))
	})
	b.Run("loupe-noop", func(b *testing.B) {
		run(b, loupehttp.Handler(newMux(), loupehttp.WithTracerProvider(tracenoop.NewTracerProvider()),
			loupehttp.WithMeterProvider(metricnoop.NewMeterProvider()), loupehttp.WithPropagators(prop)))
	})
	b.Run("sdk-floor", func(b *testing.B) {
		tp, mp := sdktest.Bench(b)
		tracer := tp.Tracer("floor")
		hist, err := mp.Meter("floor").Float64Histogram("http.server.request.duration")
		if err != nil {
			b.Fatal(err)
		}
		set := attribute.NewSet(semconv.HTTPRequestMethodGet, semconv.URLScheme("http"), semconv.ServerAddress("example.com"),
			semconv.NetworkProtocolName("http"), semconv.NetworkProtocolVersion("1.1"), semconv.HTTPResponseStatusCode(200),
			semconv.HTTPRoute("/items/{id}"))
		record := []metric.RecordOption{metric.WithAttributeSet(set)}
		kind := trace.WithSpanKind(trace.SpanKindServer)
		r := httptest.NewRequest("GET", "/items/42", nil)
		b.ReportAllocs()
		for b.Loop() {
			ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			attrs := [...]attribute.KeyValue{semconv.ServerAddress("example.com"), semconv.HTTPRequestMethodGet,
				semconv.URLScheme("http"), semconv.NetworkPeerAddress("127.0.0.1"), semconv.NetworkPeerPort(40000),
				semconv.ClientAddress("127.0.0.1"), semconv.URLPath("/items/42"), semconv.NetworkProtocolVersion("1.1")}
			ctx, span := tracer.Start(ctx, "GET", kind, trace.WithAttributes(attrs[:]...))
			_ = r.WithContext(ctx)
			span.SetName("GET /items/{id}")
			span.SetAttributes(semconv.HTTPRoute("/items/{id}"), semconv.HTTPResponseBodySize(2), semconv.HTTPResponseStatusCode(200))
			span.End()
			hist.Record(ctx, 0.001, record...)
		}
	})
}
