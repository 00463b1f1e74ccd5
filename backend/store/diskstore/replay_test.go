package diskstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
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

// writeSegments writes segments 1..len(recs) of dir, segment i holding the
// trace records recs[i-1], received now.
func writeSegments(t *testing.T, dir string, recs ...[][]byte) {
	t.Helper()
	for i, payloads := range recs {
		seg := encodeHeader()
		for _, p := range payloads {
			seg = appendRecord(seg, kindTraces, time.Now().UnixNano(), p)
		}
		if err := os.WriteFile(segmentPath(dir, uint64(i+1)), seg, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplayResumesAfterDamage damages records in the middle of a segment:
// a flipped byte, and the half of a record a failed write left before the
// rollback existed (issue 10: replay stopped there and dropped the rest of
// the segment, up to 16.8 MB). Replay now moves only the damaged bytes to
// <segment>.corrupt and serves every whole record after them; the next
// start finds nothing wrong.
func TestReplayResumesAfterDamage(t *testing.T) {
	for _, damage := range []string{"flipped byte", "half a record"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			var seg []byte
			seg = encodeHeader()
			var cutFrom, cutTo int
			for i := byte(1); i <= 6; i++ {
				rec := appendRecord(nil, kindTraces, time.Now().UnixNano(), spanRecord(i))
				switch {
				case i == 3 && damage == "flipped byte":
					cutFrom, cutTo = len(seg), len(seg)+len(rec)
					rec[len(rec)/2] ^= 0xff
				case i == 3:
					cutFrom, cutTo = len(seg), len(seg)+len(rec)/2
					rec = rec[:len(rec)/2]
				}
				seg = append(seg, rec...)
			}
			path := segmentPath(dir, 1)
			if err := os.WriteFile(path, seg, 0o600); err != nil {
				t.Fatal(err)
			}
			s, _ := openLogged(t, dir)
			r := s.Recovery()
			if r.Records != 5 || r.Damaged != 1 || len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "up to the next whole record") {
				t.Fatalf("recovery %+v", r)
			}
			served(t, s, 1, 2, 4, 5, 6)
			if _, err := s.Trace(context.Background(), storetest.TID(3)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("damaged trace 3 served: %v", err)
			}
			aside, err := os.ReadFile(path + ".corrupt")
			if err != nil || !bytes.Equal(aside, seg[cutFrom:cutTo]) {
				t.Errorf("set aside %d bytes, want the %d damaged ones: %v", len(aside), cutTo-cutFrom, err)
			}
			_ = s.Close()
			s, _ = openLogged(t, dir)
			if r := s.Recovery(); r.Records != 5 || len(r.Problems) != 0 {
				t.Errorf("second open: %+v", r)
			}
			served(t, s, 1, 2, 4, 5, 6)
		})
	}
}

