package genai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/genai"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

// fixture is the in-memory SDK the tests give an Instrumenter.
type fixture struct{ *sdktest.SDK }

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return &fixture{sdktest.New(t)}
}

func (f *fixture) instrumenter(opts ...genai.Option) *genai.Instrumenter {
	return genai.New(append([]genai.Option{genai.WithTracerProvider(f.TP), genai.WithMeterProvider(f.MP)}, opts...)...)
}

func (f *fixture) metric(t *testing.T, name string) metricdata.Metrics {
	t.Helper()
	m, ok := f.Metrics(t)[name]
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return m
}

var attrs = sdktest.Attrs

const secret = "my card number is 4111 1111 1111 1111"

func chatCall(in *genai.Instrumenter, ctx context.Context) {
	temp := 0.2
	_, call := in.StartChat(ctx, genai.Chat{
		Provider: "openai", Model: "gpt-4o", ServerAddress: "api.openai.com", ServerPort: 443,
		MaxTokens: 256, Temperature: &temp, ConversationID: "conv-1",
		Instructions: "be brief", Messages: []genai.Message{{Role: "user", Content: secret}},
	})
	call.SetResponse(genai.Response{
		ID: "chatcmpl-1", Model: "gpt-4o-2024-08-06", FinishReasons: []string{"stop"},
		InputTokens: 42, OutputTokens: 7, HasUsage: true,
		Messages: []genai.Message{{Role: "assistant", Content: "noted: " + secret}},
	})
	call.End(nil)
}

func TestChat(t *testing.T) {
	f := newFixture(t)
	chatCall(f.instrumenter(), t.Context())

	spans := f.Spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	s := spans[0]
	if s.Name() != "chat gpt-4o" || s.SpanKind() != trace.SpanKindClient || s.Status().Code != codes.Unset {
		t.Errorf("span %q kind %v status %v", s.Name(), s.SpanKind(), s.Status())
	}
	want := map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
		"server.address": "api.openai.com", "server.port": "443", "gen_ai.request.max_tokens": "256",
		"gen_ai.request.temperature": "0.2", "gen_ai.conversation.id": "conv-1",
		"gen_ai.response.id": "chatcmpl-1", "gen_ai.response.model": "gpt-4o-2024-08-06",
		"gen_ai.response.finish_reasons": `["stop"]`, "gen_ai.usage.input_tokens": "42", "gen_ai.usage.output_tokens": "7",
	}
	if got := attrs(s.Attributes()); !mapsEqual(got, want) {
		t.Errorf("attributes\n got %v\nwant %v", got, want)
	}
	// No content by default, anywhere in the span.
	if dump := fmt.Sprint(s.Attributes(), s.Events()); strings.Contains(dump, "4111") || strings.Contains(dump, "be brief") {
		t.Errorf("content recorded without opt-in: %s", dump)
	}

	dur := f.metric(t, genai.OperationDurationMetric)
	if dur.Unit != "s" {
		t.Errorf("duration unit %q", dur.Unit)
	}
	dps := dur.Data.(metricdata.Histogram[float64]).DataPoints
	if len(dps) != 1 || dps[0].Count != 1 {
		t.Fatalf("duration points %+v", dps)
	}
	wantBounds := []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}
	if !slices.Equal(dps[0].Bounds, wantBounds) {
		t.Errorf("duration bounds %v", dps[0].Bounds)
	}
	wantMetric := map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
		"gen_ai.response.model": "gpt-4o-2024-08-06", "server.address": "api.openai.com", "server.port": "443",
	}
	if got := attrs(dps[0].Attributes.ToSlice()); !mapsEqual(got, wantMetric) {
		t.Errorf("duration attributes %v", got)
	}

	tok := f.metric(t, genai.TokenUsageMetric)
	if tok.Unit != "{token}" {
		t.Errorf("token unit %q", tok.Unit)
	}
	tdps := tok.Data.(metricdata.Histogram[int64]).DataPoints
	sums := map[string]int64{}
	for _, dp := range tdps {
		a := attrs(dp.Attributes.ToSlice())
		sums[a["gen_ai.token.type"]] += dp.Sum
		if !slices.Equal(dp.Bounds, []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}) {
			t.Errorf("token bounds %v", dp.Bounds)
		}
		delete(a, "gen_ai.token.type")
		if !mapsEqual(a, wantMetric) {
			t.Errorf("token attributes %v", a)
		}
	}
	if len(tdps) != 2 || sums["input"] != 42 || sums["output"] != 7 {
		t.Errorf("token usage %v", sums)
	}
}

func TestContentCaptureOptIn(t *testing.T) {
	f := newFixture(t)
	chatCall(f.instrumenter(genai.WithContentCapture(true)), t.Context())
	a := attrs(f.Spans.Ended()[0].Attributes())
	var in, out []struct {
		Role  string `json:"role"`
		Parts []struct {
			Type, Content string
		} `json:"parts"`
		FinishReason string `json:"finish_reason"`
	}
	if err := json.Unmarshal([]byte(a["gen_ai.input.messages"]), &in); err != nil || len(in) != 1 ||
		in[0].Role != "user" || in[0].Parts[0].Type != "text" || in[0].Parts[0].Content != secret {
		t.Errorf("input messages %q (%v)", a["gen_ai.input.messages"], err)
	}
	if err := json.Unmarshal([]byte(a["gen_ai.output.messages"]), &out); err != nil || len(out) != 1 ||
		out[0].Role != "assistant" || out[0].FinishReason != "stop" {
		t.Errorf("output messages %q (%v)", a["gen_ai.output.messages"], err)
	}
	if !strings.Contains(a["gen_ai.system_instructions"], "be brief") {
		t.Errorf("system instructions %q", a["gen_ai.system_instructions"])
	}
}

