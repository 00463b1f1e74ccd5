package telemetry_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/loupe-dev/loupe/telemetry"
)

// Each benchmark has a `baseline` (the raw SDK doing the same work, or bare
// slog) and a `loupe` sub-benchmark, measured in the same process with the
// same providers; compare them with benchstat (BENCHMARKS.md).

func benchSetup(b *testing.B, opts ...telemetry.Option) *telemetry.Telemetry {
	b.Helper()
	base := []telemetry.Option{noEnv, telemetry.WithDefaultExporter("none"), telemetry.WithRuntimeMetrics(false), telemetry.WithLogWriter(io.Discard)}
	tel, err := telemetry.Setup(context.Background(), append(base, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	return tel
}

// nopProcessor receives every span, so spans are sampled and recorded, and
// keeps nothing.
type nopProcessor struct{}

func (nopProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (nopProcessor) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (nopProcessor) Shutdown(context.Context) error                  { return nil }
func (nopProcessor) ForceFlush(context.Context) error                { return nil }

var fourAttrs = []attribute.KeyValue{
	attribute.String("http.request.method", "GET"),
	attribute.String("url.path", "/api/orders"),
	attribute.Int("http.response.status_code", 200),
	attribute.Bool("cache.hit", true),
}

func BenchmarkSpan(b *testing.B) {
	tel := benchSetup(b, telemetry.WithSpanProcessor(nopProcessor{}))
	ctx := context.Background()
	raw := tel.TracerProvider().Tracer("bench.span")
	scope := telemetry.Get("bench.span")
	for _, n := range []int{0, 4} {
		attrs := fourAttrs[:n]
		b.Run(attrName(n)+"/baseline", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var span trace.Span
				if len(attrs) == 0 {
					_, span = raw.Start(ctx, "op")
				} else {
					_, span = raw.Start(ctx, "op", trace.WithAttributes(attrs...))
				}
				span.End()
			}
		})
		b.Run(attrName(n)+"/loupe", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, span := scope.Start(ctx, "op", attrs...)
				span.End()
			}
		})
	}
}

func attrName(n int) string {
	return map[int]string{0: "attrs=0", 3: "attrs=3", 4: "attrs=4"}[n]
}

func BenchmarkDisabledSpan(b *testing.B) {
	benchSetup(b, telemetry.WithDisabled(true))
	ctx := context.Background()
	raw := tracenoop.NewTracerProvider().Tracer("bench.disabled")
	scope := telemetry.Get("bench.disabled")
	b.Run("baseline", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, span := raw.Start(ctx, "op")
			span.End()
		}
	})
	b.Run("loupe", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, span := scope.Start(ctx, "op")
			span.End()
		}
	})
}

var threeAttrs = metric.WithAttributeSet(attribute.NewSet(
	attribute.String("http.request.method", "GET"),
	attribute.String("http.route", "/api/orders"),
	attribute.Int("http.response.status_code", 200),
))

// Instruments declared at package level, before benchSetup's Setup, as a
// service declares them: the loupe sub-benchmarks measure what following
// Setup costs per call; byname looks the instrument up by name on each call.
var (
	benchRequests = telemetry.Get("bench.counter").Counter("requests")
	benchLatency  = telemetry.Get("bench.histogram").Histogram("latency")
)

// BenchmarkCounterAdd: baseline is the SDK's own counter, made once from the
// same MeterProvider.
func BenchmarkCounterAdd(b *testing.B) {
	tel := benchSetup(b)
	ctx := context.Background()
	raw, err := tel.MeterProvider().Meter("bench.counter.raw").Int64Counter("requests")
	if err != nil {
		b.Fatal(err)
	}
	scope := telemetry.Get("bench.counter")
	for _, n := range []int{0, 3} {
		var opts []metric.AddOption
		if n == 3 {
			opts = []metric.AddOption{threeAttrs}
		}
		b.Run(attrName(n)+"/baseline", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				raw.Add(ctx, 1, opts...)
			}
		})
		b.Run(attrName(n)+"/loupe", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchRequests.Add(ctx, 1, opts...)
			}
		})
		b.Run(attrName(n)+"/byname", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				scope.Counter("requests").Add(ctx, 1, opts...)
			}
		})
	}
}

// BenchmarkHistogramRecord is BenchmarkCounterAdd for a histogram.
func BenchmarkHistogramRecord(b *testing.B) {
	tel := benchSetup(b)
	ctx := context.Background()
	raw, err := tel.MeterProvider().Meter("bench.histogram.raw").Float64Histogram("latency")
	if err != nil {
		b.Fatal(err)
	}
	scope := telemetry.Get("bench.histogram")
	for _, n := range []int{0, 3} {
		var opts []metric.RecordOption
		if n == 3 {
			opts = []metric.RecordOption{threeAttrs}
		}
		b.Run(attrName(n)+"/baseline", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				raw.Record(ctx, 0.042, opts...)
			}
		})
		b.Run(attrName(n)+"/loupe", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				benchLatency.Record(ctx, 0.042, opts...)
			}
		})
		b.Run(attrName(n)+"/byname", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				scope.Histogram("latency").Record(ctx, 0.042, opts...)
			}
		})
	}
}