// TestResyncIsBounded replays a segment of crafted damage: a candidate
// record header every 18 bytes, each claiming a MiB, so that checking
// every candidate's CRC would read about 230 GB. The CRC work is bounded:
// the replay ends at once with the damage, to the end of the segment, set
// aside.
func TestResyncIsBounded(t *testing.T) {
	dir := t.TempDir()
	const size = 4 << 20
	junk := make([]byte, size)
	for off := 0; off+recordHeader+1 < size; off += recordHeader + 1 {
		binary.LittleEndian.PutUint32(junk[off:], uint32(min(1<<20, size-off-recordHeader)))
		junk[off+8] = kindTraces
		junk[off+recordHeader] = 0x0a
	}
	seg := append(encodeHeader(), junk...)
	if err := os.WriteFile(segmentPath(dir, 1), seg, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s, _ := openLogged(t, dir)
	took := time.Since(start)
	t.Logf("replayed %d MiB of crafted damage in %v", size>>20, took)
	if r := s.Recovery(); r.Damaged != 1 || r.Records != 0 {
		t.Errorf("recovery %+v", r)
	}
	if took > 10*time.Second {
		t.Errorf("took %v", took)
	}
}

// TestAsideDataIsBounded: data set aside (.corrupt, .rejected) counts
// against the size bound and ages out with the retention, oldest first
// with the segments. Before, it was never counted nor removed.
func TestAsideDataIsBounded(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	writeSegments(t, dir, [][]byte{spanRecord(1)}, [][]byte{spanRecord(2)})
	old := filepath.Join(dir, segmentName(1)+".corrupt")
	if err := os.WriteFile(old, make([]byte, 300<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(old, now.Add(-2*time.Hour), now.Add(-2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	recent := filepath.Join(dir, segmentName(2)+".rejected")
	if err := os.WriteFile(recent, make([]byte, 600<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, WithLogger(slog.New(slog.DiscardHandler)), WithRetention(time.Hour), WithMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(old); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("aside data older than the retention kept: %v", err)
	}
	if _, err := os.Stat(recent); err != nil {
		t.Errorf("recent aside data within the bounds removed: %v", err)
	}
	served(t, s, 1, 2)
	// More aside data than the size bound holds: the oldest goes, data
	// included.
	if err := os.WriteFile(recent, make([]byte, 1100<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s, err = Open(dir, WithLogger(slog.New(slog.DiscardHandler)), WithRetention(time.Hour), WithMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(recent); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("aside data past the size bound kept: %v", err)
	}
	if _, err := os.Stat(segmentPath(dir, 1)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the oldest segment kept past the size bound: %v", err)
	}
}

// TestStartServesWhileReplaying holds the replay after its first segment:
// Start has returned, queries answer what is replayed so far, writes are
// refused as retryable with the progress; once the replay is over, all is
// served and writes are taken.
func TestStartServesWhileReplaying(t *testing.T) {
	dir := t.TempDir()
	writeSegments(t, dir, [][]byte{spanRecord(1), spanRecord(2)}, [][]byte{spanRecord(3)})
	hold, held := make(chan struct{}), make(chan struct{}, 2)
	s, err := Start(dir, WithLogger(slog.New(slog.DiscardHandler)), optionFunc(func(c *config) {
		c.afterSegment = func() { held <- struct{}{}; <-hold }
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	<-held
	served(t, s, 1, 2)
	if _, err := s.Trace(context.Background(), storetest.TID(3)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("trace 3 before its segment is replayed: %v", err)
	}
	_, err = s.WriteTraces(context.Background(), storetest.Traces(storetest.SpanSpec{Service: "api", Trace: 4, ID: 1, Name: "x"}))
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "replaying") || !strings.Contains(err.Error(), "%") {
		t.Errorf("write while replaying: %v", err)
	}
	if done, all := s.Progress(); done == 0 || done >= all {
		t.Errorf("progress %d of %d", done, all)
	}
	close(hold)
	if err := s.WaitReplay(context.Background()); err != nil {
		t.Fatal(err)
	}
	served(t, s, 1, 2, 3)
	if _, err := s.WriteTraces(context.Background(), storetest.Traces(storetest.SpanSpec{Service: "api", Trace: 4, ID: 1, Name: "x"})); err != nil || s.Err() != nil {
		t.Errorf("write after the replay: %v (%v)", err, s.Err())
	}
}

// TestCloseDuringReplay closes a store whose replay is held: Close stops
// the replay and returns, leaking nothing (goleak).
func TestCloseDuringReplay(t *testing.T) {
	dir := t.TempDir()
	writeSegments(t, dir, [][]byte{spanRecord(1)}, [][]byte{spanRecord(2)})
	held := make(chan struct{}, 2)
	release := make(chan struct{})
	s, err := Start(dir, WithLogger(slog.New(slog.DiscardHandler)), optionFunc(func(c *config) {
		c.afterSegment = func() { held <- struct{}{}; <-release }
	}))
	if err != nil {
		t.Fatal(err)
	}
	<-held
	closed := make(chan error)
	go func() { closed <- s.Close() }()
	time.Sleep(10 * time.Millisecond)
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if len(s.segs) != 1 {
		t.Errorf("stored %d segments after Close, want 1", len(s.segs))
	}
}

// TestReplayDecodesOnlyWhatMemoryKeeps replays more records than memory's
// bound holds, the oldest of them one that does not decode: it is never
// decoded (memory would evict it at once), so neither rejected nor set
// aside, while the newest records are served and the oldest good ones are
// not, as before the restart.
func TestReplayDecodesOnlyWhatMemoryKeeps(t *testing.T) {
	dir := t.TempDir()
	recs := [][]byte{{0x0a, 0x05, 0xff, 0xff}}
	for i := byte(1); i <= 200; i++ {
		recs = append(recs, spanRecord(i))
	}
	writeSegments(t, dir, recs[:100], recs[100:])
	s, err := Open(dir, WithLogger(slog.New(slog.DiscardHandler)), WithMaxBytes(32<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r := s.Recovery(); r.Rejected != 0 || len(r.Problems) != 0 || r.Records != 201 {
		t.Errorf("recovery %+v", r)
	}
	served(t, s, 200, 199)
	if _, err := s.Trace(context.Background(), storetest.TID(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("trace 1, past the bound, served: %v", err)
	}
	if _, err := os.Stat(segmentPath(dir, 1) + ".rejected"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a record past the bound was decoded and set aside: %v", err)
	}
}

// TestReadAhead reads segments of changing sizes through the two buffers
// that take turns, each checked while the next one is being read, then a
// missing one; and stops a reader half-way (goleak checks it ends).
func TestReadAhead(t *testing.T) {
	dir := t.TempDir()
	// Sizes that make a buffer grow, shrink and grow again.
	var payloads [][][]byte
	for _, n := range []int{3, 40, 1, 25, 2} {
		var recs [][]byte
		for j := range n {
			recs = append(recs, spanRecord(byte(len(payloads)*50+j)))
		}
		payloads = append(payloads, recs)
	}
	writeSegments(t, dir, payloads...)
	var paths []string
	for i := range payloads {
		paths = append(paths, segmentPath(dir, uint64(i+1)))
	}
	missing := filepath.Join(dir, "seg-missing.loupe")

	next, stop := readAhead(append(paths, missing, paths[0]))
	for i, want := range payloads {
		seg := next()
		if seg.err != nil || len(seg.damaged) != 0 || len(seg.recs) != len(want) {
			t.Fatalf("segment %d: %d records, damage %v, error %v; want %d records", i+1, len(seg.recs), seg.damaged, seg.err, len(want))
		}
		for j, r := range seg.recs {
			if !bytes.Equal(r.payload, want[j]) {
				t.Fatalf("segment %d, record %d: payload differs from the one written", i+1, j)
			}
		}
	}
	for range 2 { // the error, then the error again: nothing is read after it
		if seg := next(); !errors.Is(seg.err, os.ErrNotExist) {
			t.Fatalf("after the missing segment: %+v, want its not-exist error", seg.err)
		}
	}
	stop()

	next, stop = readAhead(paths)
	if seg := next(); seg.err != nil || len(seg.recs) != len(payloads[0]) {
		t.Fatalf("first segment: %d records, %v", len(seg.recs), seg.err)
	}
	stop() // the reader is blocked handing out the second segment
}