func TestAgentAndTool(t *testing.T) {
	for _, capture := range []bool{false, true} {
		t.Run(fmt.Sprint("capture=", capture), func(t *testing.T) {
			f := newFixture(t)
			in := f.instrumenter(genai.WithContentCapture(capture))
			ctx, agent := in.StartAgent(t.Context(), genai.Agent{Name: "planner", ID: "agent-7", Provider: "anthropic", Model: "claude"})
			_, tool := in.StartTool(ctx, genai.Tool{Name: "get_weather", CallID: "call-1", Type: "function",
				Arguments: map[string]string{"city": "Paris"}})
			tool.SetToolResult(map[string]int{"celsius": 21})
			tool.End(nil)
			agent.End(nil)
			_, remote := in.StartAgent(t.Context(), genai.Agent{Name: "researcher", Remote: true})
			remote.End(nil)

			byName := map[string]sdktrace.ReadOnlySpan{}
			for _, s := range f.Spans.Ended() {
				byName[s.Name()] = s
			}
			a, tl, r := byName["invoke_agent planner"], byName["execute_tool get_weather"], byName["invoke_agent researcher"]
			if a == nil || tl == nil || r == nil {
				t.Fatalf("spans %v", slices.Collect(func(yield func(string) bool) {
					for n := range byName {
						yield(n)
					}
				}))
			}
			if a.SpanKind() != trace.SpanKindInternal || tl.SpanKind() != trace.SpanKindInternal || r.SpanKind() != trace.SpanKindClient {
				t.Errorf("kinds %v %v %v", a.SpanKind(), tl.SpanKind(), r.SpanKind())
			}
			if tl.Parent().SpanID() != a.SpanContext().SpanID() {
				t.Error("tool span is not a child of the agent span")
			}
			aa, ta := attrs(a.Attributes()), attrs(tl.Attributes())
			if aa["gen_ai.agent.name"] != "planner" || aa["gen_ai.agent.id"] != "agent-7" || aa["gen_ai.operation.name"] != "invoke_agent" {
				t.Errorf("agent attributes %v", aa)
			}
			if ta["gen_ai.tool.name"] != "get_weather" || ta["gen_ai.tool.call.id"] != "call-1" || ta["gen_ai.tool.type"] != "function" {
				t.Errorf("tool attributes %v", ta)
			}
			_, hasArgs := ta["gen_ai.tool.call.arguments"]
			_, hasResult := ta["gen_ai.tool.call.result"]
			if hasArgs != capture || hasResult != capture {
				t.Errorf("capture=%v but arguments %v result %v", capture, hasArgs, hasResult)
			}
			if capture && (ta["gen_ai.tool.call.arguments"] != `{"city":"Paris"}` || ta["gen_ai.tool.call.result"] != `{"celsius":21}`) {
				t.Errorf("tool content %v", ta)
			}
			ops := map[string]uint64{}
			for _, dp := range f.metric(t, genai.OperationDurationMetric).Data.(metricdata.Histogram[float64]).DataPoints {
				ops[attrs(dp.Attributes.ToSlice())["gen_ai.operation.name"]] += dp.Count
			}
			if ops["invoke_agent"] != 2 || ops["execute_tool"] != 1 {
				t.Errorf("durations by operation %v", ops)
			}
		})
	}
}

type rateLimited struct{}

func (rateLimited) Error() string     { return "429 too many requests" }
func (rateLimited) ErrorType() string { return "rate_limited" }

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("call: %w", context.Canceled), "canceled"},
		{fmt.Errorf("call: %w", rateLimited{}), "rate_limited"},
		{errors.New("boom"), "*errors.errorString"},
		// Over gRPC: what otelgrpc's client returns for a deadline, a
		// refused peer and a status wrapped by the caller.
		{status.Error(grpccodes.DeadlineExceeded, "context deadline exceeded"), "timeout"},
		{status.Error(grpccodes.Canceled, "context canceled"), "canceled"},
		{fmt.Errorf("agent researcher: %w", status.Error(grpccodes.Unavailable, "connection refused")), "Unavailable"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			f := newFixture(t)
			_, call := f.instrumenter().StartChat(t.Context(), genai.Chat{Provider: "openai", Model: "m"})
			call.End(tc.err)
			s := f.Spans.Ended()[0]
			if s.Status().Code != codes.Error || attrs(s.Attributes())["error.type"] != tc.want {
				t.Errorf("status %v attributes %v", s.Status(), attrs(s.Attributes()))
			}
			if len(s.Events()) != 1 || s.Events()[0].Name != "exception" {
				t.Errorf("events %v", s.Events())
			}
			dps := f.metric(t, genai.OperationDurationMetric).Data.(metricdata.Histogram[float64]).DataPoints
			if len(dps) != 1 || attrs(dps[0].Attributes.ToSlice())["error.type"] != tc.want {
				t.Errorf("duration points %+v", dps)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if bv, ok := b[k]; !ok || bv != v {
			return false
		}
	}
	return true
}

func TestEndTwice(t *testing.T) {
	f := newFixture(t)
	_, call := f.instrumenter().StartTool(t.Context(), genai.Tool{Name: "t"})
	call.End(nil)
	call.End(errors.New("late"))
	dps := f.metric(t, genai.OperationDurationMetric).Data.(metricdata.Histogram[float64]).DataPoints
	if len(f.Spans.Ended()) != 1 || len(dps) != 1 || dps[0].Count != 1 || f.Spans.Ended()[0].Status().Code == codes.Error {
		t.Fatalf("second End counted: %d spans, %+v", len(f.Spans.Ended()), dps)
	}
}
