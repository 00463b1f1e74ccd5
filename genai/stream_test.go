package genai_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/loupe-dev/loupe/genai"
)

var advisedBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}

// point returns the single data point of the named float64 histogram,
// and false when the metric has no data point.
func (f *fixture) point(t *testing.T, name string) (metricdata.HistogramDataPoint[float64], string, bool) {
	t.Helper()
	m, ok := f.Metrics(t)[name]
	if !ok {
		return metricdata.HistogramDataPoint[float64]{}, "", false
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s is a %T, want a float64 histogram", name, m.Data)
	}
	switch len(h.DataPoints) {
	case 0:
		return metricdata.HistogramDataPoint[float64]{}, m.Unit, false
	case 1:
		return h.DataPoints[0], m.Unit, true
	}
	t.Fatalf("%s: %d data points, want 1", name, len(h.DataPoints))
	return metricdata.HistogramDataPoint[float64]{}, "", false
}

func spanAttr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

func TestStreamingMetrics(t *testing.T) {
	const (
		firstWait = 30 * time.Millisecond
		gap       = 15 * time.Millisecond
	)
	f := newFixture(t)
	in := f.instrumenter()

	before := time.Now()
	_, call := in.StartChat(context.Background(), genai.Chat{
		Provider: "openai", Model: "gpt-4o", ServerAddress: "api.openai.com", ServerPort: 443,
		MaxTokens: 64, ConversationID: "conv-1", Stream: true,
	})
	time.Sleep(firstWait)
	call.Chunk()
	time.Sleep(gap)
	call.Chunk()
	call.Chunk() // right after the previous one
	time.Sleep(gap)
	call.Chunk()
	call.SetResponse(genai.Response{Model: "gpt-4o-2024-08-06"})
	call.End(nil)
	call.Chunk() // after End: ignored
	elapsed := time.Since(before).Seconds()

	want := map[string]string{
		"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
		"server.address": "api.openai.com", "server.port": "443",
	}
	first, unit, ok := f.point(t, genai.TimeToFirstChunkMetric)
	if !ok {
		t.Fatal("no time_to_first_chunk")
	}
	if unit != "s" || first.Count != 1 || !slices.Equal(first.Bounds, advisedBuckets) {
		t.Errorf("time_to_first_chunk: unit %q, count %d, bounds %v", unit, first.Count, first.Bounds)
	}
	if got := attrs(first.Attributes.ToSlice()); !mapsEqual(got, want) {
		t.Errorf("time_to_first_chunk attributes %v, want %v", got, want)
	}
	if first.Sum < firstWait.Seconds() || first.Sum > elapsed-2*gap.Seconds() {
		t.Errorf("time_to_first_chunk %v s, want in [%v, %v]", first.Sum, firstWait.Seconds(), elapsed-2*gap.Seconds())
	}

	per, unit, ok := f.point(t, genai.TimePerOutputChunkMetric)
	if !ok {
		t.Fatal("no time_per_output_chunk")
	}
	if unit != "s" || per.Count != 3 || !slices.Equal(per.Bounds, advisedBuckets) {
		t.Errorf("time_per_output_chunk: unit %q, count %d (want 3), bounds %v", unit, per.Count, per.Bounds)
	}
	if got := attrs(per.Attributes.ToSlice()); !mapsEqual(got, want) {
		t.Errorf("time_per_output_chunk attributes %v, want %v", got, want)
	}
	minV, _ := per.Min.Value()
	maxV, _ := per.Max.Value()
	if minV < 0 || minV >= gap.Seconds() {
		t.Errorf("the back-to-back chunk took %v s, want in [0, %v)", minV, gap.Seconds())
	}
	if maxV < gap.Seconds() || per.Sum < 2*gap.Seconds() {
		t.Errorf("gaps: max %v s, sum %v s; want max >= %v and sum >= %v", maxV, per.Sum, gap.Seconds(), 2*gap.Seconds())
	}
	// The first chunk and the gaps after it fit in the call's duration.
	dur, _, _ := f.point(t, genai.OperationDurationMetric)
	if first.Sum+per.Sum > dur.Sum+1e-9 || dur.Sum > elapsed {
		t.Errorf("first chunk %v s + gaps %v s, duration %v s, elapsed %v s: out of order", first.Sum, per.Sum, dur.Sum, elapsed)
	}

	spans := f.Spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	v, ok := spanAttr(spans[0], genai.ResponseTimeToFirstChunkKey)
	if !ok || v.Type() != attribute.FLOAT64 || v.AsFloat64() != first.Sum {
		t.Errorf("span gen_ai.response.time_to_first_chunk = %v (%v), want the metric's %v", v.String(), ok, first.Sum)
	}
	n := 0
	for _, kv := range spans[0].Attributes() {
		if kv.Key == genai.RequestStreamKey {
			n++
		}
	}
	if n != 1 {
		t.Errorf("gen_ai.request.stream appears %d times, want once", n)
	}
}

