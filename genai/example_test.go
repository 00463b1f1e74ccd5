package genai_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/loupe-dev/loupe/genai"
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
