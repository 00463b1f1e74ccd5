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
// (pcommon.Value.AsString), which is what query APIs show.
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
type Value struct {
	s   string // Str, Bytes (raw), Slice and Map (JSON)
	n   uint64 // Bool, Int, Double bits
	typ ValueType
}

// StrValue, IntValue, DoubleValue and BoolValue build values.
func StrValue(s string) Value       { return Value{typ: ValueStr, s: s} }
func IntValue(i int64) Value        { return Value{typ: ValueInt, n: uint64(i)} }
func DoubleValue(f float64) Value   { return Value{typ: ValueDouble, n: math.Float64bits(f)} }
func BytesValue(b []byte) Value     { return Value{typ: ValueBytes, s: string(b)} }
func (v Value) Type() ValueType     { return v.typ }
func (v Value) Str() string         { return v.s }
func (v Value) Int() int64          { return int64(v.n) }
func (v Value) Double() float64     { return math.Float64frombits(v.n) }
func (v Value) Bool() bool          { return v.n != 0 }
func (v Value) BytesString() string { return v.s }

// BoolValue builds a boolean value.
func BoolValue(b bool) Value {
	v := Value{typ: ValueBool}
	if b {
		v.n = 1
	}
	return v
}

// AsString renders the value as text the way pcommon.Value.AsString does
// (bytes as base64 there; here as hex, the form Jaeger's search matches).
func (v Value) AsString() string {
	switch v.typ {
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
type Span struct {
	TraceID       TraceID
	SpanID        SpanID
	ParentSpanID  SpanID
	Flags         uint32
	Kind          ptrace.SpanKind
	Status        ptrace.StatusCode
	Start, End    int64
	Name          string
	TraceState    string
	StatusMessage string
	Attributes    []KeyValue
	Events        []Event
	Links         []Link
	Resource      *Resource
	Scope         *Scope
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
// histograms Count, Sum, Min, Max, Bounds and BucketCounts; exponential
// histograms and summaries keep Count and Sum only (for now).
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
	Exemplars    []Exemplar
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
	kvSize           = int64(unsafe.Sizeof(KeyValue{}))
	eventSize        = int64(unsafe.Sizeof(Event{}))
	linkSize         = int64(unsafe.Sizeof(Link{}))
	logStructSize    = int64(unsafe.Sizeof(LogRecord{}))
	pointStructSize  = int64(unsafe.Sizeof(Point{}))
	exemplarSize     = int64(unsafe.Sizeof(Exemplar{}))
	seriesStructSize = int64(unsafe.Sizeof(Series{}))
	resourceSize     = int64(unsafe.Sizeof(Resource{}))
	scopeSize        = int64(unsafe.Sizeof(Scope{}))
)

func spanSize(s *Span) int64 {
	n := spanStructSize + int64(len(s.Attributes))*kvSize
	n += int64(len(s.Events)) * eventSize
	for _, e := range s.Events {
		n += int64(len(e.Attributes)) * kvSize
	}
	n += int64(len(s.Links)) * linkSize
	for _, l := range s.Links {
		n += int64(len(l.Attributes)) * kvSize
	}
	return n
}

func logSize(r *LogRecord) int64 { return logStructSize + int64(len(r.Attributes))*kvSize }

func pointSize(p *Point) int64 {
	n := pointStructSize + int64(len(p.Bounds))*8 + int64(len(p.BucketCounts))*8
	n += int64(len(p.Exemplars)) * exemplarSize
	for _, e := range p.Exemplars {
		n += int64(len(e.Attributes)) * kvSize
	}
	return n
}

func seriesSize(s *Series) int64 { return seriesStructSize + int64(len(s.Attributes))*kvSize }

func resourceSizeOf(r *Resource) int64 { return resourceSize + int64(len(r.Attributes))*kvSize }