func TestNoChunkNoStreamingMetrics(t *testing.T) {
	f := newFixture(t)
	in := f.instrumenter()
	for _, stream := range []bool{false, true} {
		_, call := in.StartChat(context.Background(), genai.Chat{Provider: "openai", Model: "gpt-4o", Stream: stream})
		call.End(nil)
	}
	for _, name := range []string{genai.TimeToFirstChunkMetric, genai.TimePerOutputChunkMetric} {
		if p, _, ok := f.point(t, name); ok {
			t.Errorf("%s recorded without chunks: %+v", name, p)
		}
	}
	for _, s := range f.Spans.Ended() {
		if _, ok := spanAttr(s, genai.ResponseTimeToFirstChunkKey); ok {
			t.Errorf("span %s has gen_ai.response.time_to_first_chunk without chunks", s.Name())
		}
	}
}

// A call that delivers chunks is a streaming call even when Chat.Stream was
// not set: the span says so.
func TestChunkMarksStreaming(t *testing.T) {
	f := newFixture(t)
	in := f.instrumenter()
	_, call := in.StartChat(context.Background(), genai.Chat{Provider: "anthropic", Model: "claude"})
	call.Chunk()
	call.Chunk()
	call.End(nil)
	if p, _, ok := f.point(t, genai.TimePerOutputChunkMetric); !ok || p.Count != 1 {
		t.Errorf("time_per_output_chunk: %+v, %v; want one measurement", p, ok)
	}
	v, ok := spanAttr(f.Spans.Ended()[0], genai.RequestStreamKey)
	if !ok || !v.AsBool() {
		t.Errorf("gen_ai.request.stream = %v, %v; want true", v.String(), ok)
	}
}

func TestChunkConcurrent(t *testing.T) {
	const goroutines, each = 8, 50
	f := newFixture(t)
	in := f.instrumenter()
	_, call := in.StartChat(context.Background(), genai.Chat{Provider: "openai", Model: "gpt-4o", Stream: true})
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				call.Chunk()
			}
		})
	}
	wg.Wait()
	call.End(nil)
	first, _, _ := f.point(t, genai.TimeToFirstChunkMetric)
	per, _, _ := f.point(t, genai.TimePerOutputChunkMetric)
	if first.Count != 1 || per.Count != goroutines*each-1 {
		t.Errorf("counts: first %d, per chunk %d; want 1 and %d", first.Count, per.Count, goroutines*each-1)
	}
	if minV, _ := per.Min.Value(); minV < 0 {
		t.Errorf("negative gap %v", minV)
	}
}

func TestChunkDoesNotAllocate(t *testing.T) {
	for name, start := range map[string]func(*genai.Instrumenter, context.Context, genai.Chat) (context.Context, *genai.Call){
		"chat":  (*genai.Instrumenter).StartChat,
		"serve": (*genai.Instrumenter).StartServe,
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			in := f.instrumenter()
			ctx, root := f.TP.Tracer("test").Start(context.Background(), "root") // sampled: exemplars too
			defer root.End()
			_, call := start(in, ctx, genai.Chat{Provider: "openai", Model: "gpt-4o", Stream: true,
				MetricAttributes: []attribute.KeyValue{attribute.String("project", "demo")}})
			defer call.End(nil)
			call.Chunk()
			if allocs := testing.AllocsPerRun(200, call.Chunk); allocs != 0 {
				t.Errorf("Chunk allocates %v times per call, want 0", allocs)
			}
		})
	}
}

func BenchmarkChunk(b *testing.B) {
	f := newFixture(b)
	_, call := f.instrumenter().StartChat(context.Background(), genai.Chat{Provider: "openai", Model: "gpt-4o", Stream: true})
	defer call.End(nil)
	b.ReportAllocs()
	for b.Loop() {
		call.Chunk()
	}
}
