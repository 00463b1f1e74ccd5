package memstore

import (
	"cmp"
	"context"
	"encoding/binary"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/store"
)

// Defaults of [New].
const (
	DefaultMaxBytes  = 256 << 20 // 256 MiB
	DefaultRetention = 24 * time.Hour
)

// indexOverhead is the bytes accounted per stored item for the index entries
// that point to it (a pointer in a trace, series or log index, amortised map
// entries).
const indexOverhead = 32

type config struct {
	maxBytes  int64
	retention time.Duration
	now       func() time.Time
}

// Option configures a Store.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMaxBytes bounds the accounted size of the stored data. Zero or less
// means DefaultMaxBytes.
func WithMaxBytes(n int64) Option { return optionFunc(func(c *config) { c.maxBytes = n }) }

// WithRetention drops data received longer ago than d. Zero or less means
// DefaultRetention.
func WithRetention(d time.Duration) Option {
	return optionFunc(func(c *config) { c.retention = d })
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) { c.now = now })
}

// Store is the in-memory store. It is safe for concurrent use.
type Store struct {
	cfg config

	mu       sync.RWMutex
	closed   bool
	batches  []*batch // arrival order, oldest first
	bytes    int64
	traces   map[store.TraceID]*traceEntry
	services map[string]*serviceEntry
	logsByTr map[store.TraceID][]*store.LogRecord
	series   map[string]*seriesEntry
}

type batch struct {
	received int64
	bytes    int64
	// Span start times of the batch (minStart, maxStart) and the latest
	// span start of this batch and every older one when it was stored
	// (startBound): eviction only removes older batches, so it stays an
	// upper bound. services lists the batch's distinct service names.
	// FindTraces uses them to skip batches and to stop early.
	minStart, maxStart, startBound int64
	services                       []string
	spans                          []store.Span
	logs                           []store.LogRecord
	points                         []store.SeriesPoint
	keys                           []string // series key of each point
}

type traceEntry struct {
	spans []*store.Span // arrival order
	// start is the earliest start of the trace's spans, or, once eviction
	// has removed some (stale), at most that: searches recompute it then.
	start int64
	stale bool
}

type opKey struct {
	name string
	kind ptrace.SpanKind
}

type serviceEntry struct {
	spans int
	ops   map[opKey]int
}

type seriesEntry struct {
	desc   *store.Series // Points unused
	points []*store.Point
}

var _ store.Store = (*Store)(nil)

// New returns an empty store. Defaults: DefaultMaxBytes, DefaultRetention,
// time.Now.
func New(opts ...Option) *Store {
	cfg := config{}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.maxBytes <= 0 {
		cfg.maxBytes = DefaultMaxBytes
	}
	if cfg.retention <= 0 {
		cfg.retention = DefaultRetention
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	return &Store{
		cfg:      cfg,
		traces:   map[store.TraceID]*traceEntry{},
		services: map[string]*serviceEntry{},
		logsByTr: map[store.TraceID][]*store.LogRecord{},
		series:   map[string]*seriesEntry{},
	}
}

// Bytes is the accounted size of what the store holds.
func (s *Store) Bytes() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.bytes
}

// Close drops everything. Later calls return store.ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	s.closed = true
	s.batches, s.traces, s.services, s.logsByTr, s.series = nil, nil, nil, nil, nil
	s.bytes = 0
	return nil
}

// WriteTraces stores the valid spans of td.
func (s *Store) WriteTraces(ctx context.Context, td ptrace.Traces) (store.WriteResult, error) {
	return s.write(ctx, store.FromTraces(td))
}

// WriteLogs stores ld.
func (s *Store) WriteLogs(ctx context.Context, ld plog.Logs) (store.WriteResult, error) {
	return s.write(ctx, store.FromLogs(ld))
}

// WriteMetrics stores the valid points of md.
func (s *Store) WriteMetrics(ctx context.Context, md pmetric.Metrics) (store.WriteResult, error) {
	return s.write(ctx, store.FromMetrics(md))
}

// Size is what c counts against the size bound once stored: a store keeps
// the newest writes whose sizes sum to at most the bound. A write of size
// 0 (nothing to store) or above the bound is not stored.
func Size(c store.Converted) int64 {
	n := len(c.Spans) + len(c.Logs) + len(c.Points)
	if n == 0 {
		return 0
	}
	return c.Bytes + int64(n)*indexOverhead
}

