package diskstore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/loupe-dev/loupe/backend/store"
)

// FuzzOpen opens a directory whose only segment has arbitrary content after
// (or instead of) the header: Open must not panic, must report what it did
// not read, and must leave a store that answers and reopens cleanly.
func FuzzOpen(f *testing.F) {
	seedDir := f.TempDir()
	s, err := openQuiet(seedDir)
	if err != nil {
		f.Fatal(err)
	}
	if err := writeShopErr(s, 1); err != nil {
		f.Fatal(err)
	}
	_ = s.Close()
	segs, _ := filepath.Glob(filepath.Join(seedDir, "seg-*.loupe"))
	for _, p := range segs {
		if data, _ := os.ReadFile(p); len(data) > 16 {
			f.Add(data)
			f.Add(data[:len(data)/2])
		}
	}
	f.Add([]byte("LOUPESEG\x01\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "seg-00000000000000000001.loupe"), data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := openQuiet(dir)
		if err != nil {
			return // a future-format header is refused, which is fine
		}
		for _, err := range s.FindTraces(context.Background(), store.TraceQuery{}) {
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = openQuiet(dir)
		if err != nil {
			t.Fatalf("second open: %v", err)
		}
		defer s.Close()
		if p := s.Recovery().Problems; len(p) != 0 {
			t.Fatalf("second open still finds problems: %q", p)
		}
	})
}
