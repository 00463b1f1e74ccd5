package store

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// LogText is a LogQuery's Text prepared for matching: build it once per
// search with [NewLogText], then [LogText.Match] each record.
//
// A record matches when, without regard to case, its body contains the
// text, or the text of one of its attributes' values does, or the text is
// key=value and the record's attribute key has exactly that value. Keys
// alone, resource attributes and the service name do not match: the
// service has its own filter, and every record of a service would match
// its resource's values.
//
// Matching allocates nothing for string, boolean and numeric values and an
// ASCII text: ASCII letters are compared without case, byte by byte, at a
// cost linear in the bytes read whatever the text (Rabin-Karp once a text
// fails too often at candidate positions, as strings.Index does). A text
// with other characters is compared with both sides lower-cased by
// strings.ToLower, which allocates for a value that is not ASCII.
type LogText struct {
	lower      string // the text, strings.ToLower
	ascii      bool   // lower is ASCII
	key, value string // the text's key=value parts, or "" when it has none
}

// NewLogText prepares text. An empty text matches every record.
func NewLogText(text string) LogText {
	t := LogText{lower: strings.ToLower(text), ascii: isASCII(text)}
	if k, v, ok := strings.Cut(text, "="); ok && k != "" && !strings.ContainsAny(k, " \t") {
		t.key, t.value = k, v
	}
	return t
}

// Match reports whether r's body or attributes match the text.
func (t *LogText) Match(r *LogRecord) bool {
	if t.lower == "" || t.valueContains(r.Body) {
		return true
	}
	for _, kv := range r.Attributes {
		if t.valueContains(kv.Value) {
			return true
		}
		if t.key != "" && strings.EqualFold(kv.Key, t.key) && t.valueEquals(kv.Value) {
			return true
		}
	}
	return false
}

// valueContains reports whether v's text contains t's.
func (t *LogText) valueContains(v Value) bool {
	var buf [32]byte
	switch v.Type() {
	case ValueStr, ValueSlice, ValueMap:
		return t.contains(v.s)
	case ValueBool:
		return t.contains(strconv.FormatBool(v.Bool())) // a constant: no allocation
	case ValueInt:
		return t.containsBytes(strconv.AppendInt(buf[:0], v.Int(), 10))
	case ValueDouble:
		return t.containsBytes(strconv.AppendFloat(buf[:0], v.Double(), 'g', -1, 64))
	case ValueBytes:
		return t.contains(v.AsString())
	}
	return false
}

func (t *LogText) valueEquals(v Value) bool {
	switch v.Type() {
	case ValueStr:
		return strings.EqualFold(v.s, t.value)
	case ValueEmpty:
		return t.value == ""
	}
	return strings.EqualFold(v.AsString(), t.value)
}

func (t *LogText) contains(s string) bool {
	if t.ascii {
		return indexFoldASCII(s, t.lower) >= 0
	}
	return !isASCII(s) && strings.Contains(strings.ToLower(s), t.lower)
}

func (t *LogText) containsBytes(b []byte) bool {
	return t.ascii && indexFoldASCII(b, t.lower) >= 0 // numbers are ASCII
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerASCII lower-cases an ASCII letter and leaves every other byte.
func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// indexFoldASCII is the index of the first instance of sub in s, ASCII
// letters compared without case, or -1. sub is lower-case ASCII.
func indexFoldASCII[S string | []byte](s S, sub string) int {
	n := len(sub)
	switch {
	case n == 0:
		return 0
	case n > len(s):
		return -1
	}
	c0, c1 := sub[0], sub[0] // sub's first byte in either case
	if 'a' <= c0 && c0 <= 'z' {
		c1 = c0 - 'a' + 'A'
	}
	last := len(s) - n // the last position sub can start at
	// The next positions of c0 and c1 from i on, last+1 when none: each
	// is searched for (with IndexByte's vector instructions) once i has
	// passed it, so that s is read at most twice.
	next0, next1 := -1, last+1
	if c1 != c0 {
		next1 = -1
	}
	fails := 0
	for i := 0; i <= last; i++ {
		if next0 < i {
			next0 = nextByte(s, i, last, c0)
		}
		if next1 < i {
			next1 = nextByte(s, i, last, c1)
		}
		if i = min(next0, next1); i > last {
			return -1
		}
		if equalFoldASCII(s[i+1:i+n], sub[1:]) {
			return i
		}
		// Too many false starts for the bytes read: finish in linear time.
		if fails++; fails > 4+i>>4 {
			if j := rabinKarpFold(s[i+1:], sub); j >= 0 {
				return i + 1 + j
			}
			return -1
		}
	}
	return -1
}

// nextByte is the first position of c in s[from:last+1], or last+1.
func nextByte[S string | []byte](s S, from, last int, c byte) int {
	if j := strings.IndexByte(string(s[from:last+1]), c); j >= 0 {
		return from + j
	}
	return last + 1
}

// equalFoldASCII reports whether a equals b, a lower-case ASCII string of
// the same length, ASCII letters compared without case.
func equalFoldASCII[S string | []byte](a S, b string) bool {
	for i := 0; i < len(b); i++ {
		if lowerASCII(a[i]) != b[i] {
			return false
		}
	}
	return true
}

// primeRK is the prime base of strings.Index's Rabin-Karp.
const primeRK = 16777619

// rabinKarpFold is indexFoldASCII by Rabin-Karp over lower-cased bytes.
func rabinKarpFold[S string | []byte](s S, sub string) int {
	n := len(sub)
	if n > len(s) {
		return -1
	}
	var want, pow uint32 = 0, 1
	for i := 0; i < n; i++ {
		want = want*primeRK + uint32(sub[i])
		pow *= primeRK
	}
	var h uint32
	for i := 0; i < n; i++ {
		h = h*primeRK + uint32(lowerASCII(s[i]))
	}
	for i := n; ; i++ {
		if h == want && equalFoldASCII(s[i-n:i], sub) {
			return i - n
		}
		if i == len(s) {
			return -1
		}
		h = h*primeRK + uint32(lowerASCII(s[i])) - pow*uint32(lowerASCII(s[i-n]))
	}
}
