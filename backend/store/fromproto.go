package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/internal/pbwire"
)

// ErrTooDeep is returned by TracesFromProto for a request holding a map or
// an array nested inside MaxValueDepth others, in any attribute, converted
// or not (otlpdepth.Proto would cut it): the caller cuts such values first,
// as the receiver does, and converts the request with pdata.
var ErrTooDeep = errors.New("store: value nested deeper than MaxValueDepth")

// TracesFromProto converts an OTLP ExportTraceServiceRequest in protobuf
// to the model: what FromTraces gives for the request pdata decodes from
// b, without building pdata's objects, which cost most of the time of a
// replay. It returns an error when pdata would (the text differs), and
// ErrTooDeep (see there) for values nested too deeply. Maps and arrays,
// rare, are decoded by pdata to render their JSON text; nothing else is.
//
// It never recurses on the nesting of b: the messages above a value nest
// a fixed number of levels, and values are walked with a stack of their
// own; only values within MaxValueDepth levels reach pdata.
func TracesFromProto(b []byte) (Converted, error) {
	var c Converted
	nspans, nattrs, err := countTraces(b)
	if err != nil {
		return Converted{}, err
	}
	c.Spans = make([]Span, 0, nspans)
	c.kvs = make([]KeyValue, 0, nattrs)
	for pos := 0; pos < len(b); {
		var f pbField
		if f, pos, err = pbNext(b, pos); err != nil {
			break
		}
		if f.num == 1 {
			if err = f.want(pbLen); err == nil {
				err = c.resourceSpans(f.b)
			}
		}
		if err != nil {
			break
		}
	}
	if err != nil {
		c.finish()
		return Converted{}, err
	}
	return c.finishTraces(), nil
}

