package enginebench

import (
	"bytes"
	"fmt"
	"testing"
)

type record struct {
	kind    byte
	at      int64
	payload []byte
}

func readBack(t *testing.T, e engine) []record {
	t.Helper()
	var out []record
	err := e.readAll(func(kind byte, at int64, p []byte) error {
		out = append(out, record{kind, at, bytes.Clone(p)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEnginesRoundTrip holds every engine the benchmark measures to what it
// assumes: records come back after a reopen, in order and intact, and
// dropOldest removes from the old end only (the segments engine by whole
// segments, so it may keep more).
func TestEnginesRoundTrip(t *testing.T) {
	const n, drop = 20, 5
	var want []record
	for i := range n {
		want = append(want, record{byte(1 + i%3), int64(1000 + i), []byte(fmt.Sprintf("payload %d %s", i, bytes.Repeat([]byte{'x'}, i*37)))})
	}
	for _, o := range engines {
		t.Run(o.name, func(t *testing.T) {
			dir := t.TempDir()
			e, err := o.open(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i, r := range want {
				if err := e.append(r.kind, r.at, r.payload, i%7 == 0); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.close(); err != nil {
				t.Fatal(err)
			}
			if e, err = o.open(dir); err != nil {
				t.Fatal(err)
			}
			got := readBack(t, e)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("after reopen:\n got %v\nwant %v", got, want)
			}
			if err := e.dropOldest(drop); err != nil {
				t.Fatal(err)
			}
			got = readBack(t, e)
			if err := e.close(); err != nil {
				t.Fatal(err)
			}
			if len(got) < n-drop || fmt.Sprint(got) != fmt.Sprint(want[n-len(got):]) {
				t.Fatalf("after dropping the oldest %d: got %v, want a suffix of at least %d records", drop, got, n-drop)
			}
			if o.name != "segments" && len(got) != n-drop {
				t.Errorf("after dropping the oldest %d: %d records, want %d", drop, len(got), n-drop)
			}
		})
	}
}