// Write stores what store.FromTraces, FromLogs or FromMetrics converted,
// for a writer that converts elsewhere: diskstore's replay converts its
// records in parallel and stores them here in order. c must not be used
// afterwards.
func (s *Store) Write(ctx context.Context, c store.Converted) (store.WriteResult, error) {
	return s.write(ctx, c)
}

func (s *Store) write(ctx context.Context, c store.Converted) (store.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return store.WriteResult{}, err
	}
	n := len(c.Spans) + len(c.Logs) + len(c.Points)
	if n == 0 {
		return c.Result, s.checkOpen()
	}
	b := &batch{bytes: Size(c), spans: c.Spans, logs: c.Logs, points: c.Points}
	if b.bytes > s.cfg.maxBytes {
		return store.WriteResult{}, store.ErrTooLarge
	}
	if len(c.Points) > 0 {
		b.keys = make([]string, len(c.Points))
		for i := range c.Points {
			sp := &c.Points[i]
			b.keys[i] = store.SeriesKey(sp.Series.Name, sp.Series.Resource, sp.Series.Scope, sp.Series.Attributes)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.WriteResult{}, store.ErrClosed
	}
	b.received = s.cfg.now().UnixNano()
	if len(b.spans) > 0 {
		b.summarize()
		if n := len(s.batches); n > 0 {
			b.startBound = max(b.startBound, s.batches[n-1].startBound)
		}
	} else if n := len(s.batches); n > 0 {
		b.startBound = s.batches[n-1].startBound
	}
	s.batches = append(s.batches, b)
	s.bytes += b.bytes
	s.indexSpans(b.spans)
	for i := range b.logs {
		r := &b.logs[i]
		if !r.TraceID.IsEmpty() {
			s.logsByTr[r.TraceID] = append(s.logsByTr[r.TraceID], r)
		}
	}
	for i := range b.points {
		sp := &b.points[i]
		e := s.series[b.keys[i]]
		if e == nil {
			e = &seriesEntry{}
			s.series[b.keys[i]] = e
		}
		e.desc = sp.Series // the latest description; older ones can go
		e.points = append(e.points, &sp.Point)
	}
	s.evictLocked(b.received)
	return c.Result, nil
}

// summarize fills the span summary of b (which has spans).
func (b *batch) summarize() {
	b.minStart, b.maxStart = b.spans[0].Start, b.spans[0].Start
	var last *store.Resource
	for i := range b.spans {
		sp := &b.spans[i]
		b.minStart, b.maxStart = min(b.minStart, sp.Start), max(b.maxStart, sp.Start)
		if sp.Resource != last { // spans of one resource are adjacent
			last = sp.Resource
			if !slices.Contains(b.services, last.ServiceName) {
				b.services = append(b.services, last.ServiceName)
			}
		}
	}
	b.startBound = b.maxStart
}

func (s *Store) checkOpen() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return store.ErrClosed
	}
	return nil
}

// indexSpans indexes the spans of a batch. Spans of one trace and of one
// resource usually arrive adjacent: each run of them costs one lookup, and
// a trace's span list grows once per run.
func (s *Store) indexSpans(spans []store.Span) {
	var (
		res *store.Resource
		svc *serviceEntry
	)
	for i := 0; i < len(spans); {
		id := spans[i].TraceID
		j := i + 1
		for j < len(spans) && spans[j].TraceID == id {
			j++
		}
		t := s.traces[id]
		if t == nil {
			t = &traceEntry{start: spans[i].Start, spans: make([]*store.Span, 0, j-i)}
			s.traces[id] = t
		} else {
			t.spans = slices.Grow(t.spans, j-i)
		}
		for k := i; k < j; k++ {
			sp := &spans[k]
			t.spans = append(t.spans, sp)
			t.start = min(t.start, sp.Start)
			if sp.Resource != res {
				res = sp.Resource
				svc = s.services[res.ServiceName]
				if svc == nil {
					svc = &serviceEntry{ops: map[opKey]int{}}
					s.services[res.ServiceName] = svc
				}
			}
			svc.spans++
			svc.ops[opKey{sp.Name, sp.Kind}]++
		}
		i = j
	}
}

