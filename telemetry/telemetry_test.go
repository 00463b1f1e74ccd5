package telemetry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/loupe-dev/loupe/telemetry"
	"github.com/loupe-dev/loupe/telemetry/telemetrytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pkgScope stands for the package-level scope of a user's package: made
// before any Setup, it must follow every Setup and reset.
var pkgScope = telemetry.Get("example.com/pkg")

func TestSpansAttributesErrorsAndLinks(t *testing.T) {
	tel := telemetrytest.New(t)
	ctx := context.Background()

	ctx, parent := pkgScope.Start(ctx, "parent", attribute.String("job.id", "42"))
	parent.AddEvent("queued", trace.WithAttributes(attribute.Int("position", 3)))
	wantErr := errors.New("upstream timeout")
	_, err := telemetry.Traced(ctx, "fetch", func(ctx context.Context) (int, error) {
		if telemetry.TraceID(ctx) != parent.SpanContext().TraceID().String() {
			t.Errorf("child trace id %q differs from parent's", telemetry.TraceID(ctx))
		}
		return 0, wantErr
	}, attribute.String("source", "db"))
	if !errors.Is(err, wantErr) {
		t.Fatalf("Traced returned %v, want %v", err, wantErr)
	}
	_, linked := pkgScope.StartSpan(context.Background(), "linked", trace.WithLinks(trace.Link{SpanContext: parent.SpanContext()}))
	linked.End()
	parent.End()

	p := tel.Span("parent")
	if v, _ := telemetrytest.Attr(p, "job.id"); v.AsString() != "42" {
		t.Errorf("parent job.id = %q, want 42", v.AsString())
	}
	if len(p.Events()) != 1 || p.Events()[0].Name != "queued" {
		t.Errorf("parent events = %v, want one 'queued'", p.Events())
	}
	if p.InstrumentationScope().Name != "example.com/pkg" {
		t.Errorf("scope = %q", p.InstrumentationScope().Name)
	}
	f := tel.Span("fetch")
	if f.Parent().SpanID() != p.SpanContext().SpanID() {
		t.Errorf("fetch parent = %s, want %s", f.Parent().SpanID(), p.SpanContext().SpanID())
	}
	if f.Status().Code != codes.Error || f.Status().Description != "upstream timeout" {
		t.Errorf("fetch status = %+v, want Error 'upstream timeout'", f.Status())
	}
	if len(f.Events()) != 1 || f.Events()[0].Name != "exception" {
		t.Errorf("fetch events = %v, want an exception event", f.Events())
	}
	if v, _ := telemetrytest.Attr(f, "source"); v.AsString() != "db" {
		t.Errorf("fetch source = %q", v.AsString())
	}
	l := tel.Span("linked")
	if len(l.Links()) != 1 || l.Links()[0].SpanContext.SpanID() != p.SpanContext().SpanID() {
		t.Errorf("linked span links = %v, want the parent", l.Links())
	}
	if l.Parent().IsValid() {
		t.Errorf("linked span has a parent: %v", l.Parent())
	}
}

func TestSpanLimitsFromEnvironment(t *testing.T) {
	tel := telemetrytest.New(t, telemetry.WithEnvLookup(func(k string) (string, bool) {
		v, ok := map[string]string{"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT": "2", "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT": "3"}[k]
		return v, ok
	}))
	_, span := telemetry.Get("limits").Start(context.Background(), "limited", fourAttrs...)
	span.End()
	s := tel.Span("limited")
	if n := len(s.Attributes()); n != 2 || s.DroppedAttributes() != 2 {
		t.Errorf("%d attributes kept, %d dropped; want 2 and 2", n, s.DroppedAttributes())
	}
	if v := s.Attributes()[0].Value.AsString(); v != "GET" {
		t.Errorf("first attribute %q, want it truncated to 3 characters (GET)", v)
	}
}

