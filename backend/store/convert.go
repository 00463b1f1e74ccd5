package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// UnknownService is the service name of telemetry whose resource has none,
// as the OpenTelemetry SDKs name it.
const UnknownService = "unknown_service"

// interner stores each distinct short string of one write once, and counts
// the bytes of the strings it keeps. Keys, names and repeated values (an
// HTTP method, a route, a host) then cost their bytes once per write rather
// than once per item.
type interner struct {
	m     map[string]string
	bytes int64
}

const (
	internMaxLen     = 256     // longer strings are kept as they are
	internMaxEntries = 1 << 14 // per write; past it strings are kept as they are
)

// internMaps holds emptied interner maps between writes: growing a fresh
// map for every write cost about a tenth of what ingest allocated.
var internMaps = sync.Pool{New: func() any { return make(map[string]string) }}

// str returns s as stored: valid UTF-8, each invalid byte replaced by
// U+FFFD, which is what every query API answers (JSON has no other text),
// so that a value as a user reads it finds its telemetry again.
// Validating costs only the first instance of a short string in a write.
func (in *interner) str(s string) string { return in.intern(s, false) }

// view is str for s that views bytes which may change later (a
// record being decoded): s is copied when it is kept.
func (in *interner) view(s string) string { return in.intern(s, true) }

func (in *interner) intern(s string, view bool) string {
	if s == "" {
		return ""
	}
	if len(s) > internMaxLen {
		if view {
			s = strings.Clone(s)
		}
		s = validUTF8(s)
		in.bytes += int64(len(s))
		return s
	}
	if v, ok := in.m[s]; ok {
		return v
	}
	if view {
		s = strings.Clone(s)
	}
	v := validUTF8(s)
	if in.m == nil {
		in.m = internMaps.Get().(map[string]string)
	}
	if len(in.m) < internMaxEntries {
		in.m[s] = v
	}
	in.bytes += int64(len(v))
	return v
}

// raw returns the bytes of a bytes value as they are. They are not
// interned: their text may be a string's that str changed.
func (in *interner) raw(s string) string {
	in.bytes += int64(len(s))
	return s
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Converted is the model form of one write, ready to store.
type Converted struct {
	Spans  []Span
	Logs   []LogRecord
	Points []SeriesPoint
	Result WriteResult
	// Bytes is the approximate size of everything above, shared resources,
	// scopes, series descriptions and strings included (once each).
	Bytes int64

	in interner
	// kvs is room for attributes, handed out by convertAttrs so that a
	// write allocates its attributes at once rather than one slice per item.
	kvs []KeyValue
	// lastKeys are the interned keys of the attributes converted last, by
	// position.
	lastKeys []string
}

// maxLastKeys bounds Converted.lastKeys.
const maxLastKeys = 32

// SeriesPoint is a point with the description of the series it belongs to.
// Points of one series in one write share the same *Series.
type SeriesPoint struct {
	Series *Series // Points is nil: the store keeps them
	Point  Point
}

func (c *Converted) convertAttrs(m pcommon.Map) []KeyValue {
	kvs := c.attrs(m.Len())
	i := 0
	for k, v := range m.All() {
		// Written in place: the slot is zero, and appending a whole
		// KeyValue cost a bulk write barrier while the GC runs.
		kvs = kvs[:i+1]
		kvs[i].Key = c.key(i, k, false)
		kvs[i].Value = c.convertValue(v)
		i++
	}
	return kvs
}

// attrs returns room for n attributes (length 0), from c.kvs when it has
// room; nil for none.
func (c *Converted) attrs(n int) []KeyValue {
	if n == 0 {
		return nil
	}
	if n <= cap(c.kvs)-len(c.kvs) {
		kvs := c.kvs[len(c.kvs) : len(c.kvs) : len(c.kvs)+n]
		c.kvs = c.kvs[:len(c.kvs)+n]
		return kvs
	}
	return make([]KeyValue, 0, n)
}

// key returns k, the key of attribute i of some attributes, as stored (see
// interner.view for view).
func (c *Converted) key(i int, k string, view bool) string {
	// Items of a write mostly have the same keys in the same order:
	// comparing with the key at the same place in the previous
	// attributes is cheaper than hashing it into the interner.
	if i < len(c.lastKeys) && c.lastKeys[i] == k {
		return c.lastKeys[i]
	}
	k = c.in.intern(k, view)
	if i < len(c.lastKeys) {
		c.lastKeys[i] = k
	} else if i < maxLastKeys {
		c.lastKeys = append(c.lastKeys, k)
	}
	return k
}

func (c *Converted) convertValue(v pcommon.Value) Value {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return StrValue(c.in.str(v.Str()))
	case pcommon.ValueTypeInt:
		return IntValue(v.Int())
	case pcommon.ValueTypeDouble:
		return DoubleValue(v.Double())
	case pcommon.ValueTypeBool:
		return BoolValue(v.Bool())
	case pcommon.ValueTypeBytes:
		return strValue(ValueBytes, c.in.raw(string(v.Bytes().AsRaw())))
	case pcommon.ValueTypeSlice, pcommon.ValueTypeMap:
		return c.jsonValue(v)
	}
	return Value{}
}

