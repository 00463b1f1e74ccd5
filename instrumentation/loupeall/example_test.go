package loupeall_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/loupe-dev/loupe/genai"
	"github.com/loupe-dev/loupe/instrumentation/loupeall"
)

func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	// One value for every library; nothing global is touched. MeterProvider
	// is left nil: the global one.
	inst := loupeall.New(loupeall.Providers{TracerProvider: tp, Propagators: propagation.TraceContext{}})
	llm := inst.GenAI()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /ask", func(w http.ResponseWriter, r *http.Request) {
		_, call := llm.StartChat(r.Context(), genai.Chat{Provider: "openai", Model: "gpt-4o"})
		call.End(nil)
		fmt.Fprintln(w, "answer")
	})
	inst.HTTPHandler(mux).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/ask", nil))

	for _, s := range spans.Ended() {
		fmt.Println(s.SpanKind(), s.Name())
	}
	// Output:
	// client chat gpt-4o
	// server POST /ask
}