// evictLocked drops the oldest batches while a bound is exceeded.
func (s *Store) evictLocked(now int64) {
	cutoff := now - int64(s.cfg.retention)
	for len(s.batches) > 0 {
		b := s.batches[0]
		if s.bytes <= s.cfg.maxBytes && b.received >= cutoff {
			return
		}
		s.dropOldest()
	}
}

// dropOldest removes the oldest batch. Each index list is in arrival order,
// so the batch's items are at the front of their lists.
func (s *Store) dropOldest() {
	b := s.batches[0]
	s.batches[0] = nil
	s.batches = s.batches[1:]
	s.bytes -= b.bytes
	for i := range b.spans {
		sp := &b.spans[i]
		t := s.traces[sp.TraceID]
		t.spans[0] = nil // let the batch's memory go
		t.spans = t.spans[1:]
		if len(t.spans) == 0 {
			delete(s.traces, sp.TraceID)
		} else {
			// Finding the new start would scan the trace for every batch
			// evicted, quadratic in a long trace's span count.
			t.stale = true
		}
		svc := s.services[sp.Resource.ServiceName]
		svc.spans--
		k := opKey{sp.Name, sp.Kind}
		if svc.ops[k]--; svc.ops[k] == 0 {
			delete(svc.ops, k)
		}
		if svc.spans == 0 {
			delete(s.services, sp.Resource.ServiceName)
		}
	}
	for i := range b.logs {
		r := &b.logs[i]
		if r.TraceID.IsEmpty() {
			continue
		}
		l := s.logsByTr[r.TraceID]
		l[0] = nil
		if l = l[1:]; len(l) == 0 {
			delete(s.logsByTr, r.TraceID)
		} else {
			s.logsByTr[r.TraceID] = l
		}
	}
	for i := range b.points {
		e := s.series[b.keys[i]]
		e.points[0] = nil
		if e.points = e.points[1:]; len(e.points) == 0 {
			delete(s.series, b.keys[i])
		}
	}
}

// rlock checks ctx, then takes the read lock after dropping expired batches, so that age is
// enforced even when nothing is written.
func (s *Store) rlock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.cfg.now().UnixNano()
	cutoff := now - int64(s.cfg.retention)
	s.mu.RLock()
	expired := len(s.batches) > 0 && s.batches[0].received < cutoff
	if !expired {
		if s.closed {
			s.mu.RUnlock()
			return store.ErrClosed
		}
		return nil
	}
	s.mu.RUnlock()
	s.mu.Lock()
	if !s.closed {
		s.evictLocked(now)
	}
	s.mu.Unlock()
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return store.ErrClosed
	}
	return nil
}

// Trace returns one trace's spans, sorted by start time.
func (s *Store) Trace(ctx context.Context, id store.TraceID) (store.Trace, error) {
	if err := s.rlock(ctx); err != nil {
		return store.Trace{}, err
	}
	t := s.traces[id]
	var spans []*store.Span
	if t != nil {
		spans = slices.Clone(t.spans)
	}
	s.mu.RUnlock()
	if spans == nil {
		return store.Trace{}, store.ErrNotFound
	}
	sortSpans(spans)
	return store.Trace{ID: id, Spans: spans}, nil
}

func sortSpans(spans []*store.Span) {
	slices.SortStableFunc(spans, func(a, b *store.Span) int {
		if c := cmp.Compare(a.Start, b.Start); c != 0 {
			return c
		}
		return slices.Compare(a.SpanID[:], b.SpanID[:])
	})
}

// compareIDs orders trace ids without slicing them (which would make the
// sort allocate on every comparison).
func compareIDs(a, b store.TraceID) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}

func limitOf(n int) int {
	if n <= 0 {
		return store.DefaultLimit
	}
	return n
}

type hit struct {
	id    store.TraceID
	start int64
}

// before reports whether a ranks before b: more recent start first, then
// by id.
func (a hit) before(b hit) bool {
	if a.start != b.start {
		return a.start > b.start
	}
	return compareIDs(a.id, b.id) < 0
}

// ranked is a search hit that ranks against the others of its search.
type ranked[T any] interface {
	before(T) bool // ranks before (is better than) the other
}

// topK keeps the max best-ranked hits in a heap whose root is the worst of
// them, so a search costs O(n log max) and holds max hits rather than
// sorting all of them.
type topK[T ranked[T]] struct {
	max int
	h   []T
}