// jsonValue converts a map or a slice.
func (c *Converted) jsonValue(v pcommon.Value) Value {
	t := ValueSlice
	if v.Type() == pcommon.ValueTypeMap {
		t = ValueMap
	}
	return strValue(t, c.in.str(c.jsonText(v)))
}

// jsonText renders a map or a slice as pcommon.Value.AsString does, except
// that maps and slices inside MaxValueDepth others become TruncatedValue
// and are counted. It recurses MaxValueDepth levels at most, however deep
// v is: pdata's AsString recurses to the bottom (a value nested a million
// levels deep overflowed the stack).
func (c *Converted) jsonText(v pcommon.Value) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// As in pdata: the error (a NaN or an infinity) leaves the text empty.
	_ = enc.Encode(c.raw(v, 0))
	return strings.TrimSuffix(buf.String(), "\n")
}

// raw is pcommon.Value.AsRaw down to MaxValueDepth maps and slices; level
// is the number of maps and slices around v.
func (c *Converted) raw(v pcommon.Value, level int) any {
	switch v.Type() {
	case pcommon.ValueTypeMap, pcommon.ValueTypeSlice:
		if level >= MaxValueDepth {
			c.Result.Truncated++
			return TruncatedValue
		}
	default:
		return v.AsRaw()
	}
	if v.Type() == pcommon.ValueTypeMap {
		m := make(map[string]any, v.Map().Len())
		for k, e := range v.Map().All() {
			m[k] = c.raw(e, level+1)
		}
		return m
	}
	s := make([]any, 0, v.Slice().Len())
	for _, e := range v.Slice().All() {
		s = append(s, c.raw(e, level+1))
	}
	return s
}

// resource converts a resource and counts it.
func (c *Converted) resource(r pcommon.Resource) *Resource {
	return c.resourceOf(c.convertAttrs(r.Attributes()))
}

// resourceOf makes the resource of converted attributes and counts it.
func (c *Converted) resourceOf(attrs []KeyValue) *Resource {
	res := &Resource{ServiceName: UnknownService, Attributes: attrs}
	// The text of service.name as pdata's AsString gives it, from the
	// converted value: pdata's would walk a map or a slice to the bottom.
	if v, ok := Lookup(res.Attributes, "service.name"); ok {
		s := v.AsString()
		if v.Type() == ValueBytes {
			s = base64.StdEncoding.EncodeToString([]byte(v.Str()))
		}
		if s != "" {
			res.ServiceName = c.in.str(s) // valid UTF-8, as str makes every string
		}
	}
	c.Bytes += resourceSizeOf(res)
	return res
}

// scope converts a scope and counts it.
func (c *Converted) scope(s pcommon.InstrumentationScope) *Scope {
	return c.scopeOf(s.Name(), s.Version(), false)
}

// scopeOf makes a scope and counts it (see interner.view for view).
func (c *Converted) scopeOf(name, version string, view bool) *Scope {
	c.Bytes += scopeSize
	return &Scope{Name: c.in.intern(name, view), Version: c.in.intern(version, view)}
}

