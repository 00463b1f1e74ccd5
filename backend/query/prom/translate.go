package prom

import (
	"cmp"
	"encoding/hex"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/otlptranslator"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/loupe-dev/loupe/backend/store"
)

// The translation the OpenTelemetry Go SDK's Prometheus exporter uses by
// default (go.opentelemetry.io/otel/exporters/prometheus v0.69.0): names
// escaped to the classic character set, unit and _total suffixes added.
var (
	metricNamer = otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes)
	labelNamer  = otlptranslator.LabelNamer{UTF8Allowed: false}
)

// Labels added from the resource, as the Collector's Prometheus exporters
// and Prometheus' own OTLP receiver add them.
const (
	jobLabel      = "job"
	instanceLabel = "instance"
	leLabel       = "le"
	quantileLabel = "quantile"
)

// family is the Prometheus type of a translated metric, as /api/v1/metadata
// reports it.
type family struct {
	Type string `json:"type"`
	Help string `json:"help"`
	Unit string `json:"unit"`
}

// promSeries is one Prometheus series made from a store series: float
// samples in vs, or native histogram samples in hs.
type promSeries struct {
	lset      labels.Labels
	ts        []int64 // milliseconds, strictly increasing
	vs        []float64
	hs        []*histogram.FloatHistogram
	exemplars []promExemplar
	// seen indexes exemplars by time, value and label hash: a cumulative
	// series repeats an exemplar on every point until a newer one replaces
	// it, and Prometheus keeps it once.
	seen map[exemplarKey]int
}

type exemplarKey struct {
	t    int64
	v    uint64 // math.Float64bits
	hash uint64 // of the labels
}

type promExemplar struct {
	lset labels.Labels
	v    float64
	t    int64 // milliseconds
}

// metricType is the otlptranslator type of s, chosen as the exporter chooses it.
func metricType(s *store.Series) otlptranslator.MetricType {
	switch s.Type {
	case pmetric.MetricTypeGauge:
		return otlptranslator.MetricTypeGauge
	case pmetric.MetricTypeSum:
		if s.Monotonic {
			return otlptranslator.MetricTypeMonotonicCounter
		}
		return otlptranslator.MetricTypeNonMonotonicCounter
	case pmetric.MetricTypeHistogram, pmetric.MetricTypeExponentialHistogram:
		return otlptranslator.MetricTypeHistogram
	case pmetric.MetricTypeSummary:
		return otlptranslator.MetricTypeSummary
	}
	return otlptranslator.MetricTypeUnknown
}

// promName is the Prometheus name of s, without the _bucket, _sum and _count
// suffixes of histograms and summaries.
func promName(s *store.Series) (string, error) {
	return metricNamer.Build(otlptranslator.Metric{Name: s.Name, Unit: s.Unit, Type: metricType(s)})
}

// familyOf is the Prometheus metadata of s.
func familyOf(s *store.Series) family {
	f := family{Help: s.Description}
	switch metricType(s) {
	case otlptranslator.MetricTypeMonotonicCounter:
		f.Type = "counter"
	case otlptranslator.MetricTypeNonMonotonicCounter, otlptranslator.MetricTypeGauge:
		f.Type = "gauge"
	case otlptranslator.MetricTypeHistogram:
		f.Type = "histogram"
	case otlptranslator.MetricTypeSummary:
		f.Type = "summary"
	default:
		f.Type = "unknown"
	}
	un := otlptranslator.UnitNamer{}
	f.Unit = un.Build(s.Unit)
	return f
}

