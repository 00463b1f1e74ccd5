package diskstore

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// writeSegment writes segment 1 of dir with the given trace records,
// received now.
func writeSegment(t *testing.T, dir string, payloads ...[]byte) string {
	t.Helper()
	seg := encodeHeader()
	for _, p := range payloads {
		seg = appendRecord(seg, kindTraces, time.Now().UnixNano(), p)
	}
	path := segmentPath(dir, 1)
	if err := os.WriteFile(path, seg, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// spanRecord is the payload of a record holding one span of trace n.
func spanRecord(n byte) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(storetest.Traces(storetest.SpanSpec{Service: "api", Trace: n, ID: 1, Name: "GET /"})).MarshalProto()
	if err != nil {
		panic(err)
	}
	return b
}

func openLogged(t *testing.T, dir string) (*Store, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	s, err := Open(dir, WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, &log
}

func served(t *testing.T, s *Store, traces ...byte) {
	t.Helper()
	for _, n := range traces {
		if tr, err := s.Trace(context.Background(), storetest.TID(n)); err != nil || len(tr.Spans) != 1 {
			t.Errorf("trace %d: %v %v", n, tr, err)
		}
	}
}

// TestReplayCutsDeepValues replays a record written before the receiver cut
// deep values: the span of issue 10, nested a million levels, between two
// others. Replay overflowed the stack on every start; now the value is cut
// as on receipt, counted and reported, and the records around it served.
func TestReplayCutsDeepValues(t *testing.T) {
	dir := t.TempDir()
	writeSegment(t, dir, spanRecord(1), storetest.DeepTracesProto(0xde, 1_000_000), spanRecord(2))
	start := time.Now()
	s, log := openLogged(t, dir)
	t.Logf("opened in %v", time.Since(start))
	r := s.Recovery()
	if r.Records != 3 || r.Truncated != 1 || r.Rejected != 0 || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "1 value(s) nested deeper than 64 levels cut") {
		t.Errorf("recovery %+v", r)
	}
	if !strings.Contains(log.String(), "nested deeper than 64 levels") {
		t.Errorf("not logged: %s", log)
	}
	served(t, s, 1, 2, 0xde)
	tr, _ := s.Trace(context.Background(), storetest.TID(0xde))
	if v, _ := store.Lookup(tr.Spans[0].Attributes, "deep"); v.AsString() != storetest.NestedText(1_000_000) {
		t.Errorf("deep value %.200s…", v.AsString())
	}
}

// TestReplaySetsAsideWhatCannotBeStored replays a segment whose second
// record is whole (its CRC holds) but does not decode: it is moved to
// <segment>.rejected, reported, and the records after it are served, now
// and at the next start, which finds nothing wrong.
func TestReplaySetsAsideWhatCannotBeStored(t *testing.T) {
	dir := t.TempDir()
	bad := []byte{0x0a, 0x05, 0xff, 0xff} // a length past the end
	path := writeSegment(t, dir, spanRecord(1), bad, spanRecord(2), bad, spanRecord(3))
	before, _ := os.ReadFile(path)

	s, log := openLogged(t, dir)
	r := s.Recovery()
	if r.Records != 3 || r.Rejected != 2 || len(r.Problems) != 2 {
		t.Fatalf("recovery %+v", r)
	}
	for _, p := range r.Problems {
		if !strings.Contains(p, "cannot be stored") || !strings.Contains(p, path+".rejected") {
			t.Errorf("problem %q", p)
		}
	}
	if strings.Count(log.String(), "cannot be stored") != 2 {
		t.Errorf("not logged: %s", log)
	}
	served(t, s, 1, 2, 3)

	// Kept aside as a segment of its own, and gone from the segment.
	aside, err := os.ReadFile(path + ".rejected")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkHeader(aside); err != nil {
		t.Fatal(err)
	}
	for i, off := 0, headerSize; i < 2; i++ {
		rec, n, err := nextRecord(aside[off:])
		if err != nil || !bytes.Equal(rec.payload, bad) {
			t.Fatalf("set-aside record %d: %v %x", i, err, rec.payload)
		}
		off += n
		if i == 1 && off != len(aside) {
			t.Errorf("%d bytes after the set-aside records", len(aside)-off)
		}
	}
	after, _ := os.ReadFile(path)
	if want := len(before) - 2*(recordHeader+len(bad)); len(after) != want {
		t.Errorf("segment of %d bytes, want %d", len(after), want)
	}

	_ = s.Close()
	s, _ = openLogged(t, dir)
	if r := s.Recovery(); r.Records != 3 || len(r.Problems) != 0 {
		t.Errorf("second open: %+v", r)
	}
	served(t, s, 1, 2, 3)
}
