package store

import (
	"encoding/hex"
	"math"
	"strconv"
	"time"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TraceID and SpanID are the OTLP identifiers (16 and 8 bytes).
type (
	TraceID = pcommon.TraceID
	SpanID  = pcommon.SpanID
)

// ParseTraceID parses a trace id written in hex. Shorter ids (such as the
// 16-digit ids Jaeger prints for 64-bit trace ids) are left-padded with zeros.
func ParseTraceID(s string) (TraceID, error) {
	var id TraceID
	if len(s) == 0 || len(s) > 32 {
		return id, strconv.ErrSyntax
	}
	if len(s)%2 == 1 {
		s = "0" + s
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return id, err
	}
	copy(id[16-len(b):], b)
	return id, nil
}

// ValueType is the type of a [Value].
type ValueType uint8

// The value types. Slices and maps are kept as their JSON text
// (pcommon.Value.AsString), which is what query APIs show; it nests at
// most MaxValueDepth maps and arrays, so that parsing it back (as the
// api_v3 and logs APIs do) is bounded too.
const (
	ValueEmpty ValueType = iota
	ValueStr
	ValueBool
	ValueInt
	ValueDouble
	ValueBytes
	ValueSlice
	ValueMap
)

// Value is a compact attribute value: 24 bytes plus the string's bytes.
//
// For the string-like types s holds the text and n the type. For the
// numeric types n holds the bits and s is one byte of numTypes, a string no
// other one shares memory with, so that the type needs no field of its own
// (which would make a KeyValue 48 bytes rather than 40).
type Value struct {
	s string // Str, Bytes (raw), Slice and Map (JSON); a numTypes byte for the others
	n uint64 // the type of a string-like value; Bool, Int, Double bits otherwise
}

// numTypes is allocated once at start-up: its bytes are the numeric types.
var numTypes = string([]byte{byte(ValueBool), byte(ValueInt), byte(ValueDouble)})

func numValue(t ValueType, n uint64) Value {
	i := t - ValueBool
	return Value{s: numTypes[i : i+1], n: n}
}

func strValue(t ValueType, s string) Value { return Value{s: s, n: uint64(t)} }

// StrValue, IntValue, DoubleValue and BoolValue build values.
func StrValue(s string) Value     { return strValue(ValueStr, s) }
func IntValue(i int64) Value      { return numValue(ValueInt, uint64(i)) }
func DoubleValue(f float64) Value { return numValue(ValueDouble, math.Float64bits(f)) }
func BytesValue(b []byte) Value   { return strValue(ValueBytes, string(b)) }

// Type is the type of the value.
func (v Value) Type() ValueType {
	if len(v.s) == 1 {
		p := uintptr(unsafe.Pointer(unsafe.StringData(v.s)))
		if base := uintptr(unsafe.Pointer(unsafe.StringData(numTypes))); p >= base && p < base+uintptr(len(numTypes)) {
			return ValueType(v.s[0])
		}
	}
	return ValueType(v.n)
}

// Str is the text of a string-like value ("" for the others).
func (v Value) Str() string {
	if v.isNum() {
		return ""
	}
	return v.s
}

func (v Value) isNum() bool {
	switch v.Type() {
	case ValueBool, ValueInt, ValueDouble:
		return true
	}
	return false
}

func (v Value) Int() int64          { return int64(v.n) }
func (v Value) Double() float64     { return math.Float64frombits(v.n) }
func (v Value) Bool() bool          { return v.n != 0 }
func (v Value) BytesString() string { return v.Str() }

// BoolValue builds a boolean value.
func BoolValue(b bool) Value {
	if b {
		return numValue(ValueBool, 1)
	}
	return numValue(ValueBool, 0)
}

// AsString renders the value as text the way pcommon.Value.AsString does
// (bytes as base64 there; here as hex, the form Jaeger's search matches).
func (v Value) AsString() string {
	switch v.Type() {
	case ValueStr, ValueSlice, ValueMap:
		return v.s
	case ValueBool:
		return strconv.FormatBool(v.Bool())
	case ValueInt:
		return strconv.FormatInt(v.Int(), 10)
	case ValueDouble:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	case ValueBytes:
		return hex.EncodeToString([]byte(v.s))
	}
	return ""
}

// KeyValue is one attribute.
type KeyValue struct {
	Key   string
	Value Value
}

// Lookup returns the value of key in attrs.
func Lookup(attrs []KeyValue, key string) (Value, bool) {
	for _, kv := range attrs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return Value{}, false
}

// Resource is the entity that produced the telemetry. One Resource is shared
// by every item of a request that came with it.
type Resource struct {
	ServiceName string // service.name, or "unknown_service" when absent
	Attributes  []KeyValue
}

// Scope is the instrumentation scope.
type Scope struct {
	Name, Version string
}

// Span is one stored span. Times are Unix nanoseconds.
//
// The fields most spans leave empty (trace state, status message, events,
// links) live behind one pointer, read through methods: 128 bytes a span
// rather than 200.
type Span struct {
	TraceID      TraceID
	SpanID       SpanID
	ParentSpanID SpanID
	Flags        uint32
	Kind         ptrace.SpanKind
	Status       ptrace.StatusCode
	Start, End   int64
	Name         string
	Attributes   []KeyValue
	Resource     *Resource
	Scope        *Scope
	rare         *spanRare // nil when all of its fields are empty
}

type spanRare struct {
	traceState, statusMessage string
	events                    []Event
	links                     []Link
}

// TraceState is the W3C trace state of the span.
func (s *Span) TraceState() string {
	if s.rare == nil {
		return ""
	}
	return s.rare.traceState
}

// StatusMessage is the status description.
func (s *Span) StatusMessage() string {
	if s.rare == nil {
		return ""
	}
	return s.rare.statusMessage
}

// Events are the span events.
func (s *Span) Events() []Event {
	if s.rare == nil {
		return nil
	}
	return s.rare.events
}

// Links are the span links.
func (s *Span) Links() []Link {
	if s.rare == nil {
		return nil
	}
	return s.rare.links
}

// Duration is End-Start.
func (s *Span) Duration() time.Duration { return time.Duration(s.End - s.Start) }

// Event is a span event.
type Event struct {
	Time       int64
	Name       string
	Attributes []KeyValue
}

// Link is a span link.
type Link struct {
	TraceID    TraceID
	SpanID     SpanID
	Flags      uint32
	TraceState string
	Attributes []KeyValue
}

// Trace is the spans of one trace that the store holds.
type Trace struct {
	ID    TraceID
	Spans []*Span
}

// LogRecord is one stored log record. Times are Unix nanoseconds.
type LogRecord struct {
	Time, ObservedTime int64
	TraceID            TraceID
	SpanID             SpanID
	Flags              uint32
	Severity           plog.SeverityNumber
	SeverityText       string
	EventName          string
	Body               Value
	Attributes         []KeyValue
	Resource           *Resource
	Scope              *Scope
}

// Series is one metric stream: a metric name with one set of resource, scope
// and point attributes. Points are in arrival order.
type Series struct {
	Name, Description, Unit string
	Type                    pmetric.MetricType
	Temporality             pmetric.AggregationTemporality
	Monotonic               bool
	Resource                *Resource
	Scope                   *Scope
	Attributes              []KeyValue
	Points                  []*Point
}

// Point is one data point. For gauges and sums Value holds the number; for
// histograms Count, Sum, Min, Max, Bounds and BucketCounts; for exponential
// histograms Count, Sum, Min, Max and Exp; for summaries Count, Sum and
// Quantiles.
type Point struct {
	Start, Time  int64
	Value        float64
	Count        uint64
	Sum          float64
	Min, Max     float64
	HasMinMax    bool
	NoRecorded   bool // the OTLP "no recorded value" flag
	Bounds       []float64
	BucketCounts []uint64
	Exp          *ExpBuckets
	Quantiles    []Quantile
	Exemplars    []Exemplar
}

// ExpBuckets are the buckets of an exponential histogram point, as OTLP
// has them: with base 2^(2^-Scale), bucket Offset+i of Positive counts the
// values in (base^(Offset+i), base^(Offset+i+1)], Negative the same for
// the absolute values of negative ones, and ZeroCount those whose absolute
// value is at most ZeroThreshold.
type ExpBuckets struct {
	Scale                          int32
	ZeroCount                      uint64
	ZeroThreshold                  float64
	PositiveOffset, NegativeOffset int32
	Positive, Negative             []uint64
}

// Quantile is one quantile of a summary point: Value at Quantile (0 to 1).
type Quantile struct {
	Quantile, Value float64
}

// Exemplar is a sample measurement linked to a trace.
type Exemplar struct {
	Time       int64
	Value      float64
	TraceID    TraceID
	SpanID     SpanID
	Attributes []KeyValue
}

// Approximate sizes of the model, used to bound memory. The functions
// below count each struct's own size and the slices it owns, but no string
// bytes: strings are counted by the interner that stored them, once per
// distinct string of a write (see [Converted.Bytes]). They do not count map
// and allocator overhead, which the implementations add per index entry.
var (
	spanStructSize   = int64(unsafe.Sizeof(Span{}))
	spanRareSize     = int64(unsafe.Sizeof(spanRare{}))
	kvSize           = int64(unsafe.Sizeof(KeyValue{}))
	eventSize        = int64(unsafe.Sizeof(Event{}))
	linkSize         = int64(unsafe.Sizeof(Link{}))
	logStructSize    = int64(unsafe.Sizeof(LogRecord{}))
	pointStructSize  = int64(unsafe.Sizeof(Point{}))
	exemplarSize     = int64(unsafe.Sizeof(Exemplar{}))
	expBucketsSize   = int64(unsafe.Sizeof(ExpBuckets{}))
	seriesStructSize = int64(unsafe.Sizeof(Series{}))
	resourceSize     = int64(unsafe.Sizeof(Resource{}))
	scopeSize        = int64(unsafe.Sizeof(Scope{}))
)

func spanSize(s *Span) int64 {
	n := spanStructSize + int64(len(s.Attributes))*kvSize
	if s.rare == nil {
		return n
	}
	n += spanRareSize + int64(len(s.rare.events))*eventSize
	for _, e := range s.rare.events {
		n += int64(len(e.Attributes)) * kvSize
	}
	n += int64(len(s.rare.links)) * linkSize
	for _, l := range s.rare.links {
		n += int64(len(l.Attributes)) * kvSize
	}
	return n
}

func logSize(r *LogRecord) int64 { return logStructSize + int64(len(r.Attributes))*kvSize }

func pointSize(p *Point) int64 {
	n := pointStructSize + int64(len(p.Bounds))*8 + int64(len(p.BucketCounts))*8 + int64(len(p.Quantiles))*16
	if p.Exp != nil {
		n += expBucketsSize + int64(len(p.Exp.Positive)+len(p.Exp.Negative))*8
	}
	n += int64(len(p.Exemplars)) * exemplarSize
	for _, e := range p.Exemplars {
		n += int64(len(e.Attributes)) * kvSize
	}
	return n
}

func seriesSize(s *Series) int64 { return seriesStructSize + int64(len(s.Attributes))*kvSize }

func resourceSizeOf(r *Resource) int64 { return resourceSize + int64(len(r.Attributes))*kvSize }