// baseLabels are the labels every Prometheus series of s carries, besides
// __name__ (and le): the point attributes with their names escaped (values of
// attributes whose names collide are sorted and joined with ";", as the
// exporter does), the scope as otel_scope_name and otel_scope_version, and
// job and instance from the resource. Empty values are left out, as
// Prometheus leaves them out.
func baseLabels(s *store.Series) map[string]string {
	m := make(map[string]string, len(s.Attributes)+4)
	multi := map[string][]string{}
	for _, kv := range s.Attributes {
		name, err := labelNamer.Build(kv.Key)
		if err != nil {
			continue
		}
		multi[name] = append(multi[name], kv.Value.AsString())
	}
	for name, vals := range multi {
		slices.Sort(vals)
		m[name] = strings.Join(vals, ";")
	}
	if s.Scope != nil {
		m[otlptranslator.ScopeNameLabelKey] = s.Scope.Name
		m[otlptranslator.ScopeVersionLabelKey] = s.Scope.Version
	}
	if s.Resource != nil {
		job := s.Resource.ServiceName
		if ns, ok := store.Lookup(s.Resource.Attributes, "service.namespace"); ok && ns.AsString() != "" {
			job = ns.AsString() + "/" + job
		}
		m[jobLabel] = job
		if id, ok := store.Lookup(s.Resource.Attributes, "service.instance.id"); ok {
			m[instanceLabel] = id.AsString()
		}
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

func withLabel(base map[string]string, kv ...string) labels.Labels {
	b := labels.NewScratchBuilder(len(base) + len(kv)/2)
	for k, v := range base {
		b.Add(k, v)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		b.Add(kv[i], kv[i+1])
	}
	b.Sort()
	return b.Labels()
}

// formatLe formats a bucket bound as the Collector's Prometheus exporters do.
func formatLe(b float64) string {
	if math.IsInf(b, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(b, 'f', -1, 64)
}

// seriesNames are the metric names of the Prometheus series that
// labelSets and translate make of s, whose family is name, in no order:
// worked out without labels.
func seriesNames(name string, s *store.Series) []string {
	switch s.Type {
	case pmetric.MetricTypeGauge, pmetric.MetricTypeSum:
		return []string{name}
	case pmetric.MetricTypeHistogram:
		if slices.ContainsFunc(s.Points, bucketed) {
			return []string{name + "_count", name + "_sum", name + "_bucket"}
		}
		return []string{name + "_count", name + "_sum"}
	case pmetric.MetricTypeExponentialHistogram:
		return []string{name, name + "_count", name + "_sum"}
	case pmetric.MetricTypeSummary:
		if slices.ContainsFunc(s.Points, withQuantiles) {
			return []string{name, name + "_count", name + "_sum"}
		}
		return []string{name + "_count", name + "_sum"}
	}
	return nil
}

// bucketed reports whether a histogram point gives bucket series: it was
// recorded, with a count for each bucket its bounds make.
func bucketed(p *store.Point) bool {
	return !p.NoRecorded && len(p.BucketCounts) == len(p.Bounds)+1
}

// withQuantiles reports whether a summary point gives quantile series.
func withQuantiles(p *store.Point) bool { return !p.NoRecorded && len(p.Quantiles) > 0 }

// labelSets are the labels of the Prometheus series translate makes of s,
// worked out without their samples; their names are seriesNames'.
func labelSets(name string, s *store.Series) []labels.Labels {
	base := baseLabels(s)
	switch s.Type {
	case pmetric.MetricTypeGauge, pmetric.MetricTypeSum:
		return []labels.Labels{withLabel(base, model.MetricNameLabel, name)}
	case pmetric.MetricTypeHistogram:
		out := []labels.Labels{
			withLabel(base, model.MetricNameLabel, name+"_count"),
			withLabel(base, model.MetricNameLabel, name+"_sum"),
		}
		seen := map[float64]bool{}
		bucket := func(b float64) {
			if !seen[b] {
				seen[b] = true
				out = append(out, withLabel(base, model.MetricNameLabel, name+"_bucket", leLabel, formatLe(b)))
			}
		}
		for _, p := range s.Points {
			if !bucketed(p) {
				continue
			}
			for _, b := range p.Bounds {
				bucket(b)
			}
			bucket(math.Inf(1))
		}
		return out
	case pmetric.MetricTypeExponentialHistogram:
		return []labels.Labels{
			withLabel(base, model.MetricNameLabel, name),
			withLabel(base, model.MetricNameLabel, name+"_count"),
			withLabel(base, model.MetricNameLabel, name+"_sum"),
		}
	case pmetric.MetricTypeSummary:
		out := []labels.Labels{
			withLabel(base, model.MetricNameLabel, name+"_count"),
			withLabel(base, model.MetricNameLabel, name+"_sum"),
		}
		seen := map[float64]bool{}
		for _, p := range s.Points {
			if !withQuantiles(p) {
				continue
			}
			for _, q := range p.Quantiles {
				if !seen[q.Quantile] {
					seen[q.Quantile] = true
					out = append(out, withLabel(base, model.MetricNameLabel, name, quantileLabel, formatQuantile(q.Quantile)))
				}
			}
		}
		return out
	}
	return nil
}

// formatQuantile formats a summary's quantile as the Collector's Prometheus
// exporters and Prometheus' OTLP receiver do ("0.5", "0.99", "1").
func formatQuantile(q float64) string { return strconv.FormatFloat(q, 'f', -1, 64) }

// translate turns one store series into its Prometheus series, with the
// labels labelSets gives. Delta sums and histograms are accumulated from
// their first point, so that rate() and increase() see a counter; points
// are ordered by time and, for equal times, the last one wins. Points
// flagged "no recorded value" become Prometheus stale markers.
func translate(s *store.Series) []*promSeries {
	name, err := promName(s)
	if err != nil {
		return nil
	}
	base := baseLabels(s)
	pts := slices.Clone(s.Points)
	slices.SortStableFunc(pts, func(a, b *store.Point) int { return cmp.Compare(a.Time, b.Time) })
	delta := s.Temporality == pmetric.AggregationTemporalityDelta
	stale := math.Float64frombits(value.StaleNaN)

	switch s.Type {
	case pmetric.MetricTypeGauge, pmetric.MetricTypeSum:
		out := &promSeries{lset: withLabel(base, model.MetricNameLabel, name)}
		counter := s.Type == pmetric.MetricTypeSum && s.Monotonic
		var total float64
		for i, p := range pts {
			if counter && startsAtZero(pts, i, delta) {
				out.add(p.Start, 0)
			}
			v := p.Value
			switch {
			case p.NoRecorded:
				v = stale
			case delta && s.Type == pmetric.MetricTypeSum:
				total += v
				v = total
			}
			out.add(p.Time, v)
			out.addExemplars(p.Exemplars)
		}
		return []*promSeries{out}

	case pmetric.MetricTypeHistogram:
		return translateHistogram(name, base, pts, delta)

	case pmetric.MetricTypeExponentialHistogram, pmetric.MetricTypeSummary:
		count := &promSeries{lset: withLabel(base, model.MetricNameLabel, name+"_count")}
		sum := &promSeries{lset: withLabel(base, model.MetricNameLabel, name+"_sum")}
		var c, sm float64
		for i, p := range pts {
			if p.NoRecorded {
				count.add(p.Time, stale)
				sum.add(p.Time, stale)
				continue
			}
			if startsAtZero(pts, i, delta) {
				count.add(p.Start, 0)
				sum.add(p.Start, 0)
			}
			if !delta {
				c, sm = 0, 0
			}
			c += float64(p.Count)
			sm += p.Sum
			count.add(p.Time, c)
			sum.add(p.Time, sm)
		}
		out := []*promSeries{count, sum}
		if s.Type == pmetric.MetricTypeSummary {
			out = append(out, translateQuantiles(name, base, pts)...)
		} else {
			out = append(out, translateExponential(name, base, pts, delta))
		}
		slices.SortFunc(out, func(a, b *promSeries) int { return labels.Compare(a.lset, b.lset) })
		return out
	}
	return nil
}

// translateQuantiles makes one series per quantile of a summary, labelled
// quantile="…" under the summary's own name, as the Prometheus client and
// the Collector expose them.
func translateQuantiles(name string, base map[string]string, pts []*store.Point) []*promSeries {
	var out []*promSeries
	byQ := map[float64]*promSeries{}
	stale := math.Float64frombits(value.StaleNaN)
	for _, p := range pts {
		if p.NoRecorded {
			for _, qs := range byQ {
				qs.add(p.Time, stale)
			}
			continue
		}
		for _, q := range p.Quantiles {
			qs := byQ[q.Quantile]
			if qs == nil {
				qs = &promSeries{lset: withLabel(base, model.MetricNameLabel, name, quantileLabel, formatQuantile(q.Quantile))}
				byQ[q.Quantile] = qs
				out = append(out, qs)
			}
			qs.add(p.Time, q.Value)
		}
	}
	return out
}

// translateExponential makes the native histogram series of an exponential
// histogram under its base name, as Prometheus' OTLP receiver stores it and
// the SDK's Prometheus exporter exposes it: the same buckets with indexes
// shifted by one (Prometheus' bucket i is OTel's i-1), scales above 8
// merged down to 8, its own zero threshold and count. Points with a scale
// below -4, which Prometheus cannot represent, are left out (the exporter
// and the receiver refuse them too). Delta points are added up from the
// first, as for explicit histograms.
func translateExponential(name string, base map[string]string, pts []*store.Point, delta bool) *promSeries {
	out := &promSeries{lset: withLabel(base, model.MetricNameLabel, name)}
	var acc *histogram.FloatHistogram
	for i, p := range pts {
		if p.NoRecorded {
			out.addHist(p.Time, &histogram.FloatHistogram{Sum: math.Float64frombits(value.StaleNaN)})
			continue
		}
		h := nativeHistogram(p)
		if h == nil {
			continue
		}
		if startsAtZero(pts, i, delta) {
			out.addHist(p.Start, &histogram.FloatHistogram{CounterResetHint: histogram.CounterReset, Schema: h.Schema, ZeroThreshold: h.ZeroThreshold})
		}
		if delta {
			if acc != nil {
				if sum, _, _, err := acc.Copy().Add(h); err == nil {
					h = sum
				}
			}
			acc = h
		}
		out.addHist(p.Time, h)
		out.addExemplars(p.Exemplars)
	}
	return out
}

// nativeHistogram converts one exponential histogram point, or returns nil
// when its scale is out of Prometheus' range.
func nativeHistogram(p *store.Point) *histogram.FloatHistogram {
	e := p.Exp
	if e == nil || e.Scale < histogram.ExponentialSchemaMin {
		return nil
	}
	scale, down := e.Scale, int32(0)
	if scale > histogram.ExponentialSchemaMax {
		scale, down = histogram.ExponentialSchemaMax, scale-histogram.ExponentialSchemaMax
	}
	h := &histogram.FloatHistogram{
		CounterResetHint: histogram.UnknownCounterReset,
		Schema:           scale,
		ZeroThreshold:    e.ZeroThreshold,
		ZeroCount:        float64(e.ZeroCount),
		Count:            float64(p.Count),
		Sum:              p.Sum,
	}
	h.PositiveSpans, h.PositiveBuckets = nativeBuckets(e.Positive, e.PositiveOffset, down)
	h.NegativeSpans, h.NegativeBuckets = nativeBuckets(e.Negative, e.NegativeOffset, down)
	return h
}

// nativeBuckets turns OTel's dense buckets from offset into Prometheus'
// spans and absolute counts, merging 2^down buckets into one. Empty
// buckets are left out, as gaps between spans.
func nativeBuckets(counts []uint64, offset, down int32) ([]histogram.Span, []float64) {
	var (
		spans   []histogram.Span
		buckets []float64
		last    int32 // index of the last bucket in spans
	)
	for i, n := range counts {
		if n == 0 {
			continue
		}
		idx := (offset+int32(i))>>down + 1 // OTel's bucket i is Prometheus' i+1
		switch {
		case len(spans) > 0 && idx == last:
			buckets[len(buckets)-1] += float64(n)
			continue
		case len(spans) > 0 && idx == last+1:
			spans[len(spans)-1].Length++
		case len(spans) > 0:
			spans = append(spans, histogram.Span{Offset: idx - last - 1, Length: 1})
		default:
			spans = append(spans, histogram.Span{Offset: idx, Length: 1})
		}
		buckets = append(buckets, float64(n))
		last = idx
	}
	return spans, buckets
}

func translateHistogram(name string, base map[string]string, pts []*store.Point, delta bool) []*promSeries {
	count := &promSeries{lset: withLabel(base, model.MetricNameLabel, name+"_count")}
	sum := &promSeries{lset: withLabel(base, model.MetricNameLabel, name+"_sum")}
	out := []*promSeries{count, sum}
	buckets := map[string]*promSeries{} // by le
	bucket := func(le string) *promSeries {
		b := buckets[le]
		if b == nil {
			b = &promSeries{lset: withLabel(base, model.MetricNameLabel, name+"_bucket", leLabel, le)}
			buckets[le] = b
			out = append(out, b)
		}
		return b
	}
	// les are the bucket series of the bounds lesOf saw last, by index, the
	// +Inf one last: the points of a series share their bounds, so the
	// labels are looked up when they change, not for every bucket of every
	// point.
	var (
		lesBounds []float64
		les       []*promSeries
	)
	lesOf := func(bounds []float64) []*promSeries {
		if les == nil || !slices.Equal(lesBounds, bounds) {
			lesBounds, les = bounds, make([]*promSeries, len(bounds)+1)
			for j := range les {
				bound := math.Inf(1)
				if j < len(bounds) {
					bound = bounds[j]
				}
				les[j] = bucket(formatLe(bound))
			}
		}
		return les
	}
	var (
		bounds []float64
		acc    []uint64 // accumulated per-bucket counts of delta points
		c      uint64
		sm     float64
	)
	stale := math.Float64frombits(value.StaleNaN)
	for i, p := range pts {
		if p.NoRecorded {
			count.add(p.Time, stale)
			sum.add(p.Time, stale)
			for _, b := range buckets {
				b.add(p.Time, stale)
			}
			continue
		}
		counts := p.BucketCounts
		if len(counts) != len(p.Bounds)+1 {
			counts = nil // malformed: keep count and sum only
		}
		if startsAtZero(pts, i, delta) {
			count.add(p.Start, 0)
			sum.add(p.Start, 0)
			if len(counts) > 0 {
				for _, b := range lesOf(p.Bounds) {
					b.add(p.Start, 0)
				}
			}
		}
		if delta {
			if !slices.Equal(bounds, p.Bounds) || len(acc) != len(counts) {
				// New bounds start a new counter, as a reset would.
				bounds, acc, c, sm = p.Bounds, make([]uint64, len(counts)), 0, 0
			}
			for i, n := range counts {
				acc[i] += n
			}
			c += p.Count
			sm += p.Sum
			counts = acc
		} else {
			c, sm = p.Count, p.Sum
		}
		count.add(p.Time, float64(c))
		sum.add(p.Time, sm)
		if len(counts) > 0 {
			var cum uint64
			for i, b := range lesOf(p.Bounds) {
				cum += counts[i]
				b.add(p.Time, float64(cum))
			}
		}
		// Each exemplar goes to the bucket that holds its value, as the
		// Prometheus client puts it.
		for _, e := range p.Exemplars {
			i, _ := slices.BinarySearch(p.Bounds, e.Value)
			bound := math.Inf(1)
			if i < len(p.Bounds) {
				bound = p.Bounds[i]
			}
			bucket(formatLe(bound)).addExemplars([]store.Exemplar{e})
		}
	}
	slices.SortFunc(out, func(a, b *promSeries) int { return labels.Compare(a.lset, b.lset) })
	return out
}

// startsAtZero reports whether pts[i] is the first point of a counter's
// run, whose start time therefore holds a zero: the first point of a delta
// series (added up from it), or a cumulative point whose start time differs
// from the previous point's (a new process, or a reset). Prometheus' OTLP
// receiver writes that zero when it ingests created timestamps; without it
// rate() and increase() lose what a new process counted before its first
// export, the whole first minute at the SDKs' default interval. Points
// without a start time before their time have none.
func startsAtZero(pts []*store.Point, i int, delta bool) bool {
	p := pts[i]
	if p.NoRecorded || p.Start <= 0 || p.Start >= p.Time {
		return false
	}
	if i == 0 {
		return true
	}
	return !delta && p.Start != pts[i-1].Start
}

// add adds a float sample at tNanos.
func (ps *promSeries) add(tNanos int64, v float64) { ps.vs = addSample(ps, ps.vs, tNanos, v) }

// addHist adds a native histogram sample, as add adds a float one.
func (ps *promSeries) addHist(tNanos int64, h *histogram.FloatHistogram) {
	ps.hs = addSample(ps, ps.hs, tNanos, h)
}

// addSample appends v at tNanos to ps.ts and vs, the sample column of ps,
// and returns vs: the later sample wins within a millisecond, an earlier one
// is dropped.
func addSample[V any](ps *promSeries, vs []V, tNanos int64, v V) []V {
	t := tNanos / 1e6
	if n := len(ps.ts); n > 0 && ps.ts[n-1] >= t {
		if ps.ts[n-1] == t {
			vs[n-1] = v
		}
		return vs
	}
	ps.ts = append(ps.ts, t)
	return append(vs, v)
}

func (ps *promSeries) addExemplars(es []store.Exemplar) {
	for _, e := range es {
		b := labels.NewScratchBuilder(len(e.Attributes) + 2)
		seen := map[string]bool{}
		if !e.TraceID.IsEmpty() {
			b.Add(otlptranslator.ExemplarTraceIDKey, hex.EncodeToString(e.TraceID[:]))
			seen[otlptranslator.ExemplarTraceIDKey] = true
		}
		if !e.SpanID.IsEmpty() {
			b.Add(otlptranslator.ExemplarSpanIDKey, hex.EncodeToString(e.SpanID[:]))
			seen[otlptranslator.ExemplarSpanIDKey] = true
		}
		for _, kv := range e.Attributes {
			name, err := labelNamer.Build(kv.Key)
			if err != nil || seen[name] {
				continue
			}
			seen[name] = true
			b.Add(name, kv.Value.AsString())
		}
		b.Sort()
		ps.addExemplar(promExemplar{lset: b.Labels(), v: e.Value, t: e.Time / 1e6})
	}
}

// addExemplar adds x unless ps has it already.
func (ps *promSeries) addExemplar(x promExemplar) {
	k := exemplarKey{t: x.t, v: math.Float64bits(x.v), hash: x.lset.Hash()}
	if i, ok := ps.seen[k]; ok && labels.Equal(ps.exemplars[i].lset, x.lset) {
		return
	}
	if ps.seen == nil {
		ps.seen = map[exemplarKey]int{}
	}
	ps.seen[k] = len(ps.exemplars)
	ps.exemplars = append(ps.exemplars, x)
}

// Resource attributes that job and instance stand for.
var jobInstanceAttrs = []string{"service.name", "service.namespace", "service.instance.id"}

// resourceKey identifies a resource by its attributes.
func resourceKey(r *store.Resource) string {
	var b strings.Builder
	b.WriteString(r.ServiceName)
	for _, kv := range r.Attributes {
		b.WriteByte(0)
		b.WriteString(kv.Key)
		b.WriteByte(0)
		b.WriteString(kv.Value.AsString())
	}
	return b.String()
}

// targetInfoSeries is the gauge target_info of a resource, without points.
func targetInfoSeries(r *store.Resource) *store.Series {
	s := &store.Series{Name: otlptranslator.TargetInfoMetricName, Type: pmetric.MetricTypeGauge, Resource: r}
	for _, kv := range r.Attributes {
		if !slices.Contains(jobInstanceAttrs, kv.Key) {
			s.Attributes = append(s.Attributes, kv)
		}
	}
	return s
}

// targetInfo is the target_info series with labels lset: 1 at every time
// one of the series of has a point.
func targetInfo(lset labels.Labels, of []*store.Series) *promSeries {
	var times []int64
	for _, s := range of {
		for _, p := range s.Points {
			times = append(times, p.Time)
		}
	}
	slices.Sort(times)
	out := &promSeries{lset: lset}
	for _, t := range times {
		out.add(t, 1)
	}
	return out
}
