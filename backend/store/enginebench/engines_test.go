package enginebench

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// payloads are the OTLP/protobuf requests of backend/peer's
// BenchmarkMillionSpans: 512-span batches, 5 services, 20 operations,
// 8-span traces, 3 attributes.
func payloads(tb testing.TB, n int) [][]byte {
	const batchSpans, spansPerTrace, services, operations = 512, 8, 5, 20
	start := time.Now()
	out := make([][]byte, n)
	var seq uint64
	for i := range out {
		td := ptrace.NewTraces()
		for s := range services {
			rs := td.ResourceSpans().AppendEmpty()
			rs.Resource().Attributes().PutStr("service.name", fmt.Sprintf("svc-%d", s))
			rs.Resource().Attributes().PutStr("host.name", "bench-host")
			ss := rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName("bench")
			per := batchSpans / services
			if s == services-1 {
				per = batchSpans - per*(services-1)
			}
			var tid pcommon.TraceID
			var root pcommon.SpanID
			for k := range per {
				seq++
				if k%spansPerTrace == 0 {
					binary.BigEndian.PutUint64(tid[:8], uint64(i)+1)
					binary.BigEndian.PutUint64(tid[8:], seq)
				}
				var sid pcommon.SpanID
				binary.BigEndian.PutUint64(sid[:], seq)
				sp := ss.Spans().AppendEmpty()
				sp.SetTraceID(tid)
				sp.SetSpanID(sid)
				if k%spansPerTrace == 0 {
					root = sid
				} else {
					sp.SetParentSpanID(root)
				}
				sp.SetName(fmt.Sprintf("op-%d", seq%operations))
				sp.SetKind(ptrace.SpanKindServer)
				end := start.Add(-time.Duration(n-i) * time.Millisecond)
				sp.SetStartTimestamp(pcommon.NewTimestampFromTime(end.Add(-time.Duration(1+seq%50) * time.Millisecond)))
				sp.SetEndTimestamp(pcommon.NewTimestampFromTime(end))
				sp.Attributes().PutStr("http.request.method", "GET")
				sp.Attributes().PutInt("http.response.status_code", 200)
				sp.Attributes().PutStr("url.path", "/api/items/"+strconv.FormatUint(seq%1000, 10))
			}
		}
		b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			tb.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func cpu() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func diskBytes(tb testing.TB, dir string) int64 {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// BenchmarkEngines stores 1M spans (1954 requests) in each engine as the
// persistent path does (each request must reach the OS before it is
// acknowledged, no fsync), then reports ingest rate and CPU, the cost of an
// fsync per request, bytes on disk, the time to read everything back (the
// I/O part of a restart; replaying into memory costs the same for all) and
// the time to evict the oldest half.
func BenchmarkEngines(b *testing.B) {
	const total = 1_000_000
	data := payloads(b, (total+511)/512)
	for _, o := range engines {
		b.Run("engine="+o.name, func(b *testing.B) {
			dir := b.TempDir()
			e, err := o.open(dir)
			if err != nil {
				b.Fatal(err)
			}
			c0, t0 := cpu(), time.Now()
			for i, p := range data {
				if err := e.append(1, int64(i), p, false); err != nil {
					b.Fatal(err)
				}
			}
			elapsed, cpuUsed := time.Since(t0), cpu()-c0
			const durableN = 50
			t1 := time.Now()
			for i := range durableN {
				if err := e.append(1, int64(len(data)+i), data[i], true); err != nil {
					b.Fatal(err)
				}
			}
			durable := time.Since(t1) / durableN
			if err := e.close(); err != nil {
				b.Fatal(err)
			}
			disk := diskBytes(b, dir)

			t2 := time.Now()
			if e, err = o.open(dir); err != nil {
				b.Fatal(err)
			}
			records, bytes := 0, 0
			if err := e.readAll(func(_ byte, _ int64, p []byte) error { records++; bytes += len(p); return nil }); err != nil {
				b.Fatal(err)
			}
			readAll := time.Since(t2)
			if records != len(data)+durableN {
				b.Fatalf("read %d records, want %d", records, len(data)+durableN)
			}
			t3 := time.Now()
			if err := e.dropOldest(len(data) / 2); err != nil {
				b.Fatal(err)
			}
			evict := time.Since(t3)
			if err := e.close(); err != nil {
				b.Fatal(err)
			}
			spans := float64(len(data) * 512)
			b.ReportMetric(spans/elapsed.Seconds(), "spans/s")
			b.ReportMetric(float64(cpuUsed)/spans, "cpu-ns/span")
			b.ReportMetric(float64(durable)/1e6, "fsync-write-ms")
			b.ReportMetric(float64(disk)/float64(bytes), "disk/payload")
			b.ReportMetric(float64(disk)/(1<<20), "disk-MiB")
			b.ReportMetric(readAll.Seconds(), "reopen-read-s")
			b.ReportMetric(evict.Seconds()*1000, "evict-half-ms")
			b.ReportMetric(float64(diskBytes(b, dir))/(1<<20), "disk-after-evict-MiB")
			b.ReportMetric(0, "ns/op")
		})
	}
}
