package otlpdepth_test

import (
	"bytes"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/internal/otlpdepth"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// FuzzProto limits arbitrary protobuf: what it refuses pdata refuses too,
// and what it returns decodes, within a small stack, to values no deeper
// than the bound; with nothing cut it returns its input.
func FuzzProto(f *testing.F) {
	reqs, _ := everywhere(3)
	for sig, r := range reqs {
		b, _ := r.MarshalProto()
		f.Add(uint8(sig), b)
	}
	f.Add(uint8(otlpdepth.Traces), storetest.DeepTracesProto(0xde, store.MaxValueDepth+3))
	f.Add(uint8(otlpdepth.Traces), storetest.DeepTracesProto(0xde, 3))
	f.Add(uint8(otlpdepth.Traces), []byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x08})
	f.Fuzz(func(t *testing.T, sig uint8, in []byte) {
		fuzzOne(t, otlpdepth.Signal(sig%3+1), in, formats[0])
	})
}

// FuzzJSON limits arbitrary JSON built as prefix, unit repeated n times,
// and suffix, so that deep and long inputs are within the fuzzer's reach.
func FuzzJSON(f *testing.F) {
	deep := string(storetest.DeepTracesJSON(0xde, 0))
	i := bytes.Index([]byte(deep), []byte(`{"stringValue":"x"}`))
	f.Add(uint8(otlpdepth.Traces), deep[:i], `{"arrayValue":{"values":[{"kvlistValue":{"values":[{"key":"k","value":`, `{"stringValue":"x"}`, uint16(200))
	f.Add(uint8(otlpdepth.Traces), deep[:i], `{"arrayValue":{"values":[`, `1`, uint16(70))
	f.Add(uint8(otlpdepth.Traces), deep[:i], `,"arrayValue":,"values":,`, deep[i:], uint16(100))
	f.Add(uint8(otlpdepth.Logs), `{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"body":`, `{"kvlistValue":{"values":[{"key":"a","value":`, `1}]}}}]}]}]}`, uint16(3))
	f.Fuzz(func(t *testing.T, sig uint8, prefix, unit, suffix string, n uint16) {
		in := []byte(prefix + repeat(unit, int(n)) + suffix)
		fuzzOne(t, otlpdepth.Signal(sig%3+1), in, formats[1])
	})
}

func repeat(s string, n int) string {
	if len(s)*n > 1<<20 {
		n = (1 << 20) / max(len(s), 1)
	}
	var b bytes.Buffer
	for range n {
		b.WriteString(s)
	}
	return b.String()
}

func fuzzOne(t *testing.T, sig otlpdepth.Signal, in []byte, f format) {
	out, n, err := f.limit(sig, in)
	if err != nil {
		// pdata recurses on in: only where that is cheap.
		if len(in) < 4<<10 && f.name == "protobuf" {
			if _, perr := f.decode(sig, in); perr == nil {
				t.Fatalf("refused (%v), pdata accepts it", err)
			}
		}
		return
	}
	if n == 0 && !bytes.Equal(out, in) {
		t.Fatal("nothing cut, yet changed")
	}
	smallStack(t)
	r, err := f.decode(sig, out)
	if err != nil {
		return
	}
	walk(r, func(v pcommon.Value) {
		if d := depth(v, 0); d > store.MaxValueDepth {
			t.Fatalf("a value nested %d levels deep", d)
		}
	})
}

// depth is the number of maps and slices nesting in v, counted up to
// MaxValueDepth+1.
func depth(v pcommon.Value, level int) int {
	if level > store.MaxValueDepth {
		return level
	}
	d := level
	switch v.Type() {
	case pcommon.ValueTypeMap:
		d = level + 1
		for _, e := range v.Map().All() {
			d = max(d, depth(e, level+1))
		}
	case pcommon.ValueTypeSlice:
		d = level + 1
		for _, e := range v.Slice().All() {
			d = max(d, depth(e, level+1))
		}
	}
	return d
}

// walk calls fn with every value of r.
func walk(r request, fn func(pcommon.Value)) {
	attrs := func(m pcommon.Map) {
		for _, v := range m.All() {
			fn(v)
		}
	}
	switch r := r.(type) {
	case ptraceotlp.ExportRequest:
		for _, rs := range r.Traces().ResourceSpans().All() {
			attrs(rs.Resource().Attributes())
			for _, ss := range rs.ScopeSpans().All() {
				attrs(ss.Scope().Attributes())
				for _, sp := range ss.Spans().All() {
					attrs(sp.Attributes())
					for _, e := range sp.Events().All() {
						attrs(e.Attributes())
					}
					for _, l := range sp.Links().All() {
						attrs(l.Attributes())
					}
				}
			}
		}
	case plogotlp.ExportRequest:
		for _, rl := range r.Logs().ResourceLogs().All() {
			attrs(rl.Resource().Attributes())
			for _, sl := range rl.ScopeLogs().All() {
				attrs(sl.Scope().Attributes())
				for _, lr := range sl.LogRecords().All() {
					fn(lr.Body())
					attrs(lr.Attributes())
				}
			}
		}
	case pmetricotlp.ExportRequest:
		for _, rm := range r.Metrics().ResourceMetrics().All() {
			attrs(rm.Resource().Attributes())
			for _, sm := range rm.ScopeMetrics().All() {
				attrs(sm.Scope().Attributes())
				for _, m := range sm.Metrics().All() {
					attrs(m.Metadata())
					switch m.Type() {
					case pmetric.MetricTypeGauge:
						points(m.Gauge().DataPoints(), attrs)
					case pmetric.MetricTypeSum:
						points(m.Sum().DataPoints(), attrs)
					case pmetric.MetricTypeHistogram:
						for _, p := range m.Histogram().DataPoints().All() {
							attrs(p.Attributes())
							exemplars(p.Exemplars(), attrs)
						}
					case pmetric.MetricTypeExponentialHistogram:
						for _, p := range m.ExponentialHistogram().DataPoints().All() {
							attrs(p.Attributes())
							exemplars(p.Exemplars(), attrs)
						}
					case pmetric.MetricTypeSummary:
						for _, p := range m.Summary().DataPoints().All() {
							attrs(p.Attributes())
						}
					}
				}
			}
		}
	}
}

func points(ps pmetric.NumberDataPointSlice, attrs func(pcommon.Map)) {
	for _, p := range ps.All() {
		attrs(p.Attributes())
		exemplars(p.Exemplars(), attrs)
	}
}

func exemplars(es pmetric.ExemplarSlice, attrs func(pcommon.Map)) {
	for _, e := range es.All() {
		attrs(e.FilteredAttributes())
	}
}
