package prom

import (
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/loupe-dev/loupe/backend/store"
)

// labelSets names exactly the series translate makes, whatever the points.
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
		{Name: "e", Type: pmetric.MetricTypeExponentialHistogram, Points: []*store.Point{pt(1, nil)}},
		{Name: "s", Type: pmetric.MetricTypeSummary},
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
