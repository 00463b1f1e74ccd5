package loupehttp_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"

	"github.com/loupe-dev/loupe/instrumentation/internal/sdktest"
	"github.com/loupe-dev/loupe/instrumentation/loupehttp"
)

// BenchmarkServer compares a trivial routed handler bare, under otelhttp and
// under loupehttp, with the SDK sampling every span (recorder) and a manual
// metric reader. Run it with -benchmem and compare with benchstat.
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
	b.Run("loupe", func(b *testing.B) {
		tp, mp := sdktest.Bench(b)
		run(b, loupehttp.Handler(newMux(),
			loupehttp.WithTracerProvider(tp), loupehttp.WithMeterProvider(mp), loupehttp.WithPropagators(prop)))
	})
}