func TestResourceDescribesServiceWithoutSecrets(t *testing.T) {
	tel := telemetrytest.New(t, telemetry.WithServiceName("res"), telemetry.WithServiceVersion("1.2.3"), telemetry.WithEnvironment("staging"))
	_, span := telemetry.Get("r").Start(context.Background(), "s")
	span.End()
	attrs := map[string]string{}
	for _, kv := range tel.Span("s").Resource().Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	for k, want := range map[string]string{"service.name": "res", "service.version": "1.2.3", "deployment.environment.name": "staging", "process.runtime.name": "go", "telemetry.sdk.language": "go"} {
		if attrs[k] != want {
			t.Errorf("resource %s = %q, want %q", k, attrs[k], want)
		}
	}
	for _, k := range []string{"host.name", "process.pid", "os.type"} {
		if attrs[k] == "" {
			t.Errorf("resource lacks %s (detector)", k)
		}
	}
	for _, k := range []string{"process.command_args", "process.command_line", "process.owner"} {
		if _, ok := attrs[k]; ok {
			t.Errorf("resource records %s; it may carry secrets or personal data", k)
		}
	}
}

func TestSetupWarnsOnceAboutPortMismatch(t *testing.T) {
	var warn bytes.Buffer
	tel, err := telemetry.Setup(context.Background(),
		telemetry.WithEnvLookup(func(k string) (string, bool) {
			v, ok := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}[k]
			return v, ok
		}),
		telemetry.WithWarningWriter(&warn),
		telemetry.WithRuntimeMetrics(false),
	)
	if err != nil {
		t.Fatal(err)
	}
	_ = tel.Shutdown(context.Background())
	if n := strings.Count(warn.String(), "set OTEL_EXPORTER_OTLP_PROTOCOL=grpc or use port 4318"); n != 1 {
		t.Errorf("%d port warnings, want 1:\n%s", n, warn.String())
	}
}

func TestTracedPanicIsRecordedAndRepanics(t *testing.T) {
	tel := telemetrytest.New(t)
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want the original panic value", r)
			}
		}()
		_, _ = telemetry.Traced(context.Background(), "explodes", func(context.Context) (string, error) {
			panic("boom")
		})
	}()
	s := tel.Span("explodes")
	if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "boom") {
		t.Errorf("status = %+v, want Error mentioning boom", s.Status())
	}
	var escaped bool
	for _, ev := range s.Events() {
		for _, kv := range ev.Attributes {
			if kv.Key == "exception.escaped" && kv.Value.AsBool() {
				escaped = true
			}
		}
	}
	if !escaped {
		t.Errorf("no exception event with exception.escaped=true: %v", s.Events())
	}
}

func TestDoAndEnd(t *testing.T) {
	tel := telemetrytest.New(t)
	s := telemetry.Get("do")
	if err := s.Do(context.Background(), "ok", func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if st := tel.Span("ok").Status().Code; st == codes.Error {
		t.Errorf("successful Do has status %v", st)
	}
	_, span := s.Start(context.Background(), "manual")
	telemetry.End(span, fmt.Errorf("wrapped: %w", context.Canceled))
	if got := tel.Span("manual").Status(); got.Code != codes.Error || got.Description != "wrapped: context canceled" {
		t.Errorf("status = %+v", got)
	}
}

func TestScopesFollowSetupAndReset(t *testing.T) {
	// Before any Setup the scope works (OTel globals, no-op here).
	_, span := pkgScope.Start(context.Background(), "before")
	span.End()
	logger := pkgScope.Logger()

	for round := 1; round <= 2; round++ {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			var buf bytes.Buffer
			tel := telemetrytest.New(t, telemetry.WithLogWriter(&buf))
			ctx, span := pkgScope.Start(context.Background(), "during")
			logger.InfoContext(ctx, "hello", "round", round)
			pkgScope.Counter("rounds").Add(ctx, 1)
			span.End()
			if n := len(tel.Ended()); n != 1 {
				t.Fatalf("recorded %d spans, want 1 (the scope must use this Setup)", n)
			}
			if !strings.Contains(buf.String(), `"msg":"hello"`) {
				t.Errorf("logger made before Setup wrote %q", buf.String())
			}
			sum := tel.Metric("rounds").Data.(metricdata.Sum[int64])
			if sum.DataPoints[0].Value != 1 {
				t.Errorf("rounds = %d in round %d, want 1 (a fresh Setup)", sum.DataPoints[0].Value, round)
			}
		})
	}
}

