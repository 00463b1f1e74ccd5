package store

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// indexFoldRef is indexFoldASCII the slow way.
func indexFoldRef(s, sub string) int {
	lower := []byte(s)
	for i, c := range lower {
		lower[i] = lowerASCII(c)
	}
	return bytes.Index(lower, []byte(sub))
}

func TestIndexFoldASCII(t *testing.T) {
	for _, tc := range []struct{ s, sub string }{
		{"", ""}, {"abc", ""}, {"", "a"}, {"ab", "abc"},
		{"Payment DECLINED", "declined"}, {"Payment DECLINED", "payment"}, {"xx-yy", "-y"},
		{"aAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAb", "aaab"}, // false starts: Rabin-Karp
		{strings.Repeat("a", 200), strings.Repeat("a", 20) + "b"},
		{strings.Repeat("ab", 100) + "ABC", "abc"},
		{"caf\xc3\xa9 Z", "z"}, {"\xff\xfeQ", "q"}, {"[", "{"}, {"@", "`"}, // bytes that |0x20 confuses
	} {
		if got, want := indexFoldASCII(tc.s, tc.sub), indexFoldRef(tc.s, tc.sub); got != want {
			t.Errorf("indexFoldASCII(%q, %q) = %d, want %d", tc.s, tc.sub, got, want)
		}
		if got, want := indexFoldASCII([]byte(tc.s), tc.sub), indexFoldRef(tc.s, tc.sub); got != want {
			t.Errorf("indexFoldASCII([]byte(%q), %q) = %d, want %d", tc.s, tc.sub, got, want)
		}
	}
}

func FuzzIndexFoldASCII(f *testing.F) {
	f.Add("Payment DECLINED after 3 tries", "declined")
	f.Add("aAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAaAb", "aab")
	f.Fuzz(func(t *testing.T, s, sub string) {
		sub = strings.Map(func(r rune) rune {
			if r >= 0x80 {
				return -1
			}
			return rune(lowerASCII(byte(r)))
		}, sub)
		if got, want := indexFoldASCII(s, sub), indexFoldRef(s, sub); got != want {
			t.Fatalf("indexFoldASCII(%q, %q) = %d, want %d", s, sub, got, want)
		}
	})
}

// TestLogTextLinear: a text that fails at every position of a long value
// costs no more than reading the value a few times.
func TestLogTextLinear(t *testing.T) {
	value := strings.Repeat("a", 1<<20)
	text := NewLogText(strings.Repeat("A", 4096) + "b")
	r := &LogRecord{Body: StrValue(value)}
	began := time.Now()
	if text.Match(r) {
		t.Fatal("matched")
	}
	// Naively 4096 bytes compared at each of 1 Mi positions: seconds.
	if d := time.Since(began); d > 500*time.Millisecond {
		t.Errorf("a failing search of 1 MiB took %v", d)
	}
}

func TestLogTextNotASCII(t *testing.T) {
	r := &LogRecord{Body: StrValue("Überweisung FEHLGESCHLAGEN"), Attributes: []KeyValue{{"city", StrValue("MÜNCHEN")}, {"bad", StrValue("x\xffy")}}}
	for text, want := range map[string]bool{
		"überweisung": true, "münchen": true, "MÜNCHEN": true, "city=münchen": true, "fehlgeschlagen": true,
		"zürich": false, "x\xffy": true, "\ufffd": true, // strings.ToLower maps invalid bytes to U+FFFD on both sides
	} {
		lt := NewLogText(text)
		if got := lt.Match(r); got != want {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}
