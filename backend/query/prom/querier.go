package prom

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/loupe-dev/loupe/backend/store"
)

// ErrTooManySeries is returned when a selection matches more series than
// the handler's series limit ([WithMaxSeries]).
var ErrTooManySeries = errors.New("too many series")

// queryable is a [storage.Queryable] over a store: every OpenTelemetry
// series appears under its Prometheus name and labels.
type queryable struct {
	st        store.Reader
	maxSeries int // most series one selection may match
	scanLimit int // most store series one querier reads (10 × maxSeries)
}

// Querier returns a querier over [mint, maxt] (milliseconds, inclusive).
func (q *queryable) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{q: q, mint: mint, maxt: maxt}, nil
}

// querier reads the store once, on its first call, and answers every
// selection of the query from that read.
type querier struct {
	q          *queryable
	mint, maxt int64

	once     sync.Once
	series   []*promSeries
	families map[string]family
	warn     annotations.Annotations
	err      error
}

// load reads and translates the series with a point in the querier's range.
func (q *querier) load(ctx context.Context) error {
	q.once.Do(func() {
		q.series, q.families, q.warn, q.err = load(ctx, q.q.st, q.mint, q.maxt, q.q.scanLimit)
	})
	return q.err
}

func load(ctx context.Context, st store.Reader, mint, maxt int64, limit int) ([]*promSeries, map[string]family, annotations.Annotations, error) {
	// math.MinInt64 and math.MaxInt64 leave that side of the range open.
	sq := store.SeriesQuery{Limit: limit + 1}
	if mint != math.MinInt64 {
		sq.StartMin = time.UnixMilli(mint)
	}
	if maxt != math.MaxInt64 {
		sq.StartMax = time.UnixMilli(maxt).Add(time.Millisecond - 1)
	}
	var (
		out      []*promSeries
		families = map[string]family{}
		warn     annotations.Annotations
		n        int
	)
	for s, err := range st.FindSeries(ctx, sq) {
		if err != nil {
			return nil, nil, nil, err
		}
		if n++; n > limit {
			return nil, nil, nil, fmt.Errorf("%w: more than %d stored series have points in the time range; narrow it", ErrTooManySeries, limit)
		}
		ps, err := translate(s)
		if err != nil {
			warn.Add(fmt.Errorf("loupe: metric %q: %w", s.Name, err))
			continue
		}
		if name, err := promName(s); err == nil {
			if _, ok := families[name]; !ok {
				families[name] = familyOf(s)
			}
		}
		out = append(out, ps...)
	}
	slices.SortFunc(out, func(a, b *promSeries) int { return labels.Compare(a.lset, b.lset) })
	// Two store series may translate to the same labels (attributes whose
	// escaped names collide across series); keep the first.
	out = slices.CompactFunc(out, func(a, b *promSeries) bool { return labels.Equal(a.lset, b.lset) })
	return out, families, warn, nil
}

// matching returns the loaded series that satisfy every matcher, sorted by labels.
func (q *querier) matching(ctx context.Context, ms []*labels.Matcher) ([]*promSeries, error) {
	if err := q.load(ctx); err != nil {
		return nil, err
	}
	var out []*promSeries
	for _, s := range q.series {
		if matches(s.lset, ms) {
			out = append(out, s)
		}
	}
	return out, nil
}

func matches(ls labels.Labels, ms []*labels.Matcher) bool {
	for _, m := range ms {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// Select returns the series matching ms, always sorted.
func (q *querier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	found, err := q.matching(ctx, ms)
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
			samples = append(samples, fsample{t: s.ts[i], f: s.vs[i]})
		}
		set = append(set, storage.NewListSeries(s.lset, samples))
	}
	return &listSet{series: set, idx: -1, warn: q.warn}
}

// LabelValues returns the sorted values of name among the series matching ms.
func (q *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	found, err := q.matching(ctx, ms)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for _, s := range found {
		if v := s.lset.Get(name); v != "" {
			seen[v] = true
		}
	}
	out := sortedKeys(seen)
	out, _ = hints.ApplyLimit(out)
	return out, q.warn, nil
}

// LabelNames returns the sorted label names of the series matching ms.
func (q *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	found, err := q.matching(ctx, ms)
	if err != nil {
		return nil, nil, err
	}
	seen := map[string]bool{}
	for _, s := range found {
		s.lset.Range(func(l labels.Label) { seen[l.Name] = true })
	}
	out := sortedKeys(seen)
	out, _ = hints.ApplyLimit(out)
	return out, q.warn, nil
}

// Close releases nothing: the querier holds only memory.
func (q *querier) Close() error { return nil }

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
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
