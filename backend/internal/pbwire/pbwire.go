// Package pbwire reads protobuf as pdata does (its internal/proto/unmarshal.go):
// code that reads an OTLP request besides pdata (otlpdepth before it,
// store.TracesFromProto instead of it) then accepts and refuses exactly
// what pdata does, down to the field number of an oversized tag.
package pbwire

import (
	"errors"
	"fmt"
	"io"
)

// Wire types.
const (
	Varint     = 0
	I64        = 1
	Len        = 2
	StartGroup = 3
	EndGroup   = 4
	I32        = 5
)

var (
	errOverflow = errors.New("proto: integer overflow")
	errLength   = errors.New("proto: negative length found during unmarshaling")
)

// Uvarint reads a varint at b[pos:] and returns it with the position after it.
func Uvarint(b []byte, pos int) (uint64, int, error) {
	if pos < len(b) && b[pos] < 0x80 {
		return uint64(b[pos]), pos + 1, nil
	}
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 64 {
			return 0, 0, errOverflow
		}
		if pos >= len(b) {
			return 0, 0, io.ErrUnexpectedEOF
		}
		c := b[pos]
		pos++
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, pos, nil
		}
	}
}

// Tag reads a tag and returns its field number (the low 32 bits of
// tag>>3, as pdata has it), its wire type and the position after it.
func Tag(b []byte, pos int) (int32, int, int, error) {
	v, pos, err := Uvarint(b, pos)
	if err != nil {
		return 0, 0, 0, err
	}
	f := int32(v >> 3)
	if f <= 0 {
		return 0, 0, 0, fmt.Errorf("proto: illegal field=%d (tag=%d, pos=%d)", f, v, pos)
	}
	return f, int(v & 7), pos, nil
}

// Length reads a length and returns it with the position of what it
// measures.
func Length(b []byte, pos int) (int, int, error) {
	v, pos, err := Uvarint(b, pos)
	if err != nil {
		return 0, 0, err
	}
	l := int(v)
	if l < 0 {
		return 0, 0, errLength
	}
	if end := pos + l; end < 0 || end > len(b) {
		return 0, 0, io.ErrUnexpectedEOF
	}
	return l, pos, nil
}

// Skip passes over a field's value, as pdata's ConsumeUnknown does
// (iteratively, groups included).
func Skip(b []byte, pos int, wire int) (int, error) {
	switch wire {
	case Varint:
		if pos < len(b) && b[pos] < 0x80 {
			return pos + 1, nil
		}
	case Len:
		if pos < len(b) && b[pos] < 0x80 {
			if end := pos + 1 + int(b[pos]); end <= len(b) {
				return end, nil
			}
		}
	}
	depth := 0
	for pos < len(b) {
		var err error
		switch wire {
		case Varint:
			_, pos, err = Uvarint(b, pos)
			return pos, err
		case I64, I32:
			n := 8
			if wire == I32 {
				n = 4
			}
			if pos += n; pos < 0 || pos > len(b) {
				return 0, io.ErrUnexpectedEOF
			}
			return pos, nil
		case Len:
			var l int
			l, pos, err = Length(b, pos)
			return pos + l, err
		case StartGroup:
			depth++
		case EndGroup:
			if depth == 0 {
				return 0, errors.New("proto: unexpected end of group")
			}
			depth--
		default:
			return 0, fmt.Errorf("proto: illegal wireType %d", wire)
		}
		if depth == 0 {
			return pos, nil
		}
		if _, wire, pos, err = Tag(b, pos); err != nil {
			return 0, err
		}
	}
	return 0, io.ErrUnexpectedEOF
}
