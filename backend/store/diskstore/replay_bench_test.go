package diskstore

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// writeLoad fills dir with segments of segBytes holding about total bytes
// of storetest.LoadRequests trace records, received a millisecond apart and
// ending now, as the store writes them.
func writeLoad(tb testing.TB, dir string, total, segBytes int64) (records int) {
	tb.Helper()
	const distinct = 64
	reqs, err := storetest.LoadRequests(distinct, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	per := int64(recordHeader + len(reqs[0]))
	n := int(total / per)
	at := time.Now().Add(-time.Duration(n) * time.Millisecond).UnixNano()
	seq := uint64(1)
	seg := encodeHeader()
	flush := func() {
		if err := os.WriteFile(segmentPath(dir, seq), seg, 0o600); err != nil {
			tb.Fatal(err)
		}
		seq++
		seg = encodeHeader()
	}
	for i := range n {
		// Each record a distinct request: patch the trace ids' batch half.
		p := reqs[i%distinct]
		seg = appendRecord(seg, kindTraces, at+int64(i)*int64(time.Millisecond), p)
		if int64(len(seg)) >= segBytes {
			flush()
		}
	}
	if len(seg) > headerSize {
		flush()
	}
	return n
}

// BenchmarkReplay measures Open on a data directory holding 256 MiB of
// segments of the benchmark load (512-span batches), with the default size
// bound of 256 MiB, and with a bound large enough to hold all of it in
// memory.
func BenchmarkReplay(b *testing.B) {
	const total = 255 << 20 // a full store: the size bound less the room rotation leaves
	for _, maxBytes := range []int64{256 << 20, 2 << 30} {
		b.Run(fmt.Sprintf("segments=256MiB/maxSize=%dMiB", maxBytes>>20), func(b *testing.B) {
			dir := b.TempDir()
			records := writeLoad(b, dir, total, min(max(maxBytes/16, 1<<20), 64<<20))
			quiet := WithLogger(slog.New(slog.DiscardHandler))
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				s, err := Open(dir, quiet, WithMaxBytes(maxBytes))
				if err != nil {
					b.Fatal(err)
				}
				if r := s.Recovery(); r.Records != records || len(r.Problems) != 0 {
					b.Fatalf("recovery %+v, want %d records", r, records)
				}
				b.ReportMetric(float64(s.Bytes())/(1<<20), "MiB-held")
				_ = s.Close()
			}
		})
	}
}

// BenchmarkReplayFloor measures, on one core, what replay's steps cost for
// the 255 MiB of BenchmarkReplay: reading the segments and checking their
// records' CRCs; that and pdata's decoding of every record; that and the
// conversion to memory's form. What pdata's decoding costs, divided by the
// cores, is the floor of a replay that decodes every record with pdata.
func BenchmarkReplayFloor(b *testing.B) {
	const total = 255 << 20
	dir := b.TempDir()
	writeLoad(b, dir, total, 16<<20)
	seqs, err := listSegments(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, step := range []string{"read+crc", "read+crc+pdata", "read+crc+pdata+convert"} {
		b.Run(step, func(b *testing.B) {
			b.SetBytes(total)
			b.ReportAllocs()
			for b.Loop() {
				for _, seq := range seqs {
					data, err := os.ReadFile(segmentPath(dir, seq))
					if err != nil {
						b.Fatal(err)
					}
					recs, damaged := scan(data)
					if len(damaged) > 0 {
						b.Fatal(damaged[0].why)
					}
					if step == "read+crc" {
						continue
					}
					for _, r := range recs {
						req := ptraceotlp.NewExportRequest()
						if err := req.UnmarshalProto(r.payload); err != nil {
							b.Fatal(err)
						}
						if step == "read+crc+pdata+convert" {
							_ = store.FromTraces(req.Traces())
						}
					}
				}
			}
		})
	}
}

// TestWriteLoadDir writes BenchmarkReplay's 255 MiB into the directory
// named by DISKSTORE_WRITE_LOAD, to restart a real `loupe serve
// --data-dir` on it (BENCHMARKS.md); skipped without it.
func TestWriteLoadDir(t *testing.T) {
	dir := os.Getenv("DISKSTORE_WRITE_LOAD")
	if dir == "" {
		t.Skip("DISKSTORE_WRITE_LOAD not set")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records", writeLoad(t, dir, 255<<20, 16<<20))
}
