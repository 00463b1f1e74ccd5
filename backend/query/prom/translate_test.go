package prom

import (
	"math"
	"slices"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/loupe-dev/loupe/backend/store"
)

// labelSets names exactly the series translate makes, whatever the points,
// under the names seriesNames gives (reachable relies on them).
func TestLabelSetsMatchTranslate(t *testing.T) {
	res := &store.Resource{ServiceName: "svc", Attributes: []store.KeyValue{{Key: "service.name", Value: store.StrValue("svc")}}}
	pt := func(tm int64, bounds []float64, counts ...uint64) *store.Point {
		return &store.Point{Time: tm * 1e9, Bounds: bounds, BucketCounts: counts, Count: 3, Sum: 1}
	}
	for _, s := range []*store.Series{
		{Name: "g", Type: pmetric.MetricTypeGauge, Resource: res, Points: []*store.Point{{Time: 1e9, Value: 1}}},
		{Name: "c", Unit: "s", Type: pmetric.MetricTypeSum, Monotonic: true, Temporality: pmetric.AggregationTemporalityDelta,
			Attributes: []store.KeyValue{{Key: "a.b", Value: store.StrValue("x")}, {Key: "a_b", Value: store.IntValue(2)}}},
		{Name: "h", Unit: "ms", Type: pmetric.MetricTypeHistogram, Temporality: pmetric.AggregationTemporalityDelta, Points: []*store.Point{
			pt(1, []float64{1, 2}, 1, 1, 1),
			pt(2, []float64{1, 5}, 1, 1, 1), // new bounds
			pt(3, []float64{1}, 1, 1, 1),    // malformed: no buckets
			{Time: 5e9, NoRecorded: true},
		}},
		{Name: "h2", Type: pmetric.MetricTypeHistogram, Points: []*store.Point{
			pt(4, []float64{math.Inf(1)}, 1, 2), // +Inf written as a bound
		}},
		{Name: "h3", Type: pmetric.MetricTypeHistogram, Points: []*store.Point{
			pt(1, []float64{1}, 1), // malformed only: no bucket series
		}},
		{Name: "e", Type: pmetric.MetricTypeExponentialHistogram, Points: []*store.Point{pt(1, nil)}},
		{Name: "e2", Type: pmetric.MetricTypeExponentialHistogram, Temporality: pmetric.AggregationTemporalityDelta, Points: []*store.Point{
			{Time: 1e9, Count: 2, Exp: &store.ExpBuckets{Scale: 10, Positive: []uint64{1, 1}}},
			{Time: 2e9, Count: 1, Exp: &store.ExpBuckets{Scale: -5, Positive: []uint64{1}}}, // below Prometheus' range
			{Time: 3e9, NoRecorded: true},
		}},
		{Name: "s", Type: pmetric.MetricTypeSummary},
		{Name: "s2", Type: pmetric.MetricTypeSummary, Points: []*store.Point{
			{Time: 1e9, Quantiles: []store.Quantile{{Quantile: 0.5, Value: 1}, {Quantile: 0.99, Value: 2}}},
			{Time: 2e9, Quantiles: []store.Quantile{{Quantile: 0.5, Value: 1}, {Quantile: 1, Value: 3}}},
			{Time: 3e9, NoRecorded: true},
		}},
	} {
		name, err := promName(s)
		if err != nil {
			t.Fatal(err)
		}
		want := labelSets(name, s)
		var got []labels.Labels
		for _, ps := range translate(s) {
			got = append(got, ps.lset)
			for i := 1; i < len(ps.ts); i++ {
				if ps.ts[i] <= ps.ts[i-1] {
					t.Errorf("%s: times not increasing: %v", ps.lset, ps.ts)
				}
			}
		}
		if !sameSets(got, want) {
			t.Errorf("%s: translate gives\n%v\nlabelSets gives\n%v", s.Name, got, want)
		}
		var names []string
		for _, ls := range want {
			names = append(names, ls.Get(model.MetricNameLabel))
		}
		slices.Sort(names)
		names = slices.Compact(names)
		if got := slices.Sorted(slices.Values(seriesNames(name, s))); !slices.Equal(got, names) {
			t.Errorf("%s: seriesNames %q, labelSets' names %q", s.Name, got, names)
		}
	}
}

func sameSets(a, b []labels.Labels) bool {
	in := func(x labels.Labels, s []labels.Labels) bool {
		for _, y := range s {
			if labels.Equal(x, y) {
				return true
			}
		}
		return false
	}
	for _, x := range a {
		if !in(x, b) {
			return false
		}
	}
	for _, x := range b {
		if !in(x, a) {
			return false
		}
	}
	return true
}

// nativeBuckets shifts OTel's bucket indexes by one, merges 2^down
// buckets, and leaves empty buckets out as gaps.
func TestNativeBuckets(t *testing.T) {
	cases := []struct {
		counts  []uint64
		offset  int32
		down    int32
		spans   []histogram.Span
		buckets []float64
	}{
		{nil, 0, 0, nil, nil},
		{[]uint64{1, 2, 0, 0, 3}, -1, 0, []histogram.Span{{Offset: 0, Length: 2}, {Offset: 2, Length: 1}}, []float64{1, 2, 3}},
		// OTel indexes 3..8 at scale s+1 are 1,2,2,3,3,4 at scale s.
		{[]uint64{1, 1, 1, 1, 1, 1}, 3, 1, []histogram.Span{{Offset: 2, Length: 4}}, []float64{1, 2, 2, 1}},
		// Negative indexes round down: -3..-1 become -2,-1,-1.
		{[]uint64{5, 1, 1}, -3, 1, []histogram.Span{{Offset: -1, Length: 2}}, []float64{5, 2}},
	}
	for _, c := range cases {
		spans, buckets := nativeBuckets(c.counts, c.offset, c.down)
		if !slices.Equal(spans, c.spans) || !slices.Equal(buckets, c.buckets) {
			t.Errorf("nativeBuckets(%v, %d, %d) = %v %v, want %v %v", c.counts, c.offset, c.down, spans, buckets, c.spans, c.buckets)
		}
	}
	// A converted point is a valid Prometheus histogram.
	h := nativeHistogram(&store.Point{Count: 9, Sum: 3, Exp: &store.ExpBuckets{Scale: 12, ZeroCount: 1, ZeroThreshold: 1e-9,
		PositiveOffset: -40, Positive: []uint64{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3},
		NegativeOffset: 7, Negative: []uint64{2}}})
	if err := h.Validate(); err != nil || h.Schema != 8 {
		t.Errorf("%v: %v", h, err)
	}
}
