package otlpdepth

import (
	"encoding/binary"
	"fmt"

	"github.com/loupe-dev/loupe/backend/internal/pbwire"
	"github.com/loupe-dev/loupe/backend/store"
)

// Signal is the kind of an OTLP export request.
type Signal uint8

// The signals.
const (
	Traces Signal = iota + 1
	Metrics
	Logs
)

// msg is an OTLP message type on a path to an AnyValue; the others are
// skipped, as their depth is fixed.
type msg uint8

const (
	none msg = iota
	tracesRequest
	metricsRequest
	logsRequest
	resourceSpans
	resourceMetrics
	resourceLogs
	resource
	scope
	scopeSpans
	scopeMetrics
	scopeLogs
	span
	spanEvent
	spanLink
	logRecord
	metric
	gauge // and sum: data points of numbers
	histogram
	expHistogram
	summary
	numberPoint
	histogramPoint
	expHistogramPoint
	summaryPoint
	exemplar
	keyValue
	anyValue
	arrayValue
	keyValueList
	msgTypes // the number of types
)

// children[t][f] is the type of field f of t when it is a message leading
// to AnyValues (none otherwise), for the field numbers of the OTLP protos
// (opentelemetry-proto v1) as pdata decodes them. A table: a switch cost a
// fifth of the reading.
var children = func() (c [msgTypes][maxField + 1]msg) {
	for _, e := range []struct {
		t     msg
		f     int32
		child msg
	}{
		{tracesRequest, 1, resourceSpans},
		{metricsRequest, 1, resourceMetrics},
		{logsRequest, 1, resourceLogs},
		{resourceSpans, 1, resource},
		{resourceSpans, 2, scopeSpans},
		{resourceMetrics, 1, resource},
		{resourceMetrics, 2, scopeMetrics},
		{resourceLogs, 1, resource},
		{resourceLogs, 2, scopeLogs},
		{resource, 1, keyValue},
		{scope, 3, keyValue},
		{scopeSpans, 1, scope},
		{scopeSpans, 2, span},
		{scopeMetrics, 1, scope},
		{scopeMetrics, 2, metric},
		{scopeLogs, 1, scope},
		{scopeLogs, 2, logRecord},
		{span, 9, keyValue},
		{span, 11, spanEvent},
		{span, 13, spanLink},
		{spanEvent, 3, keyValue},
		{spanLink, 4, keyValue},
		{logRecord, 5, anyValue}, // body
		{logRecord, 6, keyValue},
		{metric, 5, gauge},
		{metric, 7, gauge}, // sum: number points too
		{metric, 9, histogram},
		{metric, 10, expHistogram},
		{metric, 11, summary},
		{metric, 12, keyValue}, // metadata
		{gauge, 1, numberPoint},
		{histogram, 1, histogramPoint},
		{expHistogram, 1, expHistogramPoint},
		{summary, 1, summaryPoint},
		{numberPoint, 5, exemplar},
		{numberPoint, 7, keyValue},
		{histogramPoint, 8, exemplar},
		{histogramPoint, 9, keyValue},
		{expHistogramPoint, 1, keyValue},
		{expHistogramPoint, 11, exemplar},
		{summaryPoint, 7, keyValue},
		{exemplar, 7, keyValue},
		{keyValue, 2, anyValue},
		{anyValue, 5, arrayValue},
		{anyValue, 6, keyValueList},
		{arrayValue, 1, anyValue},
		{keyValueList, 1, keyValue},
	} {
		c[e.t][e.f] = e.child
	}
	return c
}()

// maxField is the largest field number in children.
const maxField = 13

// child is the type of field f of t (see children). Field 1000 of the
// resource messages is the deprecated instrumentation_library_* that
// pdata still reads as the scope messages.
func child(t msg, f int32) msg {
	if f <= maxField {
		return children[t][f]
	}
	if f == 1000 && t >= resourceSpans && t <= resourceLogs {
		return t - resourceSpans + scopeSpans
	}
	return none
}

// marker is the AnyValue {string_value: store.TruncatedValue}.
var marker = append(binary.AppendUvarint([]byte{1<<3 | 2}, uint64(len(store.TruncatedValue))), store.TruncatedValue...)

// cut marks, in protoScan.edits, an AnyValue replaced by marker.
const cut = -1