// finish adds the bytes of the strings kept.
func (c *Converted) finish() Converted {
	c.Bytes += c.in.bytes
	if c.in.m != nil {
		clear(c.in.m)
		internMaps.Put(c.in.m)
	}
	c.in = interner{}
	c.kvs, c.lastKeys = nil, nil
	return *c
}

// spanRare converts the fields most spans leave empty; nil when they are.
func (c *Converted) spanRare(sp ptrace.Span) *spanRare {
	r := c.newRare(sp.Status().Message(), sp.TraceState().AsRaw(), sp.Events().Len(), sp.Links().Len(), false)
	if r == nil {
		return nil
	}
	for _, e := range sp.Events().All() {
		r.events = append(r.events, Event{Time: int64(e.Timestamp()), Name: c.in.str(e.Name()), Attributes: c.convertAttrs(e.Attributes())})
	}
	for _, l := range sp.Links().All() {
		r.links = append(r.links, Link{TraceID: l.TraceID(), SpanID: l.SpanID(), Flags: l.Flags(), TraceState: c.in.str(l.TraceState().AsRaw()), Attributes: c.convertAttrs(l.Attributes())})
	}
	return r
}

// newRare makes the rare fields of a span with room for its events and
// links, which the caller appends; nil when they are all empty.
func (c *Converted) newRare(msg, traceState string, events, links int, view bool) *spanRare {
	if msg == "" && traceState == "" && events == 0 && links == 0 {
		return nil
	}
	r := &spanRare{statusMessage: c.in.intern(msg, view), traceState: c.in.intern(traceState, view)}
	if events > 0 {
		r.events = make([]Event, 0, events)
	}
	if links > 0 {
		r.links = make([]Link, 0, links)
	}
	return r
}

// newSpan returns the slot of a span with these ids in c.Spans, zero but
// for them, or nil when it is rejected: spans with an all-zero trace or
// span id are invalid in OTLP.
func (c *Converted) newSpan(tid TraceID, sid SpanID) *Span {
	if tid.IsEmpty() || sid.IsEmpty() {
		c.Result.Rejected++
		return nil
	}
	// Filled in place: copying or zeroing a whole Span in the slice
	// cost a bulk write barrier per span while the GC runs.
	if len(c.Spans) < cap(c.Spans) {
		c.Spans = c.Spans[:len(c.Spans)+1] // the slot is zero
	} else {
		c.Spans = append(c.Spans, Span{})
	}
	s := &c.Spans[len(c.Spans)-1]
	s.TraceID, s.SpanID = tid, sid
	return s
}

// endSpan completes a span filled in and counts it.
func (c *Converted) endSpan(s *Span) {
	if s.End < s.Start {
		s.End = s.Start // a negative duration is meaningless; keep the span
	}
	c.Bytes += spanSize(s)
}

// finishTraces says why spans were rejected and completes the write.
func (c *Converted) finishTraces() Converted {
	if c.Result.Rejected > 0 {
		c.Result.Message = fmt.Sprintf("%d span(s) rejected: trace id and span id must not be all zero", c.Result.Rejected)
	}
	return c.finish()
}

// FromTraces converts traces to the model. Spans with an all-zero trace or
// span id are invalid in OTLP and are rejected.
func FromTraces(td ptrace.Traces) Converted {
	var c Converted
	c.Spans = make([]Span, 0, td.SpanCount())
	nattrs := 0
	for _, rs := range td.ResourceSpans().All() {
		nattrs += rs.Resource().Attributes().Len()
		for _, ss := range rs.ScopeSpans().All() {
			for _, sp := range ss.Spans().All() {
				nattrs += sp.Attributes().Len()
			}
		}
	}
	c.kvs = make([]KeyValue, 0, nattrs)
	for _, rs := range td.ResourceSpans().All() {
		res := c.resource(rs.Resource())
		for _, ss := range rs.ScopeSpans().All() {
			sc := c.scope(ss.Scope())
			for _, sp := range ss.Spans().All() {
				s := c.newSpan(sp.TraceID(), sp.SpanID())
				if s == nil {
					continue
				}
				s.ParentSpanID = sp.ParentSpanID()
				s.Flags, s.Kind, s.Status = sp.Flags(), sp.Kind(), sp.Status().Code()
				s.Start, s.End = int64(sp.StartTimestamp()), int64(sp.EndTimestamp())
				s.Name = c.in.str(sp.Name())
				s.Attributes = c.convertAttrs(sp.Attributes())
				s.Resource, s.Scope = res, sc
				s.rare = c.spanRare(sp)
				c.endSpan(s)
			}
		}
	}
	return c.finishTraces()
}