// countTraces counts the spans and the resource and span attributes of a
// request, for room; what it reads badly pdata reads badly too.
func countTraces(b []byte) (spans, attrs int, err error) {
	// count calls fn with the fields num of b that are length-delimited.
	count := func(b []byte, num int32, fn func([]byte) error) error {
		for pos := 0; pos < len(b); {
			f, p, err := pbNext(b, pos)
			if err != nil {
				return err
			}
			pos = p
			if f.num == num && f.wt == pbLen {
				if err := fn(f.b); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err = count(b, 1, func(rs []byte) error {
		for pos := 0; pos < len(rs); {
			f, p, err := pbNext(rs, pos)
			if err != nil {
				return err
			}
			pos = p
			switch {
			case f.wt != pbLen:
			case f.num == 1:
				err = count(f.b, 1, func([]byte) error { attrs++; return nil })
			case f.num == 2 || f.num == 1000:
				err = count(f.b, 2, func(sp []byte) error {
					spans++
					return count(sp, 9, func([]byte) error { attrs++; return nil })
				})
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	return spans, attrs, err
}

func (c *Converted) resourceSpans(b []byte) error {
	// Read in pdata's order: the resource (every occurrence, merged),
	// then the scope spans, or the deprecated field 1000 when there are
	// none (pdata's MigrateTraces).
	nattrs, scopeSpans := 0, false
	err := eachField(b, func(f pbField) error {
		switch f.num {
		case 1:
			if err := f.want(pbLen); err != nil {
				return err
			}
			return eachField(f.b, func(f pbField) error {
				switch f.num {
				case 1:
					nattrs++
					return f.want(pbLen)
				case 2:
					return f.want(pbVarint)
				case 3:
					if err := f.want(pbLen); err != nil {
						return err
					}
					return eachField(f.b, func(f pbField) error { // an EntityRef: strings
						if f.num >= 1 && f.num <= 4 {
							return f.want(pbLen)
						}
						return nil
					})
				}
				return nil
			})
		case 2:
			scopeSpans = true
			return f.want(pbLen)
		case 3, 1000:
			return f.want(pbLen)
		}
		return nil
	})
	if err != nil {
		return err
	}
	attrs := c.attrs(nattrs)
	err = eachField(b, func(f pbField) error {
		if f.num != 1 {
			return nil
		}
		return eachField(f.b, func(f pbField) error {
			if f.num != 1 {
				return nil
			}
			var err error
			attrs, err = c.appendKV(attrs, f.b)
			return err
		})
	})
	if err != nil {
		return err
	}
	res := c.resourceOf(attrs)
	return eachField(b, func(f pbField) error {
		switch {
		case f.num == 2, f.num == 1000 && !scopeSpans:
			return c.scopeSpans(f.b, res)
		case f.num == 1000:
			return validate(func(c *Converted) error { return c.scopeSpans(f.b, res) })
		}
		return nil
	})
}

// validate runs convert on a Converted of its own, which is dropped: for
// what pdata decodes and FromTraces does not convert.
func validate(convert func(*Converted) error) error {
	var scratch Converted
	err := convert(&scratch)
	scratch.finish()
	return err
}

func (c *Converted) scopeSpans(b []byte, res *Resource) error {
	var name, version []byte
	err := eachField(b, func(f pbField) error {
		switch f.num {
		case 1:
			if err := f.want(pbLen); err != nil {
				return err
			}
			return eachField(f.b, func(f pbField) error {
				switch f.num {
				case 1:
					name = f.b
					return f.want(pbLen)
				case 2:
					version = f.b
					return f.want(pbLen)
				case 3:
					if err := f.want(pbLen); err != nil {
						return err
					}
					depth, err := checkValues(f.b, pbKeyValue)
					if err == nil && depth > MaxValueDepth {
						err = ErrTooDeep
					}
					return err
				case 4:
					return f.want(pbVarint)
				}
				return nil
			})
		case 2, 3:
			return f.want(pbLen)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sc := c.scopeOf(bstr(name), bstr(version), true)
	return eachField(b, func(f pbField) error {
		if f.num != 2 {
			return nil
		}
		return c.span(f.b, res, sc)
	})
}

func (c *Converted) span(b []byte, res *Resource, sc *Scope) error {
	var (
		tid                     TraceID
		sid, parent             SpanID
		flags                   uint32
		kind                    ptrace.SpanKind
		code                    ptrace.StatusCode
		start, end              uint64
		name, traceState, msg   []byte
		nattrs, nevents, nlinks int
	)
	// The attributes, events and links are converted once the ids are
	// known (a rejected span's are not converted), from the part of b
	// that holds them: usually a few fields in a row.
	var attrs, events, links region
	for pos := 0; pos < len(b); {
		from := pos
		f, p, err := pbNext(b, pos)
		if err != nil {
			return err
		}
		pos = p
		switch f.num {
		case 1:
			err = idField(f, tid[:])
		case 2:
			err = idField(f, sid[:])
		case 4:
			err = idField(f, parent[:])
		case 3:
			traceState = f.b
			err = f.want(pbLen)
		case 5:
			name = f.b
			err = f.want(pbLen)
		case 16:
			flags = uint32(f.n)
			err = f.want(pbI32)
		case 6:
			kind = ptrace.SpanKind(int32(f.n))
			err = f.want(pbVarint)
		case 7:
			start = f.n
			err = f.want(pbI64)
		case 8:
			end = f.n
			err = f.want(pbI64)
		case 9:
			nattrs++
			attrs.add(from, pos)
			err = f.want(pbLen)
		case 11:
			nevents++
			events.add(from, pos)
			err = f.want(pbLen)
		case 13:
			nlinks++
			links.add(from, pos)
			err = f.want(pbLen)
		case 10, 12, 14:
			err = f.want(pbVarint)
		case 15:
			if err = f.want(pbLen); err == nil {
				err = eachField(f.b, func(f pbField) error {
					switch f.num {
					case 2:
						msg = f.b
						return f.want(pbLen)
					case 3:
						code = ptrace.StatusCode(int32(f.n))
						return f.want(pbVarint)
					}
					return nil
				})
			}
		}
		if err != nil {
			return err
		}
	}
	ab, eb, lb := attrs.of(b), events.of(b), links.of(b)
	s := c.newSpan(tid, sid)
	if s == nil {
		// Rejected: what pdata would read of it is still read.
		return validate(func(c *Converted) error {
			_, _, err := c.spanParts(ab, eb, lb, nattrs, func() *spanRare { return nil })
			return err
		})
	}
	s.ParentSpanID = parent
	s.Flags, s.Kind, s.Status = flags, kind, code
	s.Start, s.End = int64(start), int64(end)
	s.Name = c.in.view(bstr(name))
	s.Resource, s.Scope = res, sc
	var err error
	if s.Attributes, s.rare, err = c.spanParts(ab, eb, lb, nattrs, func() *spanRare {
		return c.newRare(bstr(msg), bstr(traceState), nevents, nlinks, true)
	}); err != nil {
		return err
	}
	c.endSpan(s)
	return nil
}

// spanParts converts the attributes of a span (the fields of ab), then
// makes its rare fields with rare (nil when there are none) and converts
// its events (eb) and its links (lb) into them: FromTraces's order, which
// the interner's counts follow.
func (c *Converted) spanParts(ab, eb, lb []byte, nattrs int, rare func() *spanRare) ([]KeyValue, *spanRare, error) {
	attrs, err := c.attrsField(ab, 9, nattrs)
	if err != nil {
		return nil, nil, err
	}
	r := rare()
	err = eachField(eb, func(f pbField) error {
		if f.num != 11 {
			return nil
		}
		e, err := c.event(f.b)
		if r != nil {
			r.events = append(r.events, e)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	err = eachField(lb, func(f pbField) error {
		if f.num != 13 {
			return nil
		}
		l, err := c.link(f.b)
		if r != nil {
			r.links = append(r.links, l)
		}
		return err
	})
	return attrs, r, err
}

// region is the part of a message from the first field of a kind to the
// end of the last.
type region struct{ from, to int }

func (r *region) add(from, to int) {
	if r.to == 0 {
		r.from = from
	}
	r.to = to
}

func (r region) of(b []byte) []byte { return b[r.from:r.to] }

func (c *Converted) event(b []byte) (Event, error) {
	var e Event
	var name []byte
	nattrs := 0
	err := eachField(b, func(f pbField) error {
		switch f.num {
		case 1:
			e.Time = int64(f.n)
			return f.want(pbI64)
		case 2:
			name = f.b
			return f.want(pbLen)
		case 3:
			nattrs++
			return f.want(pbLen)
		case 4:
			return f.want(pbVarint)
		}
		return nil
	})
	if err != nil {
		return e, err
	}
	e.Name = c.in.view(bstr(name))
	e.Attributes, err = c.attrsField(b, 3, nattrs)
	return e, err
}

func (c *Converted) link(b []byte) (Link, error) {
	var l Link
	var traceState []byte
	nattrs := 0
	err := eachField(b, func(f pbField) error {
		switch f.num {
		case 1:
			return idField(f, l.TraceID[:])
		case 2:
			return idField(f, l.SpanID[:])
		case 3:
			traceState = f.b
			return f.want(pbLen)
		case 4:
			nattrs++
			return f.want(pbLen)
		case 5:
			return f.want(pbVarint)
		case 6:
			l.Flags = uint32(f.n)
			return f.want(pbI32)
		}
		return nil
	})
	if err != nil {
		return l, err
	}
	l.TraceState = c.in.view(bstr(traceState))
	l.Attributes, err = c.attrsField(b, 4, nattrs)
	return l, err
}

// attrsField converts the n KeyValues of field num of the message b.
func (c *Converted) attrsField(b []byte, num int32, n int) ([]KeyValue, error) {
	attrs := c.attrs(n)
	for pos := 0; pos < len(b); {
		f, p, err := pbNext(b, pos)
		if err != nil {
			return attrs, err
		}
		pos = p
		if f.num == num {
			if attrs, err = c.appendKV(attrs, f.b); err != nil {
				return attrs, err
			}
		}
	}
	return attrs, nil
}

var errIDLength = errors.New("store: trace or span id of a wrong length")

// idField reads a trace or span id as pdata does: empty is all zero.
func idField(f pbField, id []byte) error {
	if err := f.want(pbLen); err != nil {
		return err
	}
	switch len(f.b) {
	case 0:
		clear(id)
	case len(id):
		copy(id, f.b)
	default:
		return errIDLength
	}
	return nil
}

// appendKV converts the KeyValue b and appends it to kvs, which has room.
func (c *Converted) appendKV(kvs []KeyValue, b []byte) ([]KeyValue, error) {
	var key []byte
	// The value's oneof: the last field of it that came, in any of the
	// value's occurrences (pdata merges them).
	var (
		kind int32 // 0 for none, else the AnyValue field number
		n    uint64
		vb   []byte
	)
	for pos := 0; pos < len(b); {
		f, p, err := pbNext(b, pos)
		if err != nil {
			return kvs, err
		}
		pos = p
		switch f.num {
		case 1:
			key = f.b
			err = f.want(pbLen)
		case 3:
			err = f.want(pbVarint)
		case 2:
			if err = f.want(pbLen); err != nil {
				break
			}
			for vpos := 0; vpos < len(f.b) && err == nil; {
				var g pbField
				if g, vpos, err = pbNext(f.b, vpos); err != nil {
					break
				}
				var want int8 = pbVarint
				switch g.num {
				case 1, 7:
					want = pbLen
				case 4:
					want = pbI64
				case 5, 6:
					kind, vb = g.num, g.b
					if err = g.want(pbLen); err == nil {
						// Every occurrence is read, and none may be too
						// deep: the caller's cut would count it.
						var depth int
						if depth, err = checkValues(g.b, pbArray+pbMsg(g.num-5)); err == nil && depth+1 > MaxValueDepth {
							err = ErrTooDeep
						}
					}
					continue
				case 2, 3, 8:
				default:
					continue
				}
				kind, n, vb = g.num, g.n, g.b
				err = g.want(want)
			}
		}
		if err != nil {
			return kvs, err
		}
	}
	var err error
	i := len(kvs)
	kvs = kvs[:i+1] // c.attrs made room; the slot is zero
	kvs[i].Key = c.key(i, bstr(key), true)
	var v Value
	switch kind {
	case 1:
		v = StrValue(c.in.view(bstr(vb)))
	case 2:
		v = BoolValue(n != 0)
	case 3:
		v = IntValue(int64(n))
	case 4:
		v = DoubleValue(math.Float64frombits(n))
	case 7:
		v = strValue(ValueBytes, c.in.raw(string(vb)))
	case 5, 6:
		if v, err = c.nestedValue(kind, vb); err != nil {
			return kvs, err
		}
	}
	kvs[i].Value = v
	return kvs, nil
}

// nestedValue converts the array (field 5) or map (6) of an AnyValue, b
// its content, checked already (well formed, within MaxValueDepth
// levels): pdata decodes it for jsonText.
func (c *Converted) nestedValue(field int32, b []byte) (Value, error) {
	// A request of one resource attribute with that value:
	// ResourceSpans{Resource{KeyValue{value: AnyValue{field: b}}}}.
	av := appendLenField(nil, field, b)
	kv := appendLenField(nil, 2, av)
	req := appendLenField(nil, 1, appendLenField(nil, 1, appendLenField(nil, 1, kv)))
	r := ptraceotlp.NewExportRequest()
	if err := r.UnmarshalProto(req); err != nil {
		return Value{}, err
	}
	var pv pcommon.Value
	for _, v := range r.Traces().ResourceSpans().At(0).Resource().Attributes().All() {
		pv = v
	}
	return c.jsonValue(pv), nil
}

func appendLenField(out []byte, num int32, b []byte) []byte {
	out = binary.AppendUvarint(out, uint64(num)<<3|pbLen)
	out = binary.AppendUvarint(out, uint64(len(b)))
	return append(out, b...)
}

// The messages of a value that checkValues walks.
type pbMsg uint8

const (
	pbAnyValue pbMsg = iota
	pbArray
	pbKVList
	pbKeyValue
)

// checkValues reads b, a message of type t, as pdata would, and returns
// how many arrays and maps nest in it at most (t's own not counted). It
// walks with a stack of its own, as deep as b nests.
func checkValues(b []byte, t pbMsg) (int, error) {
	type frame struct {
		b     []byte
		pos   int
		t     pbMsg
		level int // the arrays and maps around
	}
	stack := []frame{{b: b, t: t}}
	depth := 0
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.pos >= len(top.b) {
			stack = stack[:len(stack)-1]
			continue
		}
		f, pos, err := pbNext(top.b, top.pos)
		if err != nil {
			return 0, err
		}
		top.pos = pos
		child, level := pbMsg(0), top.level
		switch top.t {
		case pbAnyValue:
			switch f.num {
			case 1, 7:
				err = f.want(pbLen)
			case 2, 3, 8:
				err = f.want(pbVarint)
			case 4:
				err = f.want(pbI64)
			case 5, 6:
				err = f.want(pbLen)
				child, level = pbArray+pbMsg(f.num-5), level+1
			}
		case pbArray:
			if f.num == 1 {
				err = f.want(pbLen)
				child = pbAnyValue
			}
		case pbKVList:
			if f.num == 1 {
				err = f.want(pbLen)
				child = pbKeyValue
			}
		case pbKeyValue:
			switch f.num {
			case 1:
				err = f.want(pbLen)
			case 2:
				err = f.want(pbLen)
				child = pbAnyValue
			case 3:
				err = f.want(pbVarint)
			}
		}
		if err != nil {
			return 0, err
		}
		if isChild(top.t, f.num) {
			depth = max(depth, level)
			stack = append(stack, frame{b: f.b, t: child, level: level})
		}
	}
	return depth, nil
}

// isChild says whether field num of t is a message checkValues walks.
func isChild(t pbMsg, num int32) bool {
	switch t {
	case pbAnyValue:
		return num == 5 || num == 6
	case pbArray, pbKVList:
		return num == 1
	case pbKeyValue:
		return num == 2
	}
	return false
}

// bstr views b as a string, for the interner to copy when it keeps it.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// Wire types.
const (
	pbVarint = pbwire.Varint
	pbI64    = pbwire.I64
	pbLen    = pbwire.Len
	pbI32    = pbwire.I32
)

// pbField is one field as read from the wire: n holds a varint, I64 or
// I32, b the content of a length-delimited one.
type pbField struct {
	num int32
	wt  int8
	n   uint64
	b   []byte
}

func (f pbField) want(wt int8) error {
	if f.wt != wt {
		return fmt.Errorf("proto: wrong wireType = %d for field %d", f.wt, f.num)
	}
	return nil
}

// eachField calls fn with each field of the message b, in order, stopping
// at the first error.
func eachField(b []byte, fn func(pbField) error) error {
	for pos := 0; pos < len(b); {
		f, p, err := pbNext(b, pos)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
		pos = p
	}
	return nil
}

// pbNext reads the field at b[pos:] as pdata reads a field of any number
// (its internal/proto readers: ConsumeTag, then ConsumeUnknown's rules
// for the value, groups skipped) and returns the position after it.
func pbNext(b []byte, pos int) (pbField, int, error) {
	// Most fields: a one-byte tag, and a one-byte length when they have one.
	if pos+1 < len(b) && b[pos] >= 1<<3 && b[pos] < 0x80 {
		if t, l := b[pos], int(b[pos+1]); t&7 == pbLen && l < 0x80 && pos+2+l <= len(b) {
			end := pos + 2 + l
			return pbField{num: int32(t >> 3), wt: pbLen, b: b[pos+2 : end : end]}, end, nil
		}
	}
	num, wt, pos, err := pbwire.Tag(b, pos)
	if err != nil {
		return pbField{}, 0, err
	}
	f := pbField{num: num, wt: int8(wt)}
	switch wt {
	case pbVarint:
		f.n, pos, err = pbwire.Uvarint(b, pos)
	case pbI64:
		if pos+8 > len(b) {
			return pbField{}, 0, io.ErrUnexpectedEOF
		}
		f.n, pos = binary.LittleEndian.Uint64(b[pos:]), pos+8
	case pbI32:
		if pos+4 > len(b) {
			return pbField{}, 0, io.ErrUnexpectedEOF
		}
		f.n, pos = uint64(binary.LittleEndian.Uint32(b[pos:])), pos+4
	case pbLen:
		var n int
		if n, pos, err = pbwire.Length(b, pos); err == nil {
			f.b, pos = b[pos:pos+n:pos+n], pos+n
		}
	default: // groups, skipped, and the invalid wire types
		pos, err = pbwire.Skip(b, pos, wt)
	}
	if err != nil {
		return pbField{}, 0, err
	}
	return f, pos, nil
}
