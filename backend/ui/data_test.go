package ui_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/metric"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// The names the browser test looks for.
const (
	shopService     = "shop"
	paymentsService = "payments"
	histogramName   = "payment_charge_duration_seconds" // payment.charge.duration in s
	serverName      = "http_server_request_duration_seconds"
	nativeName      = "payload_size_bytes" // payload.size in By, exponential
	slowBody        = "card declined: the payment gateway timed out after 3.2s"
	rootBody        = "checkout started for order o-slow"
	gatewayValue    = "acme-pay" // an attribute of the slow checkout's error log only
	// xssValue is a span attribute and part of a log body: the page must
	// show it as text and never run it.
	xssValue = `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`
)

// sent is what sendTelemetry sent: the slow checkout's trace, its charge
// span (the one whose latency is the exemplar of the slow bucket) and its
// root span.
type sent struct {
	slowTrace, slowCharge, slowRoot string
	traces                          int
}

// sendTelemetry sends, with the OpenTelemetry Go SDK's OTLP/HTTP exporters,
// checkouts of the shop service: a root span, a "charge card" child whose
// latency is recorded in the payment.charge.duration histogram (so its
// exemplar names that child span), a payments span under it, and logs in
// both spans. One checkout is slow and fails. The histogram is exported
// three times, a second apart, so that rate() has samples to work with.
func sendTelemetry(t *testing.T, otlpHTTP string) sent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := func(service string) *resource.Resource {
		return resource.NewWithAttributes(semconv.SchemaURL, semconv.ServiceName(service), semconv.ServiceVersion("1.2.3"))
	}
	newTP := func(service string) *sdktrace.TracerProvider {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(otlpHTTP), otlptracehttp.WithInsecure())
		if err != nil {
			t.Fatal(err)
		}
		return sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithResource(res(service)))
	}
	shopTP, payTP := newTP(shopService), newTP(paymentsService)
	mexp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(otlpHTTP), otlpmetrichttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	// Exports happen on ForceFlush only.
	// payload.size is an exponential histogram, served as a native one.
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res(shopService)),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithView(sdkmetric.NewView(sdkmetric.Instrument{Name: "payload.size"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}})))
	lexp, err := otlploghttp.New(ctx, otlploghttp.WithEndpoint(otlpHTTP), otlploghttp.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewSimpleProcessor(lexp)), sdklog.WithResource(res(shopService)))
	defer func() {
		for _, shutdown := range []func(context.Context) error{shopTP.Shutdown, payTP.Shutdown, mp.Shutdown, lp.Shutdown} {
			if err := shutdown(ctx); err != nil {
				t.Errorf("shutdown: %v", err)
			}
		}
	}()

	tracer, payTracer := shopTP.Tracer("shop"), payTP.Tracer("payments")
	logger := lp.Logger("shop")
	hist, err := mp.Meter("shop").Float64Histogram("payment.charge.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of card charges."),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
	if err != nil {
		t.Fatal(err)
	}
	size, err := mp.Meter("shop").Int64Histogram("payload.size", metric.WithUnit("By"))
	if err != nil {
		t.Fatal(err)
	}
	// The shop's server duration, as loupehttp records it; payments sends
	// spans only.
	server, err := mp.Meter("shop").Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
	if err != nil {
		t.Fatal(err)
	}
	emit := func(ctx context.Context, sev otellog.Severity, body string, attrs ...attribute.KeyValue) {
		var r otellog.Record
		r.SetTimestamp(time.Now())
		r.SetSeverity(sev)
		r.SetSeverityText(sev.String())
		r.SetBody(attribute.StringValue(body))
		r.AddAttributes(attrs...)
		logger.Emit(ctx, r)
	}

	var out sent
	checkout := func(order string, seconds float64, slow bool) {
		// The spans last as long as the latency recorded.
		d := time.Duration(seconds * float64(time.Second))
		t0 := time.Now().Add(-d - 20*time.Millisecond)
		t1 := t0.Add(5 * time.Millisecond)
		t2 := t1.Add(d)
		ctx, root := tracer.Start(ctx, "POST /checkout", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(t0),
			trace.WithAttributes(attribute.String("http.route", "/checkout"), attribute.String("order.id", order)))
		if slow {
			emit(ctx, otellog.SeverityInfo, rootBody)
		} else {
			emit(ctx, otellog.SeverityInfo, "checkout started for order "+order)
		}
		cctx, charge := tracer.Start(ctx, "charge card", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(t1))
		emit(cctx, otellog.SeverityInfo, "charging card for order "+order, attribute.String("order.id", order))
		_, auth := payTracer.Start(cctx, "authorize", trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(t1.Add(time.Millisecond)))
		auth.AddEvent("gateway called", trace.WithAttributes(attribute.Int("attempt", 1)), trace.WithTimestamp(t1.Add(2*time.Millisecond)))
		if slow {
			charge.SetAttributes(attribute.String("evil", xssValue))
			charge.SetStatus(codes.Error, "gateway timeout")
			auth.SetStatus(codes.Error, "gateway timeout")
			emit(cctx, otellog.SeverityError, slowBody+" "+xssValue, attribute.String("order.id", order), attribute.String("gateway", gatewayValue))
		}
		auth.End(trace.WithTimestamp(t2.Add(-time.Millisecond)))
		hist.Record(cctx, seconds, metric.WithAttributes(attribute.String("card.brand", "visa")))
		size.Record(ctx, int64(1000+len(order)*100))
		status := 200
		if slow {
			status = 500
		}
		server.Record(ctx, t2.Add(5*time.Millisecond).Sub(t0).Seconds(), metric.WithAttributes(attribute.String("http.request.method", "POST"),
			attribute.String("http.route", "/checkout"), attribute.Int("http.response.status_code", status)))
		charge.End(trace.WithTimestamp(t2))
		root.End(trace.WithTimestamp(t2.Add(5 * time.Millisecond)))
		out.traces++
		if slow {
			out.slowTrace = root.SpanContext().TraceID().String()
			out.slowRoot = root.SpanContext().SpanID().String()
			out.slowCharge = charge.SpanContext().SpanID().String()
		}
	}
	for round := range 3 {
		if round == 0 {
			checkout("o-slow", 3.2, true)
		}
		for i, s := range []float64{0.02, 0.04, 0.07, 0.15} {
			checkout(fmt.Sprintf("o-%d-%d", round, i), s, false)
		}
		if err := mp.ForceFlush(ctx); err != nil {
			t.Fatalf("exporting metrics: %v", err)
		}
		if round < 2 {
			time.Sleep(1100 * time.Millisecond)
		}
	}
	return out
}