func TestSecondSetupFailsUntilShutdown(t *testing.T) {
	noEnv := telemetry.WithEnvLookup(func(string) (string, bool) { return "", false })
	none := []telemetry.Option{noEnv, telemetry.WithDefaultExporter("none"), telemetry.WithRuntimeMetrics(false), telemetry.WithServiceName("first")}
	tel, err := telemetry.Setup(context.Background(), none...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = telemetry.Setup(context.Background(), none...)
	var already *telemetry.AlreadySetUpError
	if !errors.As(err, &already) || already.ServiceName != "first" {
		t.Fatalf("second Setup: %v, want *AlreadySetUpError for service first", err)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v, want the first result (nil)", err)
	}
	tel2, err := telemetry.Setup(context.Background(), none...)
	if err != nil {
		t.Fatalf("Setup after Shutdown: %v", err)
	}
	_ = tel2.Shutdown(context.Background())
}

func TestSetupFailureReturnsConfigError(t *testing.T) {
	_, err := telemetry.Setup(context.Background(), telemetry.WithEnvLookup(func(k string) (string, bool) {
		if k == "OTEL_TRACES_SAMPLER" {
			return "sometimes", true
		}
		return "", false
	}))
	var ce *telemetry.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `OTEL_TRACES_SAMPLER="sometimes"`) {
		t.Fatalf("Setup: %v, want a ConfigError naming OTEL_TRACES_SAMPLER", err)
	}
	// Nothing is left half set up: a valid Setup now works.
	telemetrytest.New(t)
}

func TestMetrics(t *testing.T) {
	tel := telemetrytest.New(t)
	s := telemetry.Get("shop")
	ctx := context.Background()

	s.Counter("orders").Add(ctx, 2)
	s.Counter("orders").Add(ctx, 3, metric.WithAttributes(attribute.String("region", "eu")))
	s.UpDownCounter("inflight").Add(ctx, 5)
	s.UpDownCounter("inflight").Add(ctx, -2)
	s.Histogram("latency", metric.WithExplicitBucketBoundaries(1, 10, 100), metric.WithUnit("ms")).Record(ctx, 7)
	s.Gauge("temperature").Record(ctx, 21.5)
	reg, err := s.ObservableGauge("queue.depth", func(context.Context) (float64, []attribute.KeyValue) {
		return 9, []attribute.KeyValue{attribute.String("queue", "emails")}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reg.Unregister() }()

	// A histogram recorded inside a sampled span carries an exemplar with its ids.
	sctx, span := s.Start(ctx, "checkout")
	s.Histogram("latency").Record(sctx, 50)
	span.End()

	rm := tel.Collect()
	orders, _ := telemetrytest.FindMetric(rm, "orders")
	sum := orders.Data.(metricdata.Sum[int64])
	var total, eu int64
	for _, dp := range sum.DataPoints {
		total += dp.Value
		if v, ok := dp.Attributes.Value("region"); ok && v.AsString() == "eu" {
			eu = dp.Value
		}
	}
	if total != 5 || eu != 3 || len(sum.DataPoints) != 2 {
		t.Errorf("orders: total %d, eu %d, %d points; want 5, 3, 2", total, eu, len(sum.DataPoints))
	}
	inflight, _ := telemetrytest.FindMetric(rm, "inflight")
	if v := inflight.Data.(metricdata.Sum[int64]).DataPoints[0].Value; v != 3 {
		t.Errorf("inflight = %d, want 3", v)
	}
	lat, _ := telemetrytest.FindMetric(rm, "latency")
	h := lat.Data.(metricdata.Histogram[float64]).DataPoints[0]
	if fmt.Sprint(h.Bounds) != "[1 10 100]" || h.Count != 2 || fmt.Sprint(h.BucketCounts) != "[0 1 1 0]" {
		t.Errorf("latency bounds %v counts %v count %d", h.Bounds, h.BucketCounts, h.Count)
	}
	if lat.Unit != "ms" {
		t.Errorf("latency unit %q", lat.Unit)
	}
	var found bool
	for _, ex := range h.Exemplars {
		if fmt.Sprintf("%x", ex.TraceID) == span.SpanContext().TraceID().String() && ex.Value == 50 {
			found = true
		}
	}
	if !found {
		t.Errorf("no exemplar for the checkout span among %+v", h.Exemplars)
	}
	temp, _ := telemetrytest.FindMetric(rm, "temperature")
	if v := temp.Data.(metricdata.Gauge[float64]).DataPoints[0].Value; v != 21.5 {
		t.Errorf("temperature = %v", v)
	}
	depth, _ := telemetrytest.FindMetric(rm, "queue.depth")
	if v := depth.Data.(metricdata.Gauge[float64]).DataPoints[0].Value; v != 9 {
		t.Errorf("queue.depth = %v", v)
	}
}

func TestInstrumentsAreCached(t *testing.T) {
	telemetrytest.New(t)
	s := telemetry.Get("cache")
	if c1, c2, h1, h2 := s.Counter("c"), s.Counter("c"), s.Histogram("h"), s.Histogram("h"); c1 != c2 || h1 != h2 {
		t.Fatal("the same name returned different instruments")
	}
	if telemetry.Get("cache") != s {
		t.Fatal("Get returned a different scope for the same name")
	}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		_ = s.Counter("c")
		_ = s.Histogram("h")
	})
	if allocs != 0 {
		t.Errorf("looking up cached instruments allocates %v times, want 0", allocs)
	}
	s.Counter("c").Add(ctx, 1)
}

