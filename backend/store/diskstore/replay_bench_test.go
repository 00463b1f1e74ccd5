package diskstore

import (
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

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
// Two more steps show what a decoder without pdata could reach: the
// protobuf module's decoding into OTLP's generated types, and walk, which
// visits every field of every record by the OTLP schema and allocates
// nothing: the floor of any decoder. The last, direct, is
// store.TracesFromProto, which replay uses: decoding and conversion
// without pdata.
func BenchmarkReplayFloor(b *testing.B) {
	const total = 255 << 20
	dir := b.TempDir()
	writeLoad(b, dir, total, 16<<20)
	seqs, err := listSegments(dir)
	if err != nil {
		b.Fatal(err)
	}
	for _, step := range []string{"read+crc", "read+crc+pdata", "read+crc+pdata+convert", "read+crc+protobuf-go", "read+crc+walk", "read+crc+direct"} {
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
						switch step {
						case "read+crc+walk":
							if n := walkOTLP(r.payload, msgTraceRequest); n < 0 {
								b.Fatal("walk: malformed record")
							}
							continue
						case "read+crc+direct":
							if _, err := store.TracesFromProto(r.payload); err != nil {
								b.Fatal(err)
							}
							continue
						case "read+crc+protobuf-go":
							var req coltracepb.ExportTraceServiceRequest
							if err := proto.Unmarshal(r.payload, &req); err != nil {
								b.Fatal(err)
							}
							continue
						}
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

// The OTLP trace messages walkOTLP knows, and which of their fields hold
// a message (every other field is a scalar, string or bytes).
const (
	msgLeaf = iota
	msgTraceRequest
	msgResourceSpans
	msgResource
	msgScopeSpans
	msgScope
	msgSpan
	msgEvent
	msgLink
	msgStatus
	msgKeyValue
	msgAnyValue
	msgArray
	msgKVList
)

var otlpSchema = [...]map[protowire.Number]int{
	msgTraceRequest:  {1: msgResourceSpans},
	msgResourceSpans: {1: msgResource, 2: msgScopeSpans},
	msgResource:      {1: msgKeyValue},
	msgScopeSpans:    {1: msgScope, 2: msgSpan},
	msgScope:         {3: msgKeyValue},
	msgSpan:          {9: msgKeyValue, 11: msgEvent, 13: msgLink, 15: msgStatus},
	msgEvent:         {3: msgKeyValue},
	msgLink:          {4: msgKeyValue},
	msgStatus:        {},
	msgKeyValue:      {2: msgAnyValue},
	msgAnyValue:      {5: msgArray, 6: msgKVList},
	msgArray:         {1: msgAnyValue},
	msgKVList:        {1: msgKeyValue},
}

// walkOTLP visits every field of b, a message of kind msg, and returns
// the bytes of strings and bytes fields it met, or -1 if b is malformed.
func walkOTLP(b []byte, msg int) int {
	n := 0
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return -1
		}
		b = b[l:]
		if typ != protowire.BytesType {
			l = protowire.ConsumeFieldValue(num, typ, b)
			if l < 0 {
				return -1
			}
			b = b[l:]
			continue
		}
		v, l := protowire.ConsumeBytes(b)
		if l < 0 {
			return -1
		}
		b = b[l:]
		if child, ok := otlpSchema[msg][num]; ok {
			m := walkOTLP(v, child)
			if m < 0 {
				return -1
			}
			n += m
			continue
		}
		n += len(v)
	}
	return n
}

// TestWalkOTLP holds walkOTLP to pdata: the string and bytes it counts in
// a record of the load are those pdata decodes from it.
func TestWalkOTLP(t *testing.T) {
	reqs, err := storetest.LoadRequests(1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(reqs[0]); err != nil {
		t.Fatal(err)
	}
	want := 0
	rss := req.Traces().ResourceSpans()
	for i := range rss.Len() {
		rs := rss.At(i)
		want += len(rs.SchemaUrl()) + attrBytes(rs.Resource().Attributes())
		for _, ss := range rs.ScopeSpans().All() {
			want += len(ss.SchemaUrl()) + len(ss.Scope().Name()) + len(ss.Scope().Version()) + attrBytes(ss.Scope().Attributes())
			for _, sp := range ss.Spans().All() {
				want += 16 + 8 + len(sp.TraceState().AsRaw()) + len(sp.Name()) + len(sp.Status().Message()) + attrBytes(sp.Attributes())
				if !sp.ParentSpanID().IsEmpty() {
					want += 8
				}
				for _, e := range sp.Events().All() {
					want += len(e.Name()) + attrBytes(e.Attributes())
				}
				for _, l := range sp.Links().All() {
					want += 16 + 8 + len(l.TraceState().AsRaw()) + attrBytes(l.Attributes())
				}
			}
		}
	}
	if got := walkOTLP(reqs[0], msgTraceRequest); got != want {
		t.Errorf("walk counted %d bytes of strings and bytes, pdata holds %d", got, want)
	}
}

func attrBytes(m pcommon.Map) int {
	n := 0
	for k, v := range m.All() {
		n += len(k) + valueBytes(v)
	}
	return n
}

func valueBytes(v pcommon.Value) int {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return len(v.Str())
	case pcommon.ValueTypeBytes:
		return v.Bytes().Len()
	case pcommon.ValueTypeSlice:
		n := 0
		for _, e := range v.Slice().All() {
			n += valueBytes(e)
		}
		return n
	case pcommon.ValueTypeMap:
		return attrBytes(v.Map())
	}
	return 0
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