// FromLogs converts logs to the model. Every log record is valid.
func FromLogs(ld plog.Logs) Converted {
	var c Converted
	c.Logs = make([]LogRecord, 0, ld.LogRecordCount())
	for _, rl := range ld.ResourceLogs().All() {
		res := c.resource(rl.Resource())
		for _, sl := range rl.ScopeLogs().All() {
			sc := c.scope(sl.Scope())
			for _, lr := range sl.LogRecords().All() {
				r := LogRecord{
					Time:         int64(lr.Timestamp()),
					ObservedTime: int64(lr.ObservedTimestamp()),
					TraceID:      lr.TraceID(),
					SpanID:       lr.SpanID(),
					Flags:        uint32(lr.Flags()),
					Severity:     lr.SeverityNumber(),
					SeverityText: c.in.str(lr.SeverityText()),
					EventName:    c.in.str(lr.EventName()),
					Body:         c.convertValue(lr.Body()),
					Attributes:   c.convertAttrs(lr.Attributes()),
					Resource:     res,
					Scope:        sc,
				}
				if r.Time == 0 {
					r.Time = r.ObservedTime
				}
				c.Logs = append(c.Logs, r)
				c.Bytes += logSize(&c.Logs[len(c.Logs)-1])
			}
		}
	}
	return c.finish()
}

// FromMetrics converts metrics to the model. Metrics without a name or
// without data are rejected, with all their points.
func FromMetrics(md pmetric.Metrics) Converted {
	var c Converted
	var rejected []string
	for _, rm := range md.ResourceMetrics().All() {
		res := c.resource(rm.Resource())
		for _, sm := range rm.ScopeMetrics().All() {
			sc := c.scope(sm.Scope())
			for _, m := range sm.Metrics().All() {
				n := dataPointCount(m)
				if m.Name() == "" || m.Type() == pmetric.MetricTypeEmpty {
					c.Result.Rejected += int64(n)
					if n == 0 {
						c.Result.Rejected++ // count the metric itself
					}
					rejected = append(rejected, fmt.Sprintf("%q", m.Name()))
					continue
				}
				c.convertMetric(m, res, sc)
			}
		}
	}
	if c.Result.Rejected > 0 {
		if len(rejected) > 5 {
			rejected = append(rejected[:5], "…")
		}
		c.Result.Message = "metrics without a name or data rejected: " + strings.Join(rejected, ", ")
	}
	return c.finish()
}

func dataPointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}

