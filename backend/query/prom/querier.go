package prom

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/otlptranslator"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/loupe-dev/loupe/backend/store"
)

// ErrTooManySeries is returned when a selection matches more series than
// the handler's series limit ([WithMaxSeries]), or when a query's time range
// holds more than ten times that many stored series.
var ErrTooManySeries = errors.New("too many series")

// queryable is a [storage.Queryable] over a store: every OpenTelemetry
// series appears under its Prometheus name and labels.
type queryable struct {
	st         store.Reader
	maxSeries  int // most series one selection may match
	scanLimit  int // most store series one querier reads
	maxSamples int // most samples one querier translates
}

// Querier returns a querier over [mint, maxt] (milliseconds, inclusive;
// math.MinInt64 and math.MaxInt64 leave that side open).
func (q *queryable) Querier(mint, maxt int64) (storage.Querier, error) {
	return q.querier(mint, maxt), nil
}

func (q *queryable) querier(mint, maxt int64) *querier {
	return &querier{q: q, mint: mint, maxt: maxt}
}

// querier reads the store once, on its first call, and answers every
// selection of the query from that read. It works out the labels of every
// series it read, and their samples only for series a selection matches.
type querier struct {
	q          *queryable
	mint, maxt int64

	once     sync.Once
	entries  []*entry
	families map[string]family
	warn     annotations.Annotations
	err      error

	mu      sync.Mutex // guards the entries' series and samples
	samples int        // translated so far
}

// entry is one store series, the Prometheus name of its family and, once
// a selection could match them, the labels of the Prometheus series it
// becomes (sets); series holds those series once a selection asked for
// them.
type entry struct {
	src     *store.Series
	name    string
	lsets   []labels.Labels
	labeled bool
	series  []*promSeries
	// of, for a target_info entry, are the series of its resource, whose
	// point times it takes.
	of []*store.Series
}

// sets are the labels of the entry's Prometheus series, worked out on
// first use; the caller holds the querier's mu.
func (e *entry) sets() []labels.Labels {
	if !e.labeled {
		e.lsets, e.labeled = labelSets(e.name, e.src), true
	}
	return e.lsets
}

// translate makes the entry's series.
func (e *entry) translate() []*promSeries {
	if e.of != nil {
		return []*promSeries{targetInfo(e.sets()[0], e.of)}
	}
	return translate(e.src)
}

// reachable returns whether a series of e could satisfy one of the sets
// of matchers (all of them when there are none), judged from the names of
// its series (seriesNames) before any label is worked out: each __name__
// matcher of a set must match one of them. Working out the labels of every
// series read was 40% of a query's CPU on a platform of 2,650 series
// (BENCHMARKS.md).
func (e *entry) reachable(sets [][]*labels.Matcher) bool {
	if len(sets) == 0 {
		return true
	}
	names := seriesNames(e.name, e.src)
	return slices.ContainsFunc(sets, func(ms []*labels.Matcher) bool {
		for _, m := range ms {
			if m.Name == model.MetricNameLabel && !slices.ContainsFunc(names, m.Matches) {
				return false
			}
		}
		return true
	})
}

// load reads the series with a point in the querier's range.
func (q *querier) load(ctx context.Context) error {
	q.once.Do(func() { q.err = q.read(ctx) })
	return q.err
}

func (q *querier) read(ctx context.Context) error {
	limit := q.q.scanLimit
	sq := store.SeriesQuery{Limit: limit + 1}
	if q.mint != math.MinInt64 {
		sq.StartMin = time.UnixMilli(q.mint)
	}
	if q.maxt != math.MaxInt64 {
		sq.StartMax = time.UnixMilli(q.maxt).Add(time.Millisecond - 1)
	}
	q.families = map[string]family{}
	for s, err := range q.q.st.FindSeries(ctx, sq) {
		if err != nil {
			return err
		}
		if len(q.entries) == limit {
			return fmt.Errorf("%w: more than %d stored series have points in the time range; narrow it", ErrTooManySeries, limit)
		}
		name, err := promName(s)
		if err != nil {
			q.warn.Add(fmt.Errorf("loupe: metric %q: %w", s.Name, err))
			continue
		}
		if _, ok := q.families[name]; !ok {
			q.families[name] = familyOf(s)
		}
		q.entries = append(q.entries, &entry{src: s, name: name})
	}
	q.addTargetInfo()
	return nil
}

// addTargetInfo adds a target_info series for each resource, as the
// exporter and the Collector describe a resource: a gauge of 1 whose labels
// are job, instance and the resource's other attributes, present whenever
// one of the resource's series has a point.
func (q *querier) addTargetInfo() {
	byResource := map[string]*entry{}
	n := len(q.entries)
	for _, e := range q.entries[:n] {
		res := e.src.Resource
		if res == nil {
			continue
		}
		key := resourceKey(res)
		ti := byResource[key]
		if ti == nil {
			src := targetInfoSeries(res)
			ti = &entry{src: src, name: otlptranslator.TargetInfoMetricName}
			byResource[key] = ti
			q.entries = append(q.entries, ti)
		}
		ti.of = append(ti.of, e.src)
	}
	if len(byResource) > 0 {
		q.families[otlptranslator.TargetInfoMetricName] = family{Type: "gauge", Help: "Target metadata"}
	}
}