// wants reports whether x could enter the results.
func (t *topK[T]) wants(x T) bool {
	return len(t.h) < t.max || x.before(t.h[0])
}

func (t *topK[T]) add(x T) {
	if len(t.h) < t.max {
		t.h = append(t.h, x)
		for i := len(t.h) - 1; i > 0; { // sift up
			p := (i - 1) / 2
			if !t.h[p].before(t.h[i]) {
				break
			}
			t.h[p], t.h[i] = t.h[i], t.h[p]
			i = p
		}
		return
	}
	if !x.before(t.h[0]) {
		return
	}
	t.h[0] = x
	for i := 0; ; { // sift down: the root is the worst-ranked
		worst, l, r := i, 2*i+1, 2*i+2
		if l < len(t.h) && t.h[worst].before(t.h[l]) {
			worst = l
		}
		if r < len(t.h) && t.h[worst].before(t.h[r]) {
			worst = r
		}
		if worst == i {
			return
		}
		t.h[i], t.h[worst] = t.h[worst], t.h[i]
		i = worst
	}
}

// sorted returns the kept hits, best first.
func (t *topK[T]) sorted() []T {
	slices.SortFunc(t.h, func(a, b T) int {
		if a.before(b) {
			return -1
		}
		if b.before(a) {
			return 1
		}
		return 0
	})
	return t.h
}

// FindTraces yields matching traces, most recent start first.
func (s *Store) FindTraces(ctx context.Context, q store.TraceQuery) iter.Seq2[store.Trace, error] {
	return func(yield func(store.Trace, error) bool) {
		if err := s.rlock(ctx); err != nil {
			yield(store.Trace{}, err)
			return
		}
		limit := limitOf(q.Limit)
		top := topK[hit]{max: limit}
		startMin, startMax := int64(0), int64(0)
		if !q.StartMin.IsZero() {
			startMin = q.StartMin.UnixNano()
		}
		if !q.StartMax.IsZero() {
			startMax = q.StartMax.UnixNano()
		}
		// A trace ranks by its start, which is at most the start of any of
		// its spans. Walking the batches newest first, the search stops once
		// no span of the older batches could start late enough to enter the
		// results; a batch with no span of the service or none in the time
		// range is skipped whole.
		added := map[store.TraceID]bool{}
		var starts map[*traceEntry]int64 // of stale traces, computed once per search
		for i := len(s.batches) - 1; i >= 0; i-- {
			b := s.batches[i]
			if len(top.h) == top.max && top.h[0].start > b.startBound {
				break
			}
			if len(b.spans) == 0 || startMax != 0 && b.minStart > startMax || startMin != 0 && b.maxStart < startMin ||
				q.Service != "" && !slices.Contains(b.services, q.Service) {
				continue
			}
			for j := range b.spans {
				sp := &b.spans[j]
				if added[sp.TraceID] || !store.MatchSpan(sp, &q) {
					continue
				}
				t := s.traces[sp.TraceID]
				start := t.start
				if t.stale {
					var ok bool
					if start, ok = starts[t]; !ok {
						start = earliestStart(t.spans)
						if starts == nil {
							starts = map[*traceEntry]int64{}
						}
						starts[t] = start
					}
				}
				if h := (hit{sp.TraceID, start}); top.wants(h) {
					top.add(h)
					added[sp.TraceID] = true
				}
			}
		}
		hits := top.sorted()
		out := make([]store.Trace, len(hits))
		for i, h := range hits {
			out[i] = store.Trace{ID: h.id, Spans: slices.Clone(s.traces[h.id].spans)}
		}
		s.mu.RUnlock()
		for _, t := range out {
			sortSpans(t.Spans)
			if !yield(t, nil) {
				return
			}
		}
	}
}

// earliestStart is the earliest start of spans (not empty).
func earliestStart(spans []*store.Span) int64 {
	start := spans[0].Start
	for _, sp := range spans[1:] {
		start = min(start, sp.Start)
	}
	return start
}

// Services lists service names, sorted.
func (s *Store) Services(ctx context.Context) ([]string, error) {
	if err := s.rlock(ctx); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(s.services))
	for name := range s.services {
		out = append(out, name)
	}
	s.mu.RUnlock()
	slices.Sort(out)
	return out, nil
}