func (c *Converted) convertMetric(m pmetric.Metric, res *Resource, sc *Scope) {
	// One *Series per distinct attribute set within this metric.
	series := map[string]*Series{}
	get := func(attrs pcommon.Map) *Series {
		kvs := c.convertAttrs(attrs)
		key := SeriesKey(m.Name(), nil, nil, kvs)
		s, ok := series[key]
		if !ok {
			s = &Series{Name: c.in.str(m.Name()), Description: c.in.str(m.Description()), Unit: c.in.str(m.Unit()), Type: m.Type(),
				Resource: res, Scope: sc, Attributes: kvs}
			switch m.Type() {
			case pmetric.MetricTypeSum:
				s.Temporality = m.Sum().AggregationTemporality()
				s.Monotonic = m.Sum().IsMonotonic()
			case pmetric.MetricTypeHistogram:
				s.Temporality = m.Histogram().AggregationTemporality()
			case pmetric.MetricTypeExponentialHistogram:
				s.Temporality = m.ExponentialHistogram().AggregationTemporality()
			}
			series[key] = s
			c.Bytes += seriesSize(s)
		}
		return s
	}
	add := func(s *Series, p Point) {
		c.Points = append(c.Points, SeriesPoint{Series: s, Point: p})
		c.Bytes += pointSize(&p) + 16 // plus the series' pointer to it
	}
	number := func(dps pmetric.NumberDataPointSlice) {
		for _, dp := range dps.All() {
			p := Point{Start: int64(dp.StartTimestamp()), Time: int64(dp.Timestamp()),
				NoRecorded: dp.Flags().NoRecordedValue(), Exemplars: c.convertExemplars(dp.Exemplars())}
			if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
				p.Value = float64(dp.IntValue())
			} else {
				p.Value = dp.DoubleValue()
			}
			add(get(dp.Attributes()), p)
		}
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		number(m.Gauge().DataPoints())
	case pmetric.MetricTypeSum:
		number(m.Sum().DataPoints())
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			p := Point{Start: int64(dp.StartTimestamp()), Time: int64(dp.Timestamp()), Count: dp.Count(), Sum: dp.Sum(),
				Min: dp.Min(), Max: dp.Max(), HasMinMax: dp.HasMin() && dp.HasMax(),
				NoRecorded: dp.Flags().NoRecordedValue(),
				Bounds:     dp.ExplicitBounds().AsRaw(), BucketCounts: dp.BucketCounts().AsRaw(),
				Exemplars: c.convertExemplars(dp.Exemplars())}
			add(get(dp.Attributes()), p)
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			p := Point{Start: int64(dp.StartTimestamp()), Time: int64(dp.Timestamp()), Count: dp.Count(), Sum: dp.Sum(),
				Min: dp.Min(), Max: dp.Max(), HasMinMax: dp.HasMin() && dp.HasMax(),
				NoRecorded: dp.Flags().NoRecordedValue(), Exemplars: c.convertExemplars(dp.Exemplars()),
				Exp: &ExpBuckets{Scale: dp.Scale(), ZeroCount: dp.ZeroCount(), ZeroThreshold: dp.ZeroThreshold(),
					PositiveOffset: dp.Positive().Offset(), Positive: dp.Positive().BucketCounts().AsRaw(),
					NegativeOffset: dp.Negative().Offset(), Negative: dp.Negative().BucketCounts().AsRaw()}}
			add(get(dp.Attributes()), p)
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			p := Point{Start: int64(dp.StartTimestamp()), Time: int64(dp.Timestamp()), Count: dp.Count(), Sum: dp.Sum(),
				NoRecorded: dp.Flags().NoRecordedValue()}
			if qs := dp.QuantileValues(); qs.Len() > 0 {
				p.Quantiles = make([]Quantile, qs.Len())
				for i, q := range qs.All() {
					p.Quantiles[i] = Quantile{Quantile: q.Quantile(), Value: q.Value()}
				}
			}
			add(get(dp.Attributes()), p)
		}
	}
}

func (c *Converted) convertExemplars(es pmetric.ExemplarSlice) []Exemplar {
	if es.Len() == 0 {
		return nil
	}
	out := make([]Exemplar, 0, es.Len())
	for _, e := range es.All() {
		x := Exemplar{Time: int64(e.Timestamp()), TraceID: e.TraceID(), SpanID: e.SpanID(),
			Attributes: c.convertAttrs(e.FilteredAttributes())}
		if e.ValueType() == pmetric.ExemplarValueTypeInt {
			x.Value = float64(e.IntValue())
		} else {
			x.Value = e.DoubleValue()
		}
		out = append(out, x)
	}
	return out
}

// SeriesKey identifies a series: its name and the sorted attributes of its
// resource, scope and points. Two series with the same key are one stream.
func SeriesKey(name string, res *Resource, sc *Scope, attrs []KeyValue) string {
	var b strings.Builder
	b.WriteString(name)
	write := func(kvs []KeyValue) {
		sorted := make([]KeyValue, len(kvs))
		copy(sorted, kvs)
		sortKVs(sorted)
		for _, kv := range sorted {
			b.WriteByte(0)
			b.WriteString(kv.Key)
			b.WriteByte('=')
			b.WriteByte(byte('0' + kv.Value.Type()))
			b.WriteString(kv.Value.AsString())
		}
		b.WriteByte(1)
	}
	if res != nil {
		write(res.Attributes)
	}
	if sc != nil {
		b.WriteString(sc.Name)
		b.WriteByte(0)
		b.WriteString(sc.Version)
	}
	write(attrs)
	return b.String()
}