// Proto returns req, an OTLP Export*ServiceRequest of sig in protobuf, with
// every map or array value nested inside store.MaxValueDepth others
// replaced by store.TruncatedValue, and the number of values replaced. It
// returns req itself when it replaces none. An error says req is not
// protobuf pdata could decode: it reads tags and lengths as pdata does.
func Proto(sig Signal, req []byte) ([]byte, int, error) {
	var root msg
	switch sig {
	case Traces:
		root = tracesRequest
	case Metrics:
		root = metricsRequest
	case Logs:
		root = logsRequest
	default:
		return nil, 0, fmt.Errorf("otlpdepth: unknown signal %d", sig)
	}
	s := protoScan{b: req}
	n, changed, err := s.scan(0, len(req), root, 0)
	if err != nil || !changed {
		return req, 0, err
	}
	out := make([]byte, 0, n)
	out = s.write(out, 0, len(req), root)
	return out, s.cuts, nil
}

// protoScan finds the values to cut (scan), then writes the request
// without them (write). Both recurse along the message tree, which the
// bound keeps within 3*MaxValueDepth+12 levels.
type protoScan struct {
	b []byte
	// edits maps the offset of a changed message's content to its new
	// length, or to cut for an AnyValue replaced by marker. Nil until a
	// value is cut.
	edits map[int]int
	cuts  int
}

// scan reads the message of type t at b[start:end]; level is the number
// of maps and arrays around it when it is, or is in, an AnyValue. It
// returns the message's length once rewritten and whether it changes.
func (s *protoScan) scan(start, end int, t msg, level int) (int, bool, error) {
	b := s.b[:end]
	n, changed := end-start, false
	for pos := start; pos < end; {
		var f int32
		var wire int
		if c := b[pos]; c < 0x80 && c >= 1<<3 { // most tags: one byte
			f, wire = int32(c>>3), int(c&7)
			pos++
		} else {
			var err error
			if f, wire, pos, err = tag(b, pos); err != nil {
				return 0, false, err
			}
		}
		ct := none
		if wire == wireLen {
			ct = child(t, f)
		}
		if ct == none {
			var err error
			if pos, err = skip(b, pos, wire); err != nil {
				return 0, false, err
			}
			continue
		}
		l, p, err := length(b, pos)
		if err != nil {
			return 0, false, err
		}
		inner := level
		if t == anyValue { // an array or a map
			if level >= store.MaxValueDepth {
				s.mark(start, cut)
				return len(marker), true, nil
			}
			inner++
		}
		nl, ch, err := s.scan(p, p+l, ct, inner)
		if err != nil {
			return 0, false, err
		}
		if ch {
			changed = true
			n += nl - l + varintLen(nl) - varintLen(l)
		}
		pos = p + l
	}
	if changed {
		s.mark(start, n)
	}
	return n, changed, nil
}

func (s *protoScan) mark(start, v int) {
	if s.edits == nil {
		s.edits = map[int]int{}
	}
	if v == cut {
		s.cuts++
	}
	s.edits[start] = v
}

// write appends the message of type t at b[start:end] to out, with the
// changes scan found. The request was read once already: it is well formed.
func (s *protoScan) write(out []byte, start, end int, t msg) []byte {
	b := s.b[:end]
	copied := start // b[copied:pos] is still to be copied as it is
	for pos := start; pos < end; {
		f, wire, p, _ := tag(b, pos)
		tagEnd := p
		if wire != wireLen || child(t, f) == none {
			pos, _ = skip(b, p, wire)
			continue
		}
		l, p, _ := length(b, tagEnd)
		e, ok := s.edits[p]
		if !ok {
			pos = p + l
			continue
		}
		out = append(out, b[copied:tagEnd]...)
		if e == cut {
			out = binary.AppendUvarint(out, uint64(len(marker)))
			out = append(out, marker...)
		} else {
			out = binary.AppendUvarint(out, uint64(e))
			out = s.write(out, p, p+l, child(t, f))
		}
		pos = p + l
		copied = pos
	}
	return append(out, b[copied:end]...)
}

// Wire types.
const (
	wireLen = pbwire.Len
)

// pdata's readers, so that a request is read here exactly as pdata will
// read it, down to the field number of an oversized tag.
var (
	tag    = pbwire.Tag
	length = pbwire.Length
	skip   = pbwire.Skip
)

func varintLen(v int) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}
