package otlpdepth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/loupe-dev/loupe/backend/store"
)

// MaxJSONDepth bounds how deeply the objects and arrays of an OTLP/JSON
// request nest once its values are cut. The request's own structure takes
// 15 levels down to an exemplar's attribute value, and each map in a value
// 4 more: 512 leaves room for the 64 levels of a value and anything a
// newer OTLP adds. What pdata skips (fields it does not know) could
// otherwise nest as deep as json-iterator's limit, 10,000.
const MaxJSONDepth = 512

// cutMember replaces an "arrayValue" or "kvlistValue" member.
var cutMember = func() []byte {
	v, _ := json.Marshal(store.TruncatedValue)
	return append([]byte(`"stringValue":`), v...)
}()

// JSON returns req, an OTLP/JSON export request, with the "arrayValue" or
// "kvlistValue" member (either spelling pdata reads) of every value nested
// inside store.MaxValueDepth others replaced by "stringValue":
// store.TruncatedValue, and the number of values replaced. It returns req
// itself when it replaces none.
//
// req must be one JSON value (RFC 8259, strings aside: their bytes are not
// checked) nested at most MaxJSONDepth levels once cut, and nothing after
// it; otherwise JSON returns an error. pdata's reader is lenient: after an
// error it reads on, and could then take for structure what is not. The
// strict reading here leaves it nothing it could misread into depth: it
// follows the request's structure, which is bounded.
func JSON(req []byte) ([]byte, int, error) {
	s := jsonScan{b: req}
	if err := s.run(); err != nil {
		return req, 0, fmt.Errorf("invalid JSON at byte %d: %w", s.pos, err)
	}
	if s.out == nil {
		return req, 0, nil
	}
	return append(s.out, req[s.copied:]...), s.cuts, nil
}

type jsonScan struct {
	b      []byte
	pos    int
	out    []byte // nil until a value is cut
	copied int    // b[:copied] is in out
	cuts   int
}

var (
	errSyntax   = errors.New("syntax error")
	errTooDeep  = fmt.Errorf("nested more than %d levels deep", MaxJSONDepth)
	errTrailing = errors.New("data after the request")
)

// run reads the request with a stack of its open objects and arrays (not
// by recursion), counting those that are the value of an "arrayValue" or
// "kvlistValue" member: the maps and arrays of the value being read.
func (s *jsonScan) run() error {
	type frame struct{ array, container bool }
	var stack []frame
	containers := 0 // frames with container set
	container := false
	const (
		wantValue = iota
		wantKey   // after '{' or a comma in an object
		afterValue
	)
	state := wantValue
	for {
		s.space()
		switch state {
		case wantValue:
			if s.pos >= len(s.b) {
				return io.ErrUnexpectedEOF
			}
			c := s.b[s.pos]
			if c == '{' || c == '[' {
				if len(stack) == MaxJSONDepth {
					return errTooDeep
				}
				stack = append(stack, frame{array: c == '[', container: container})
				if container {
					containers++
				}
				container = false
				s.pos++
				s.space()
				if s.pos < len(s.b) && (s.b[s.pos] == '}' && c == '{' || s.b[s.pos] == ']' && c == '[') {
					state = afterValue // empty; closed below
					continue
				}
				state = wantKey
				if c == '[' {
					state = wantValue
				}
				continue
			}
			if err := s.scalar(); err != nil {
				return err
			}
			container = false
			state = afterValue
		case wantKey:
			if s.pos >= len(s.b) || s.b[s.pos] != '"' {
				return errSyntax
			}
			keyStart := s.pos
			key, err := s.str()
			if err != nil {
				return err
			}
			s.space()
			if s.pos >= len(s.b) || s.b[s.pos] != ':' {
				return errSyntax
			}
			s.pos++
			state = wantValue
			if !isContainerKey(key) {
				continue
			}
			if containers < store.MaxValueDepth {
				container = true
				continue
			}
			// A map or an array inside MaxValueDepth others: the member
			// becomes the marker, its value is passed over unread.
			if s.out == nil {
				s.out = make([]byte, 0, len(s.b))
			}
			s.out = append(s.out, s.b[s.copied:keyStart]...)
			s.out = append(s.out, cutMember...)
			s.space()
			if err := s.skipValue(); err != nil {
				return err
			}
			s.copied = s.pos
			s.cuts++
			state = afterValue
		case afterValue:
			if len(stack) == 0 {
				if s.pos != len(s.b) {
					return errTrailing
				}
				return nil
			}
			if s.pos >= len(s.b) {
				return io.ErrUnexpectedEOF
			}
			top := stack[len(stack)-1]
			switch c := s.b[s.pos]; {
			case c == ',':
				state = wantKey
				if top.array {
					state = wantValue
				}
			case c == '}' && !top.array || c == ']' && top.array:
				stack = stack[:len(stack)-1]
				if top.container {
					containers--
				}
			default:
				return errSyntax
			}
			s.pos++
		}
	}
}