func TestInvalidInstrumentNameWarnsAndDoesNotPanic(t *testing.T) {
	var warn bytes.Buffer
	telemetrytest.New(t, telemetry.WithWarningWriter(&warn))
	s := telemetry.Get("bad")
	s.Counter("not a valid name!").Add(context.Background(), 1)
	s.Counter("not a valid name!").Add(context.Background(), 1)
	if c := strings.Count(warn.String(), "loupe: warning"); c != 1 {
		t.Errorf("warned %d times about the invalid name, want once:\n%s", c, warn.String())
	}
}

func TestLogsCarryTraceContext(t *testing.T) {
	var buf bytes.Buffer
	tel := telemetrytest.New(t, telemetry.WithLogWriter(&buf), telemetry.WithLogLevel(slog.LevelInfo))
	log := telemetry.Get("orders").Logger().With("component", "checkout")
	ctx, span := telemetry.Get("orders").Start(context.Background(), "place")
	log.DebugContext(ctx, "not shown")
	log.InfoContext(ctx, "processing started", "step", 1)
	log.ErrorContext(ctx, "payment failed", telemetry.Err(errors.New("card declined")))
	span.End()

	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("local output has %d lines, want 2 (debug filtered):\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	sc := span.SpanContext()
	if rec["trace_id"] != sc.TraceID().String() || rec["span_id"] != sc.SpanID().String() || rec["component"] != "checkout" || rec["step"] != float64(1) {
		t.Errorf("local record %v lacks the span's ids or attributes", rec)
	}
	if !strings.Contains(lines[1], `"error":"card declined"`) {
		t.Errorf("error record %s lacks the error text", lines[1])
	}

	records := tel.Logs.Records()
	if len(records) != 2 {
		t.Fatalf("exported %d records, want 2", len(records))
	}
	r := records[0]
	if r.TraceID() != sc.TraceID() || r.SpanID() != sc.SpanID() || r.Body().AsString() != "processing started" {
		t.Errorf("exported record: trace %s span %s body %q", r.TraceID(), r.SpanID(), r.Body().AsString())
	}
	if r.InstrumentationScope().Name != "orders" {
		t.Errorf("record scope %q, want orders", r.InstrumentationScope().Name)
	}
}

// Inside groups, the local output carries trace_id and span_id at the top
// level, where log pipelines look for them, and everything else exactly as
// the handler renders it without a span.
func TestLogsTraceIDsOutsideGroups(t *testing.T) {
	shapes := map[string]func(*slog.Logger) *slog.Logger{
		"group": func(l *slog.Logger) *slog.Logger { return l.WithGroup("req") },
		"attrs, groups and attrs between": func(l *slog.Logger) *slog.Logger {
			return l.With("a", 1).WithGroup("g").With("b", 2, slog.Group("inner", "c", 3)).WithGroup("h")
		},
		"group then attrs": func(l *slog.Logger) *slog.Logger { return l.WithGroup("g").With("b", 2) },
		"no group":         func(l *slog.Logger) *slog.Logger { return l.With("a", 1) },
	}
	records := map[string][]any{
		"attrs":       {"step", 1, slog.Group("sub", "x", "y")},
		"none":        nil,
		"empty group": {slog.Group("empty")},
	}
	for _, format := range []string{"json", "text"} {
		for shapeName, shape := range shapes {
			for recName, args := range records {
				t.Run(format+"/"+shapeName+"/"+recName, func(t *testing.T) {
					var buf bytes.Buffer
					telemetrytest.New(t, telemetry.WithLogWriter(&buf), telemetry.WithLogFormat(format))
					scope := telemetry.Get("groups")
					log := shape(scope.Logger())
					log.Info("no span", args...)
					ctx, span := scope.Start(context.Background(), "op")
					log.InfoContext(ctx, "no span", args...)
					span.End()

					lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
					if len(lines) != 2 {
						t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
					}
					sc := span.SpanContext()
					ids := fmt.Sprintf(" trace_id=%s span_id=%s", sc.TraceID(), sc.SpanID())
					if format == "json" {
						var plain, traced map[string]any
						if err := json.Unmarshal([]byte(lines[0]), &plain); err != nil {
							t.Fatal(err)
						}
						if err := json.Unmarshal([]byte(lines[1]), &traced); err != nil {
							t.Fatal(err)
						}
						if traced["trace_id"] != sc.TraceID().String() || traced["span_id"] != sc.SpanID().String() {
							t.Errorf("ids not at the top level: %s", lines[1])
						}
						delete(traced, "trace_id")
						delete(traced, "span_id")
						delete(plain, "time")
						delete(traced, "time")
						if a, b := fmt.Sprint(plain), fmt.Sprint(traced); a != b {
							t.Errorf("records differ beyond the ids:\nwithout span %s\nwith span    %s", lines[0], lines[1])
						}
						return
					}
					// text: the same line with the ids appended at the top level.
					strip := func(l string) string { _, rest, _ := strings.Cut(l, " "); return rest }
					if got, want := strip(lines[1]), strip(lines[0])+ids; got != want {
						t.Errorf("text line:\ngot  %s\nwant %s", got, want)
					}
				})
			}
		}
	}
}

func TestErrStack(t *testing.T) {
	var buf bytes.Buffer
	telemetrytest.New(t, telemetry.WithLogWriter(&buf))
	telemetry.Get("s").Logger().Error("failed", telemetry.ErrStack(errors.New("disk full")))
	if !strings.Contains(buf.String(), `"message":"disk full"`) || !strings.Contains(buf.String(), "TestErrStack") {
		t.Errorf("stack record lacks the message or the caller's frame: %s", buf.String())
	}
}

func TestDisabledEmitsNothing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	var logs, warnings bytes.Buffer
	tel, err := telemetry.Setup(context.Background(),
		telemetry.WithEnvLookup(func(k string) (string, bool) {
			if k == "OTEL_SDK_DISABLED" {
				return "true", true
			}
			return "", false
		}),
		telemetry.WithDisabled(false), // the kill switch wins anyway
		telemetry.WithTracerProviderOptions(sdktrace.WithSpanProcessor(rec)),
		telemetry.WithLogWriter(&logs),
		telemetry.WithWarningWriter(&warnings),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tel.Shutdown(context.Background()) }()
	if !tel.Config().Disabled() {
		t.Fatal("not disabled")
	}
	// One line says so and why.
	const want = "telemetry: disabled by OTEL_SDK_DISABLED=true: no spans, metrics or logs are recorded nor exported (local logs still print)\n"
	if got := warnings.String(); !strings.HasSuffix(got, want) || strings.Count(got, "\n") != 1 {
		t.Errorf("Setup wrote %q, want one line ending %q", got, want)
	}
	s := telemetry.Get("off")
	ctx := context.Background()
	got, span := s.Start(ctx, "nothing", attribute.Int("n", 1))
	if got != ctx {
		t.Error("disabled Start changed the context")
	}
	if span.SpanContext().IsValid() || span.IsRecording() {
		t.Error("disabled span is real")
	}
	span.End()
	s.Counter("c").Add(ctx, 1)
	if n := len(rec.Ended()); n != 0 {
		t.Errorf("recorded %d spans while disabled", n)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		_, sp := s.Start(ctx, "x")
		sp.End()
	}); allocs != 0 {
		t.Errorf("disabled span start+end allocates %v times, want 0", allocs)
	}
	s.Logger().Info("still logged locally")
	if !strings.Contains(logs.String(), "still logged locally") {
		t.Error("disabled mode must keep local logs")
	}
}