// Operations lists a service's operations, sorted by name then kind.
func (s *Store) Operations(ctx context.Context, q store.OperationQuery) ([]store.Operation, error) {
	if err := s.rlock(ctx); err != nil {
		return nil, err
	}
	seen := map[opKey]bool{}
	for name, svc := range s.services {
		if q.Service != "" && name != q.Service {
			continue
		}
		for k := range svc.ops {
			if q.Kind == ptrace.SpanKindUnspecified || k.kind == q.Kind {
				seen[k] = true
			}
		}
	}
	s.mu.RUnlock()
	out := make([]store.Operation, 0, len(seen))
	for k := range seen {
		out = append(out, store.Operation{Name: k.name, Kind: k.kind})
	}
	slices.SortFunc(out, func(a, b store.Operation) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return cmp.Compare(a.Kind, b.Kind)
	})
	return out, nil
}

// FindLogs yields matching log records, newest first (by record time, then
// arrival).
func (s *Store) FindLogs(ctx context.Context, q store.LogQuery) iter.Seq2[*store.LogRecord, error] {
	return func(yield func(*store.LogRecord, error) bool) {
		if err := s.rlock(ctx); err != nil {
			yield(nil, err)
			return
		}
		text := store.NewLogText(q.Text)
		// Newest arrival first: records mostly arrive in time order, so
		// that most of them rank below the kept ones and cost one
		// comparison.
		top := topK[logHit]{max: limitOf(q.Limit)}
		age := 0
		match := func(r *store.LogRecord) {
			if age++; store.MatchLog(r, &q, &text) {
				if h := (logHit{r, age}); top.wants(h) {
					top.add(h)
				}
			}
		}
		if !q.TraceID.IsEmpty() {
			l := s.logsByTr[q.TraceID]
			for i := len(l) - 1; i >= 0; i-- {
				match(l[i])
			}
		} else {
			for i := len(s.batches) - 1; i >= 0; i-- {
				b := s.batches[i]
				for j := len(b.logs) - 1; j >= 0; j-- {
					match(&b.logs[j])
				}
			}
		}
		s.mu.RUnlock()
		for _, h := range top.sorted() {
			if !yield(h.r, nil) {
				return
			}
		}
	}
}

// logHit is a matching record and its age: 1 for the newest arrival, 2
// for the one before, and so on.
type logHit struct {
	r   *store.LogRecord
	age int
}

// before ranks the newer record first, by time, then by arrival.
func (a logHit) before(b logHit) bool {
	if a.r.Time != b.r.Time {
		return a.r.Time > b.r.Time
	}
	return a.age < b.age
}

// FindSeries yields matching series with their points in q's range.
func (s *Store) FindSeries(ctx context.Context, q store.SeriesQuery) iter.Seq2[*store.Series, error] {
	return func(yield func(*store.Series, error) bool) {
		if err := s.rlock(ctx); err != nil {
			yield(nil, err)
			return
		}
		type hit struct {
			key string
			s   *store.Series
		}
		var hits []hit
		lo, hi := store.NanoBounds(q.StartMin, q.StartMax)
		for key, e := range s.series {
			if !store.MatchSeries(e.desc, &q) {
				continue
			}
			n := 0
			for _, p := range e.points {
				if p.Time >= lo && p.Time <= hi {
					n++
				}
			}
			if n == 0 {
				continue
			}
			pts := make([]*store.Point, 0, n)
			for _, p := range e.points {
				if p.Time >= lo && p.Time <= hi {
					pts = append(pts, p)
				}
			}
			cp := *e.desc
			cp.Points = pts
			hits = append(hits, hit{key, &cp})
		}
		s.mu.RUnlock()
		slices.SortFunc(hits, func(a, b hit) int { return strings.Compare(a.key, b.key) })
		if l := limitOf(q.Limit); len(hits) > l {
			hits = hits[:l]
		}
		for _, h := range hits {
			if !yield(h.s, nil) {
				return
			}
		}
	}
}

// MetricNames lists metric names, sorted.
func (s *Store) MetricNames(ctx context.Context) ([]string, error) {
	if err := s.rlock(ctx); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range s.series {
		seen[e.desc.Name] = true
	}
	s.mu.RUnlock()
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}
