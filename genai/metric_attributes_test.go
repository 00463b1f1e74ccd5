package genai_test

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/loupe-dev/loupe/genai"
)

// points returns the attributes of every data point of every metric
// recorded, by metric name.
func (f *fixture) points(t *testing.T) map[string][]map[string]string {
	t.Helper()
	rm := f.Collect(t)
	out := map[string][]map[string]string{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					out[m.Name] = append(out[m.Name], attrs(dp.Attributes.ToSlice()))
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					out[m.Name] = append(out[m.Name], attrs(dp.Attributes.ToSlice()))
				}
			default:
				t.Fatalf("%s is a %T", m.Name, m.Data)
			}
		}
	}
	return out
}

func TestMetricAttributes(t *testing.T) {
	own := []attribute.KeyValue{attribute.String("project", "demo"), genai.AgentNameKey.String("planner")}
	for _, tc := range []struct {
		name    string
		call    func(*genai.Instrumenter)
		metrics []string // every metric the call records
	}{
		{"chat", func(in *genai.Instrumenter) {
			_, c := in.StartChat(t.Context(), genai.Chat{Provider: "openai", Model: "gpt-4o", Stream: true, MetricAttributes: own})
			c.Chunk()
			c.Chunk()
			c.SetResponse(genai.Response{Model: "gpt-4o-2024-08-06", InputTokens: 3, OutputTokens: 2, HasUsage: true})
			c.End(nil)
		}, []string{genai.OperationDurationMetric, genai.TokenUsageMetric, genai.TimeToFirstChunkMetric, genai.TimePerOutputChunkMetric}},
		{"agent", func(in *genai.Instrumenter) {
			_, c := in.StartAgent(t.Context(), genai.Agent{Name: "planner", Provider: "anthropic", MetricAttributes: own})
			c.SetResponse(genai.Response{InputTokens: 5, OutputTokens: 8, HasUsage: true})
			c.End(nil)
		}, []string{genai.OperationDurationMetric, genai.TokenUsageMetric}},
		{"tool", func(in *genai.Instrumenter) {
			_, c := in.StartTool(t.Context(), genai.Tool{Name: "get_weather", MetricAttributes: own})
			c.End(nil)
		}, []string{genai.OperationDurationMetric}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.call(f.instrumenter())

			got := f.points(t)
			if len(got) != len(tc.metrics) {
				t.Errorf("metrics %v, want %v", got, tc.metrics)
			}
			for _, name := range tc.metrics {
				if len(got[name]) == 0 {
					t.Errorf("no %s", name)
				}
				for _, a := range got[name] {
					if a["project"] != "demo" || a["gen_ai.agent.name"] != "planner" || a["gen_ai.operation.name"] == "" {
						t.Errorf("%s attributes %v", name, a)
					}
				}
			}
			a := attrs(f.Spans.Ended()[0].Attributes())
			if a["project"] != "demo" || a["gen_ai.agent.name"] != "planner" {
				t.Errorf("span attributes %v", a)
			}
		})
	}
}

// Without MetricAttributes, an agent's metrics leave its name out.
func TestAgentNameNotOnMetricsByDefault(t *testing.T) {
	f := newFixture(t)
	_, c := f.instrumenter().StartAgent(t.Context(), genai.Agent{Name: "planner"})
	c.End(nil)
	for _, a := range f.points(t)[genai.OperationDurationMetric] {
		if _, ok := a["gen_ai.agent.name"]; ok {
			t.Errorf("duration attributes %v", a)
		}
	}
}

// A key the call sets itself keeps the call's value, and the caller's slice
// is neither changed nor appended to.
func TestMetricAttributesDoNotOverride(t *testing.T) {
	f := newFixture(t)
	own := make([]attribute.KeyValue, 2, 8)
	own[0] = genai.OperationNameKey.String("mine")
	own[1] = attribute.String("project", "demo")
	_, c := f.instrumenter().StartChat(t.Context(), genai.Chat{Provider: "openai", Model: "gpt-4o", MetricAttributes: own})
	c.SetResponse(genai.Response{Model: "gpt-4o-2024-08-06"})
	c.End(nil)

	for _, a := range f.points(t)[genai.OperationDurationMetric] {
		if a["gen_ai.operation.name"] != "chat" || a["project"] != "demo" {
			t.Errorf("duration attributes %v", a)
		}
	}
	if a := attrs(f.Spans.Ended()[0].Attributes()); a["gen_ai.operation.name"] != "chat" {
		t.Errorf("span attributes %v", a)
	}
	if own[0].Value.AsString() != "mine" || own[:cap(own)][2].Valid() {
		t.Errorf("the caller's slice changed: %v", own[:cap(own)])
	}
}
