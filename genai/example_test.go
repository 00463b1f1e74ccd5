package genai_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/loupe-dev/loupe/genai"
	"github.com/loupe-dev/loupe/instrumentation/loupehttp"
)

func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	in := genai.New(genai.WithTracerProvider(tp)) // meter: the global provider

	ctx, agent := in.StartAgent(context.Background(), genai.Agent{Name: "support"})
	_, chat := in.StartChat(ctx, genai.Chat{Provider: "openai", Model: "gpt-4o",
		Messages: []genai.Message{{Role: "user", Content: "where is my order?"}}}) // not recorded
	chat.SetResponse(genai.Response{Model: "gpt-4o", InputTokens: 12, OutputTokens: 30, HasUsage: true,
		FinishReasons: []string{"tool_calls"}})
	chat.End(nil)
	_, tool := in.StartTool(ctx, genai.Tool{Name: "lookup_order", Type: "function"})
	tool.End(nil)
	agent.End(nil)

	for _, s := range spans.Ended() {
		fmt.Println(s.SpanKind(), s.Name())
	}
	// Output:
	// client chat gpt-4o
	// internal execute_tool lookup_order
	// internal invoke_agent support
}

// A streamed response: Chunk as each chunk arrives times the first chunk and
// the gaps between the next ones.
func ExampleCall_Chunk() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	in := genai.New(genai.WithMeterProvider(mp)) // tracer: the global provider

	_, chat := in.StartChat(context.Background(), genai.Chat{Provider: "openai", Model: "gpt-4o", Stream: true})
	for range []string{"Your ", "order ", "ships ", "today."} { // the chunks of a stream
		chat.Chunk()
	}
	chat.End(nil)

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		fmt.Println(m.Name, m.Unit, m.Data.(metricdata.Histogram[float64]).DataPoints[0].Count)
	}
	// Output:
	// gen_ai.client.operation.duration s 1
	// gen_ai.client.operation.time_to_first_chunk s 1
	// gen_ai.client.operation.time_per_output_chunk s 3
}

// A model server, or a stand-in for one: the served call's span sits under
// the HTTP middleware's server span, Chunk marks each generated token, and
// End records the gen_ai.server.* histograms.
func ExampleInstrumenter_StartServe() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	in := genai.New(genai.WithTracerProvider(tp), genai.WithMeterProvider(mp))

	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		_, call := in.StartServe(r.Context(), genai.Chat{Provider: "openai", Model: "stand-in", Stream: true,
			MetricAttributes: []attribute.KeyValue{attribute.String("project", "demo")}})
		tokens := []string{"Your ", "order ", "ships ", "today."}
		for _, tok := range tokens { // generated and streamed one by one
			call.Chunk()
			_, _ = io.WriteString(w, tok)
		}
		call.SetResponse(genai.Response{Model: "stand-in", FinishReasons: []string{"stop"},
			InputTokens: 9, OutputTokens: int64(len(tokens)), HasUsage: true})
		call.End(nil)
	})
	server := loupehttp.Handler(mux, loupehttp.WithTracerProvider(tp)) // the transport's server span
	server.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/v1/chat/completions", nil))

	ended := spans.Ended()
	for _, s := range ended {
		fmt.Println(s.SpanKind(), s.Name())
	}
	fmt.Println("parent of the chat span is the server span:", ended[0].Parent().SpanID() == ended[1].SpanContext().SpanID())
	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		fmt.Println(m.Name, m.Unit, m.Data.(metricdata.Histogram[float64]).DataPoints[0].Count)
	}
	// Output:
	// internal chat stand-in
	// server POST /v1/chat/completions
	// parent of the chat span is the server span: true
	// gen_ai.server.request.duration s 1
	// gen_ai.server.time_to_first_token s 1
	// gen_ai.server.time_per_output_token s 1
}
