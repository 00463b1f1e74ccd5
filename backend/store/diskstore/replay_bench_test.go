package diskstore

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

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
