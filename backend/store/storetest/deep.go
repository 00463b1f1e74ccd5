package storetest

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/backend/store"
)

// Deeply nested values. Level i of a nested value (0 the outermost) is an
// array when i is even and a map {"k": …} when i is odd; the innermost
// value is the string "x".

// Nest makes v a value nested depth levels deep.
func Nest(v pcommon.Value, depth int) {
	for i := range depth {
		if i%2 == 0 {
			v = v.SetEmptySlice().AppendEmpty()
		} else {
			v = v.SetEmptyMap().PutEmpty("k")
		}
	}
	v.SetStr("x")
}

// NestedText is the text a store keeps for a value nested depth levels
// deep (the string x for none): the whole value as JSON when depth is at most store.MaxValueDepth,
// else its first MaxValueDepth levels around store.TruncatedValue.
func NestedText(depth int) string {
	if depth == 0 {
		return "x"
	}
	kept := min(depth, store.MaxValueDepth)
	var b strings.Builder
	for i := range kept {
		if i%2 == 0 {
			b.WriteString("[")
		} else {
			b.WriteString(`{"k":`)
		}
	}
	inner, _ := json.Marshal("x")
	if depth > store.MaxValueDepth {
		inner, _ = json.Marshal(store.TruncatedValue)
	}
	b.Write(inner)
	for i := kept - 1; i >= 0; i-- {
		if i%2 == 0 {
			b.WriteString("]")
		} else {
			b.WriteString("}")
		}
	}
	return b.String()
}

// The one span of DeepTracesProto and DeepTracesJSON, in trace TID(trace)
// of service DeepService, is SID(1), named "deep", starts at Base and lasts
// a millisecond; its attribute "deep" is nested as asked.
const DeepService = "deep"

// DeepTracesProto is an OTLP ExportTraceServiceRequest in protobuf with one
// span whose attribute "deep" is
// nested depth levels deep. It is written directly, back to front: pdata
// would recurse once per level to encode it. A million levels take about
// 13 MB.
func DeepTracesProto(trace byte, depth int) []byte {
	w := &backWriter{b: make([]byte, 256+20*depth)}
	w.i = len(w.b)
	end := w.i
	w.str(1, "x") // AnyValue.string_value
	for i := depth - 1; i >= 0; i-- {
		if i%2 == 0 {
			w.wrap(1, end) // ArrayValue.values
			w.wrap(5, end) // AnyValue.array_value
		} else {
			w.wrap(2, end) // KeyValue.value
			w.str(1, "k")  // KeyValue.key
			w.wrap(1, end) // KeyValueList.values
			w.wrap(6, end) // AnyValue.kvlist_value
		}
	}
	w.wrap(2, end) // KeyValue.value
	w.str(1, "deep")
	w.wrap(9, end) // Span.attributes
	start := uint64(Base.UnixNano())
	w.fixed64(8, start+uint64(time.Millisecond)) // end_time_unix_nano
	w.fixed64(7, start)                          // start_time_unix_nano
	w.str(5, "deep")                             // name
	sid, tid := SID(1), TID(trace)
	w.str(2, string(sid[:]))
	w.str(1, string(tid[:]))
	w.wrap(2, end) // ScopeSpans.spans
	w.wrap(2, end) // ResourceSpans.scope_spans
	res := w.i
	w.str(1, DeepService) // AnyValue.string_value
	w.wrap(2, res)        // KeyValue.value
	w.str(1, "service.name")
	w.wrap(1, res) // Resource.attributes
	w.wrap(1, res) // ResourceSpans.resource
	w.wrap(1, end) // ExportTraceServiceRequest.resource_spans
	return w.b[w.i:]
}

// DeepTracesJSON is DeepTracesProto in OTLP/JSON.
func DeepTracesJSON(trace byte, depth int) []byte {
	var b strings.Builder
	tid, sid := TID(trace), SID(1)
	start := Base.UnixNano()
	fmt.Fprintf(&b, `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":%q}}]},`+
		`"scopeSpans":[{"spans":[{"traceId":%q,"spanId":%q,"name":"deep","startTimeUnixNano":"%d","endTimeUnixNano":"%d",`+
		`"attributes":[{"key":"deep","value":`, DeepService, hex.EncodeToString(tid[:]), hex.EncodeToString(sid[:]), start, start+int64(time.Millisecond))
	for i := range depth {
		if i%2 == 0 {
			b.WriteString(`{"arrayValue":{"values":[`)
		} else {
			b.WriteString(`{"kvlistValue":{"values":[{"key":"k","value":`)
		}
	}
	b.WriteString(`{"stringValue":"x"}`)
	for i := depth - 1; i >= 0; i-- {
		if i%2 == 0 {
			b.WriteString(`]}}`)
		} else {
			b.WriteString(`}]}}`)
		}
	}
	b.WriteString(`}]}]}]}]}`)
	return []byte(b.String())
}

// backWriter writes protobuf from the end of b towards its start, so that
// each message's length is known when its tag is written.
type backWriter struct {
	b []byte
	i int // b[i:] is written
}

func (w *backWriter) raw(p []byte) {
	w.i -= len(p)
	copy(w.b[w.i:], p)
}

func (w *backWriter) varint(v uint64) {
	var t [binary.MaxVarintLen64]byte
	w.raw(t[:binary.PutUvarint(t[:], v)])
}

// wrap makes what was written since end (b[i:end]) the message field.
func (w *backWriter) wrap(field int, end int) {
	w.varint(uint64(end - w.i))
	w.varint(uint64(field<<3 | 2))
}

func (w *backWriter) str(field int, s string) {
	w.raw([]byte(s))
	w.varint(uint64(len(s)))
	w.varint(uint64(field<<3 | 2))
}

func (w *backWriter) fixed64(field int, v uint64) {
	var t [8]byte
	binary.LittleEndian.PutUint64(t[:], v)
	w.raw(t[:])
	w.varint(uint64(field<<3 | 1))
}