// matches reports whether ls satisfies every matcher.
func matches(ls labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// labelsMatching returns the label sets of the loaded series that satisfy
// any of the sets of matchers (all of them when there are no sets), sorted
// and without duplicates.
func (q *querier) labelsMatching(ctx context.Context, sets ...[]*labels.Matcher) ([]labels.Labels, error) {
	if err := q.load(ctx); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []labels.Labels
	for _, e := range q.entries {
		if !e.reachable(sets) {
			continue
		}
		for _, ls := range e.sets() {
			if len(sets) == 0 || slices.ContainsFunc(sets, func(ms []*labels.Matcher) bool { return matches(ls, ms) }) {
				out = append(out, ls)
			}
		}
	}
	slices.SortFunc(out, labels.Compare)
	return slices.CompactFunc(out, labels.Equal), nil
}

// namesMatching returns the sorted, distinct metric names of the series
// that satisfy any of the sets of matchers (all series when there are
// none), whose matchers all test __name__ (namesOnly): the UI's list of
// metrics, without working out any series' labels.
func (q *querier) namesMatching(ctx context.Context, sets ...[]*labels.Matcher) ([]string, error) {
	if err := q.load(ctx); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range q.entries {
		for _, n := range seriesNames(e.name, e.src) {
			ls := labels.FromStrings(model.MetricNameLabel, n)
			if len(sets) == 0 || slices.ContainsFunc(sets, func(ms []*labels.Matcher) bool { return matches(ls, ms) }) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// namesOnly reports whether every matcher of the sets tests __name__.
func namesOnly(sets [][]*labels.Matcher) bool {
	for _, ms := range sets {
		for _, m := range ms {
			if m.Name != model.MetricNameLabel {
				return false
			}
		}
	}
	return true
}

// seriesMatching returns the series, samples included, that satisfy any of
// the sets of matchers, sorted by labels. Store series that translate to the
// same labels are one Prometheus series (see [merge]): a process restarted
// with the same resource but for attributes that give no label (process.pid,
// or no service.instance.id), or attributes whose escaped names collide.
func (q *querier) seriesMatching(ctx context.Context, sets ...[]*labels.Matcher) ([]*promSeries, error) {
	if err := q.load(ctx); err != nil {
		return nil, err
	}
	match := func(ls labels.Labels) bool {
		return slices.ContainsFunc(sets, func(ms []*labels.Matcher) bool { return matches(ls, ms) })
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*promSeries
	for _, e := range q.entries {
		if !e.reachable(sets) || !slices.ContainsFunc(e.sets(), match) {
			continue
		}
		if e.series == nil {
			e.series = e.translate()
			for _, s := range e.series {
				q.samples += len(s.ts)
			}
			if q.samples > q.q.maxSamples {
				return nil, promql.ErrTooManySamples("reading series")
			}
		}
		for _, s := range e.series {
			if match(s.lset) {
				out = append(out, s)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *promSeries) int { return labels.Compare(a.lset, b.lset) })
	merged := out[:0]
	for i := 0; i < len(out); {
		j := i + 1
		for j < len(out) && labels.Equal(out[i].lset, out[j].lset) {
			j++
		}
		merged = append(merged, merge(out[i:j]))
		i = j
	}
	return merged, nil
}

// merge makes one series of series with the same labels, as Prometheus
// holds the samples of several writers of one series when it accepts them
// out of order: every sample in time order, so that a counter restarted by a
// new process is a counter reset to rate() and increase(). At a time two of
// them share, the first one's sample stays, as Prometheus refuses a second
// sample for a timestamp. Exemplars are those of all, each once.
func merge(same []*promSeries) *promSeries {
	if len(same) == 1 {
		return same[0]
	}
	out := &promSeries{lset: same[0].lset}
	// A float series and a native histogram one under one name (a gauge
	// named as an exponential histogram is) keep both columns, aligned.
	hist := slices.ContainsFunc(same, func(s *promSeries) bool { return s.hs != nil })
	floats := slices.ContainsFunc(same, func(s *promSeries) bool { return s.hs == nil && len(s.ts) > 0 })
	idx := make([]int, len(same)) // the next sample of each
	for {
		next := -1
		for k, s := range same {
			if idx[k] < len(s.ts) && (next < 0 || s.ts[idx[k]] < same[next].ts[idx[next]]) {
				next = k
			}
		}
		if next < 0 {
			break
		}
		s, i := same[next], idx[next]
		idx[next]++
		if n := len(out.ts); n > 0 && out.ts[n-1] == s.ts[i] {
			continue
		}
		out.ts = append(out.ts, s.ts[i])
		var (
			v float64
			h *histogram.FloatHistogram
		)
		if s.hs != nil {
			h = s.hs[i]
		} else {
			v = s.vs[i]
		}
		if hist {
			out.hs = append(out.hs, h)
		}
		if floats || !hist {
			out.vs = append(out.vs, v)
		}
	}
	for _, s := range same {
		for _, x := range s.exemplars {
			out.addExemplar(x)
		}
	}
	return out
}

// Select returns the series matching ms, always sorted.
func (q *querier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	found, err := q.seriesMatching(ctx, ms)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	if len(found) > q.q.maxSeries {
		return storage.ErrSeriesSet(fmt.Errorf("%w: the selection matches %d series, more than the limit of %d", ErrTooManySeries, len(found), q.q.maxSeries))
	}
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = hints.Start, hints.End
	}
	set := make([]storage.Series, 0, len(found))
	for _, s := range found {
		lo, _ := slices.BinarySearch(s.ts, mint)
		hi, found := slices.BinarySearch(s.ts, maxt)
		if found {
			hi++
		}
		samples := make([]chunks.Sample, 0, hi-lo)
		for i := lo; i < hi; i++ {
			if s.hs != nil && s.hs[i] != nil {
				samples = append(samples, hsample{t: s.ts[i], h: s.hs[i]})
			} else {
				samples = append(samples, fsample{t: s.ts[i], f: s.vs[i]})
			}
		}
		set = append(set, storage.NewListSeries(s.lset, samples))
	}
	return &listSet{series: set, idx: -1, warn: q.warn}
}

// LabelValues returns the sorted values of name among the series matching ms.
func (q *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	found, err := q.labelsMatching(ctx, ms)
	if err != nil {
		return nil, nil, err
	}
	out := applyLimit(hints, labelValues(found, name))
	return out, q.warn, nil
}

// LabelNames returns the sorted label names of the series matching ms.
func (q *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	found, err := q.labelsMatching(ctx, ms)
	if err != nil {
		return nil, nil, err
	}
	out := applyLimit(hints, labelNames(found))
	return out, q.warn, nil
}

// applyLimit cuts the sorted values to the hints' limit (0: none), as
// storage.LabelHints.ApplyLimit does from Prometheus v0.316.0 on; v0.315.1 is
// the newest release whose go line (1.26.0) is not above OpenTelemetry's.
func applyLimit(hints *storage.LabelHints, values []string) []string {
	if hints == nil || hints.Limit <= 0 || len(values) <= hints.Limit {
		return values
	}
	return values[:hints.Limit]
}

// Close releases nothing: the querier holds only memory.
func (q *querier) Close() error { return nil }

// labelValues returns the sorted, distinct, non-empty values of name in lsets.
func labelValues(lsets []labels.Labels, name string) []string {
	out := []string{}
	for _, ls := range lsets {
		if v := ls.Get(name); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// labelNames returns the sorted, distinct label names of lsets.
func labelNames(lsets []labels.Labels) []string {
	out := []string{}
	for _, ls := range lsets {
		ls.Range(func(l labels.Label) { out = append(out, l.Name) })
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// fsample is a float sample.
type fsample struct {
	t int64
	f float64
}

func (s fsample) T() int64                      { return s.t }
func (s fsample) ST() int64                     { return 0 }
func (s fsample) F() float64                    { return s.f }
func (s fsample) H() *histogram.Histogram       { return nil }
func (s fsample) FH() *histogram.FloatHistogram { return nil }
func (s fsample) Type() chunkenc.ValueType      { return chunkenc.ValFloat }
func (s fsample) Copy() chunks.Sample           { return s }

// hsample is a native histogram sample. FH returns a copy: the querier
// keeps its series for every selection of the query.
type hsample struct {
	t int64
	h *histogram.FloatHistogram
}

func (s hsample) T() int64                      { return s.t }
func (s hsample) ST() int64                     { return 0 }
func (s hsample) F() float64                    { return 0 }
func (s hsample) H() *histogram.Histogram       { return nil }
func (s hsample) FH() *histogram.FloatHistogram { return s.h.Copy() }
func (s hsample) Type() chunkenc.ValueType      { return chunkenc.ValFloatHistogram }
func (s hsample) Copy() chunks.Sample           { return hsample{t: s.t, h: s.h.Copy()} }

// listSet is a storage.SeriesSet over a slice.
type listSet struct {
	series []storage.Series
	idx    int
	warn   annotations.Annotations
}

func (s *listSet) Next() bool {
	s.idx++
	return s.idx < len(s.series)
}
func (s *listSet) At() storage.Series                { return s.series[s.idx] }
func (s *listSet) Err() error                        { return nil }
func (s *listSet) Warnings() annotations.Annotations { return s.warn }