// BenchmarkInstrumentPaired measures the SDK's instrument and the handle in
// alternating chunks of calls in the same run, so that both see the same
// load on a shared machine. It reports each one's ns per call and the median,
// over the pairs of chunks, of the ratio of their times (loupe/baseline, 1 is
// parity; a chunk that the scheduler interrupted moves the median little).
// Each chunk is a loop written out in a closure, so the calls measured are
// direct, with one closure call per pairedChunk calls on either side.
func BenchmarkInstrumentPaired(b *testing.B) {
	tel := benchSetup(b)
	ctx := context.Background()
	rawC, err := tel.MeterProvider().Meter("bench.counter.raw").Int64Counter("requests")
	if err != nil {
		b.Fatal(err)
	}
	rawH, err := tel.MeterProvider().Meter("bench.histogram.raw").Float64Histogram("latency")
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{0, 3} {
		var addOpts []metric.AddOption
		var recOpts []metric.RecordOption
		if n == 3 {
			addOpts, recOpts = []metric.AddOption{threeAttrs}, []metric.RecordOption{threeAttrs}
		}
		b.Run("counter/"+attrName(n), func(b *testing.B) {
			paired(b, func() {
				for range pairedChunk {
					rawC.Add(ctx, 1, addOpts...)
				}
			}, func() {
				for range pairedChunk {
					benchRequests.Add(ctx, 1, addOpts...)
				}
			})
		})
		b.Run("histogram/"+attrName(n), func(b *testing.B) {
			paired(b, func() {
				for range pairedChunk {
					rawH.Record(ctx, 0.042, recOpts...)
				}
			}, func() {
				for range pairedChunk {
					benchLatency.Record(ctx, 0.042, recOpts...)
				}
			})
		})
	}
}

const pairedChunk = 256

func paired(b *testing.B, baseline, loupe func()) {
	b.ReportAllocs()
	var base, handle time.Duration
	ratios := make([]float64, 0, 1<<16)
	for b.Loop() {
		t0 := time.Now()
		baseline()
		t1 := time.Now()
		loupe()
		t2 := time.Now()
		base, handle = base+t1.Sub(t0), handle+t2.Sub(t1)
		if len(ratios) < cap(ratios) {
			ratios = append(ratios, float64(t2.Sub(t1))/float64(t1.Sub(t0)))
		}
	}
	calls := float64(b.N * pairedChunk)
	b.ReportMetric(float64(base.Nanoseconds())/calls, "ns-baseline/call")
	b.ReportMetric(float64(handle.Nanoseconds())/calls, "ns-loupe/call")
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "loupe/baseline")
}

// discardExporter accepts every batch of log records.
type discardExporter struct{}

func (discardExporter) Export(context.Context, []sdklog.Record) error { return nil }
func (discardExporter) Shutdown(context.Context) error                { return nil }
func (discardExporter) ForceFlush(context.Context) error              { return nil }

// BenchmarkLog logs one record with trace correlation. baseline is bare slog
// JSON of the same record; chained is the JSON handler and the official
// bridge side by side (the naive way to get both destinations); loupe is the
// scope logger sending to JSON and to the SDK's batch processor.
func BenchmarkLog(b *testing.B) {
	bp := sdklog.NewBatchProcessor(discardExporter{})
	tel := benchSetup(b, telemetry.WithLogProcessor(bp), telemetry.WithSpanProcessor(nopProcessor{}))
	ctx, span := tel.TracerProvider().Tracer("bench.log").Start(context.Background(), "request")
	defer span.End()

	bare := slog.New(slog.NewJSONHandler(io.Discard, nil))
	bridge := otelslog.NewHandler("bench.log", otelslog.WithLoggerProvider(tel.LoggerProvider()))
	chained := slog.New(&chain{slog.NewJSONHandler(io.Discard, nil), bridge})
	loupe := telemetry.Get("bench.log").Logger()

	run := func(l *slog.Logger) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				l.InfoContext(ctx, "order placed", "order.id", "A-1042", "amount", 42.5, "items", 3)
			}
		}
	}
	b.Run("baseline", run(bare))
	b.Run("chained", run(chained))
	b.Run("loupe", run(loupe))
}

// chain hands each record to two handlers, adding the trace ids for the
// first, as a user might write it without Loupe.
type chain struct{ json, otel slog.Handler }

func (c *chain) Enabled(ctx context.Context, l slog.Level) bool { return c.json.Enabled(ctx, l) }
func (c *chain) Handle(ctx context.Context, r slog.Record) error {
	_ = c.otel.Handle(ctx, r)
	sc := trace.SpanContextFromContext(ctx)
	r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	return c.json.Handle(ctx, r)
}
func (c *chain) WithAttrs(a []slog.Attr) slog.Handler {
	return &chain{c.json.WithAttrs(a), c.otel.WithAttrs(a)}
}
func (c *chain) WithGroup(n string) slog.Handler {
	return &chain{c.json.WithGroup(n), c.otel.WithGroup(n)}
}