// isContainerKey reports whether a member's name (still quoted and
// escaped) is one pdata reads as an AnyValue's array or map.
func isContainerKey(raw []byte) bool {
	switch string(raw) {
	case `"arrayValue"`, `"array_value"`, `"kvlistValue"`, `"kvlist_value"`:
		return true
	}
	return bytes.IndexByte(raw, '\\') >= 0 && isEscapedContainerKey(raw)
}

// isEscapedContainerKey is isContainerKey for a name written with escapes,
// read as pdata reads it.
func isEscapedContainerKey(raw []byte) bool {
	var k string
	if json.Unmarshal(raw, &k) != nil {
		return false
	}
	switch k {
	case "arrayValue", "array_value", "kvlistValue", "kvlist_value":
		return true
	}
	return false
}

func (s *jsonScan) space() {
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// str reads a string and returns it as written, quotes included.
func (s *jsonScan) str() ([]byte, error) {
	start := s.pos
	s.pos++ // the opening quote
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case '"':
			s.pos++
			return s.b[start:s.pos], nil
		case '\\':
			s.pos++
			if s.pos >= len(s.b) {
				return nil, io.ErrUnexpectedEOF
			}
			switch s.b[s.pos] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if s.pos+4 >= len(s.b) {
					return nil, io.ErrUnexpectedEOF
				}
				for _, h := range s.b[s.pos+1 : s.pos+5] {
					if !isHex(h) {
						return nil, errSyntax
					}
				}
				s.pos += 4
			default:
				return nil, errSyntax
			}
		}
		s.pos++
	}
	return nil, io.ErrUnexpectedEOF
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scalar reads a string, a number, true, false or null.
func (s *jsonScan) scalar() error {
	if s.pos >= len(s.b) {
		return io.ErrUnexpectedEOF
	}
	switch c := s.b[s.pos]; {
	case c == '"':
		_, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || isDigit(c):
		return s.number()
	}
	return errSyntax
}

func (s *jsonScan) literal(l string) error {
	if len(s.b)-s.pos < len(l) || string(s.b[s.pos:s.pos+len(l)]) != l {
		return errSyntax
	}
	s.pos += len(l)
	return nil
}

// number reads -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *jsonScan) number() error {
	digits := func() bool {
		start := s.pos
		for s.pos < len(s.b) && isDigit(s.b[s.pos]) {
			s.pos++
		}
		return s.pos > start
	}
	if s.b[s.pos] == '-' {
		s.pos++
	}
	if s.pos < len(s.b) && s.b[s.pos] == '0' {
		s.pos++
	} else if !digits() {
		return errSyntax
	}
	if s.pos < len(s.b) && s.b[s.pos] == '.' {
		s.pos++
		if !digits() {
			return errSyntax
		}
	}
	if s.pos < len(s.b) && (s.b[s.pos] == 'e' || s.b[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.b) && (s.b[s.pos] == '+' || s.b[s.pos] == '-') {
			s.pos++
		}
		if !digits() {
			return errSyntax
		}
	}
	return nil
}

// skipValue passes over a value that is cut, counting brackets: nothing of
// it reaches pdata, so only its end matters.
func (s *jsonScan) skipValue() error {
	if s.pos < len(s.b) && s.b[s.pos] != '{' && s.b[s.pos] != '[' {
		return s.scalar()
	}
	depth := 0
	for s.pos < len(s.b) {
		switch s.b[s.pos] {
		case '"':
			if _, err := s.str(); err != nil {
				return err
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.pos++
				return nil
			}
		}
		s.pos++
	}
	return io.ErrUnexpectedEOF
}
