package genai_test

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/genai"
)

// The buckets the conventions advise for the server's time to first token and
// time per output token; the request duration has advisedBuckets.
var (
	firstTokenBuckets = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}
	perTokenBuckets   = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5}
)

// byName returns the ended span of that name.
func (f *fixture) byName(t *testing.T, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range f.Spans.Ended() {
		if s.Name() == name {
			return s
		}
	}
	t.Fatalf("no span %q", name)
	return nil
}

// A streamed call served under the transport's server span: a "chat" span of
// kind Internal below it, and the three server histograms, once each, with
// the advised buckets, the metric attributes and an exemplar of the span.
func TestServe(t *testing.T) {
	const (
		firstWait = 20 * time.Millisecond
		gap       = 5 * time.Millisecond
		tokens    = 4
	)
	f := newFixture(t)
	in := f.instrumenter()
	ctx, transport := f.TP.Tracer("transport").Start(t.Context(), "POST /v1/chat/completions", trace.WithSpanKind(trace.SpanKindServer))
	_, call := in.StartServe(ctx, genai.Chat{
		Provider: "openai", Model: "stand-in", ServerAddress: "llm.internal", ServerPort: 8080, Stream: true, MaxTokens: 64,
		MetricAttributes: []attribute.KeyValue{attribute.String("project", "demo")},
	})
	time.Sleep(firstWait)
	for range tokens {
		call.Chunk()
		time.Sleep(gap)
	}
	call.SetResponse(genai.Response{ID: "r-1", Model: "stand-in-v2", FinishReasons: []string{"stop"},
		InputTokens: 12, OutputTokens: tokens, HasUsage: true})
	call.End(nil)
	transport.End()

	s := f.byName(t, "chat stand-in")
	if s.SpanKind() != trace.SpanKindInternal || s.Parent().SpanID() != transport.SpanContext().SpanID() {
		t.Errorf("span kind %v, parent %v; want internal below the transport's span", s.SpanKind(), s.Parent().SpanID())
	}
	a := attrs(s.Attributes())
	for k, v := range map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "stand-in",
		"gen_ai.response.model": "stand-in-v2", "gen_ai.request.stream": "true", "gen_ai.usage.input_tokens": "12",
		"gen_ai.usage.output_tokens": "4", "project": "demo", "server.address": "llm.internal",
	} {
		if a[k] != v {
			t.Errorf("span %s = %q, want %q", k, a[k], v)
		}
	}
	if _, ok := a[string(genai.ResponseTimeToFirstChunkKey)]; ok {
		t.Errorf("served span has the client's %s", genai.ResponseTimeToFirstChunkKey)
	}

	rm := f.Collect(t)
	got := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			got[m.Name] = m
		}
	}
	wantAttrs := map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "stand-in",
		"gen_ai.response.model": "stand-in-v2", "server.address": "llm.internal", "server.port": "8080", "project": "demo",
	}
	values := map[string]float64{}
	for _, w := range []struct {
		name, description string
		bounds            []float64
	}{
		{genai.ServerRequestDurationMetric, "Generative AI server request duration such as time-to-last byte or last output token.", advisedBuckets},
		{genai.ServerTimeToFirstTokenMetric, "Time to generate first token for successful responses.", firstTokenBuckets},
		{genai.ServerTimePerOutputTokenMetric, "Time per output token generated after the first token for successful responses.", perTokenBuckets},
	} {
		m, ok := got[w.name]
		if !ok {
			t.Errorf("no %s", w.name)
			continue
		}
		delete(got, w.name)
		if m.Unit != "s" || m.Description != w.description {
			t.Errorf("%s: unit %q, description %q", w.name, m.Unit, m.Description)
		}
		dps := m.Data.(metricdata.Histogram[float64]).DataPoints
		if len(dps) != 1 || dps[0].Count != 1 {
			t.Errorf("%s: points %+v, want one measurement", w.name, dps)
			continue
		}
		dp := dps[0]
		values[w.name] = dp.Sum
		if !slices.Equal(dp.Bounds, w.bounds) {
			t.Errorf("%s: bounds %v, want %v", w.name, dp.Bounds, w.bounds)
		}
		if a := attrs(dp.Attributes.ToSlice()); !mapsEqual(a, wantAttrs) {
			t.Errorf("%s: attributes %v, want %v", w.name, a, wantAttrs)
		}
		checkExemplar(t, w.name, dp.Exemplars, s)
	}
	if len(got) != 0 {
		t.Errorf("other metrics recorded: %v", got)
	}

	dur, first, per := values[genai.ServerRequestDurationMetric], values[genai.ServerTimeToFirstTokenMetric], values[genai.ServerTimePerOutputTokenMetric]
	if first < firstWait.Seconds() || first >= dur {
		t.Errorf("time to first token %v s, want in [%v, %v)", first, firstWait.Seconds(), dur)
	}
	// The rest of the duration, divided among the tokens after the first.
	if math.Abs(first+per*(tokens-1)-dur) > 1e-9 || per < gap.Seconds() {
		t.Errorf("time per output token %v s: %v s to first token + %d × it != duration %v s, or below the %v s gap", per, first, tokens-1, dur, gap.Seconds())
	}
}