func TestPropagation(t *testing.T) {
	telemetrytest.New(t)
	ctx, span := telemetry.Get("p").Start(context.Background(), "out")
	defer span.End()

	h := http.Header{}
	telemetry.Inject(ctx, h)
	if !strings.Contains(h.Get("traceparent"), span.SpanContext().TraceID().String()) {
		t.Fatalf("traceparent = %q", h.Get("traceparent"))
	}
	in := telemetry.Extract(context.Background(), h)
	if got := trace.SpanContextFromContext(in); got.TraceID() != span.SpanContext().TraceID() || !got.IsRemote() {
		t.Errorf("extracted %v", got)
	}
	m := map[string]string{}
	telemetry.InjectMap(ctx, m)
	if telemetry.TraceID(telemetry.ExtractMap(context.Background(), m)) != span.SpanContext().TraceID().String() {
		t.Errorf("map carrier round trip lost the trace: %v", m)
	}
}

func TestB3AndJaegerPropagators(t *testing.T) {
	telemetrytest.New(t, telemetry.WithPropagators("b3multi", "jaeger"))
	ctx, span := telemetry.Get("p").Start(context.Background(), "out")
	defer span.End()
	h := http.Header{}
	telemetry.Inject(ctx, h)
	id := span.SpanContext().TraceID().String()
	if h.Get("X-B3-Traceid") != id || !strings.HasPrefix(h.Get("Uber-Trace-Id"), id) || h.Get("traceparent") != "" {
		t.Errorf("headers %v: want b3 multi and jaeger only", h)
	}
}

func TestEffectiveConfigPrintsSources(t *testing.T) {
	tel := telemetrytest.New(t, telemetry.WithServiceName("printer"))
	out := tel.Config().String()
	for _, want := range []string{"SETTING", "service.name", "printer", "code", "traces.exporter"} {
		if !strings.Contains(out, want) {
			t.Errorf("effective config lacks %q:\n%s", want, out)
		}
	}
}

func TestShutdownBoundedByDeadline(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), telemetry.WithDefaultExporter("none"), telemetry.WithRuntimeMetrics(false),
		telemetry.WithEnvLookup(func(string) (string, bool) { return "", false }),
		telemetry.WithSpanProcessor(hangingProcessor{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = tel.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v past a 200ms deadline", d)
	}
}

// hangingProcessor never finishes shutting down before its context ends.
type hangingProcessor struct{}

func (hangingProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (hangingProcessor) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (hangingProcessor) ForceFlush(context.Context) error                { return nil }
func (hangingProcessor) Shutdown(ctx context.Context) error {
	<-ctx.Done()
	time.Sleep(100 * time.Millisecond) // finishes late, but does finish (goleak)
	return ctx.Err()
}