// checkExemplar checks that the one measurement's exemplar points to span.
func checkExemplar(t *testing.T, name string, ex []metricdata.Exemplar[float64], span sdktrace.ReadOnlySpan) {
	t.Helper()
	sid, tid := span.SpanContext().SpanID(), span.SpanContext().TraceID()
	if len(ex) != 1 || !bytes.Equal(ex[0].SpanID, sid[:]) || !bytes.Equal(ex[0].TraceID, tid[:]) {
		t.Errorf("%s: exemplars %+v, want one of span %s", name, ex, sid)
	}
}

// The server's time to first token and time per output token are for
// successful responses: a failed call records the request duration only, with
// error.type.
func TestServeError(t *testing.T) {
	f := newFixture(t)
	_, call := f.instrumenter().StartServe(t.Context(), genai.Chat{Provider: "openai", Model: "stand-in", Stream: true})
	call.Chunk()
	call.Chunk()
	call.End(errors.New("model overloaded"))

	s := f.Spans.Ended()[0]
	dur, _, ok := f.point(t, genai.ServerRequestDurationMetric)
	if !ok || attrs(dur.Attributes.ToSlice())["error.type"] != "*errors.errorString" {
		t.Errorf("request duration %+v, %v; want one with error.type", dur, ok)
	}
	checkExemplar(t, genai.ServerRequestDurationMetric, dur.Exemplars, s)
	for _, name := range []string{genai.ServerTimeToFirstTokenMetric, genai.ServerTimePerOutputTokenMetric} {
		if p, _, ok := f.point(t, name); ok {
			t.Errorf("%s recorded for a failed call: %+v", name, p)
		}
	}
}

// The tokens after the first are the response's output tokens when it has
// usage, else the chunks; with fewer than two, or no chunk, no time per output
// token.
func TestServeTokens(t *testing.T) {
	for _, tc := range []struct {
		name      string
		chunks    int
		resp      genai.Response
		wantFirst bool
		divisor   int // of the time after the first token; 0: no time per output token
	}{
		{"chunks, no usage", 3, genai.Response{}, true, 2},
		{"usage over chunks", 3, genai.Response{OutputTokens: 9, HasUsage: true}, true, 8},
		{"one token", 3, genai.Response{OutputTokens: 1, HasUsage: true}, true, 0},
		{"one chunk", 1, genai.Response{}, true, 0},
		{"no chunk", 0, genai.Response{OutputTokens: 9, HasUsage: true}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			_, call := f.instrumenter().StartServe(t.Context(), genai.Chat{Provider: "openai", Model: "stand-in"})
			for range tc.chunks {
				time.Sleep(time.Millisecond)
				call.Chunk()
			}
			call.SetResponse(tc.resp)
			call.End(nil)

			dur, _, ok := f.point(t, genai.ServerRequestDurationMetric)
			if !ok {
				t.Fatal("no request duration")
			}
			first, _, ok := f.point(t, genai.ServerTimeToFirstTokenMetric)
			if ok != tc.wantFirst {
				t.Errorf("time to first token recorded: %v, want %v", ok, tc.wantFirst)
			}
			per, _, ok := f.point(t, genai.ServerTimePerOutputTokenMetric)
			if ok != (tc.divisor > 0) {
				t.Fatalf("time per output token recorded: %v, want %v", ok, tc.divisor > 0)
			}
			if ok && math.Abs(first.Sum+per.Sum*float64(tc.divisor)-dur.Sum) > 1e-9 {
				t.Errorf("%v s to first token + %d × %v s per token != duration %v s", first.Sum, tc.divisor, per.Sum, dur.Sum)
			}
		})
	}
}

// One Instrumenter, a client call and a served call: each records into its
// own histograms only, and the served call's usage stays off the token
// metric.
func TestClientAndServerDoNotMix(t *testing.T) {
	f := newFixture(t)
	in := f.instrumenter()
	_, client := in.StartChat(t.Context(), genai.Chat{Provider: "openai", Model: "gpt-4o", Stream: true})
	for range 3 {
		client.Chunk()
	}
	client.SetResponse(genai.Response{InputTokens: 42, OutputTokens: 7, HasUsage: true})
	client.End(nil)
	_, served := in.StartServe(t.Context(), genai.Chat{Provider: "openai", Model: "stand-in"}) // chunks, not Stream
	for range 5 {
		served.Chunk()
	}
	served.SetResponse(genai.Response{InputTokens: 1000, OutputTokens: 500, HasUsage: true})
	served.End(nil)

	counts := map[string]uint64{}
	models := map[string][]string{}
	tokens := map[string]int64{}
	for _, sm := range f.Collect(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					counts[m.Name] += dp.Count
					models[m.Name] = append(models[m.Name], attrs(dp.Attributes.ToSlice())["gen_ai.request.model"])
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					counts[m.Name] += dp.Count
					tokens[attrs(dp.Attributes.ToSlice())["gen_ai.token.type"]] += dp.Sum
				}
			}
		}
	}
	want := map[string]uint64{
		genai.OperationDurationMetric: 1, genai.TimeToFirstChunkMetric: 1, genai.TimePerOutputChunkMetric: 2, genai.TokenUsageMetric: 2,
		genai.ServerRequestDurationMetric: 1, genai.ServerTimeToFirstTokenMetric: 1, genai.ServerTimePerOutputTokenMetric: 1,
	}
	if len(counts) != len(want) {
		t.Errorf("metrics %v, want %v", counts, want)
	}
	for name, n := range want {
		if counts[name] != n {
			t.Errorf("%s: %d measurements, want %d", name, counts[name], n)
		}
	}
	for name, ms := range models {
		wantModel := "gpt-4o"
		if slices.Contains([]string{genai.ServerRequestDurationMetric, genai.ServerTimeToFirstTokenMetric, genai.ServerTimePerOutputTokenMetric}, name) {
			wantModel = "stand-in"
		}
		if !slices.Equal(ms, []string{wantModel}) {
			t.Errorf("%s: models %v, want %s only", name, ms, wantModel)
		}
	}
	if tokens["input"] != 42 || tokens["output"] != 7 {
		t.Errorf("token usage %v, want the client call's only", tokens)
	}

	cs, ss := attrs(f.byName(t, "chat gpt-4o").Attributes()), attrs(f.byName(t, "chat stand-in").Attributes())
	if _, ok := cs[string(genai.ResponseTimeToFirstChunkKey)]; !ok {
		t.Errorf("client span without %s: %v", genai.ResponseTimeToFirstChunkKey, cs)
	}
	if _, ok := ss[string(genai.ResponseTimeToFirstChunkKey)]; ok {
		t.Errorf("served span with %s: %v", genai.ResponseTimeToFirstChunkKey, ss)
	}
	if _, ok := ss[string(genai.RequestStreamKey)]; ok {
		t.Errorf("served span with an inferred %s: %v", genai.RequestStreamKey, ss)
	}
	if ss["gen_ai.usage.input_tokens"] != "1000" || ss["gen_ai.usage.output_tokens"] != "500" {
		t.Errorf("served span usage %v", ss)
	}
}
