package telemetry

import (
	"context"
	"net/http"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/contrib/propagators/jaeger"
	"go.opentelemetry.io/otel/propagation"
)

func buildPropagator(names []string) propagation.TextMapPropagator {
	var ps []propagation.TextMapPropagator
	for _, n := range names {
		switch n {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "b3":
			ps = append(ps, b3.New(b3.WithInjectEncoding(b3.B3SingleHeader)))
		case "b3multi":
			ps = append(ps, b3.New(b3.WithInjectEncoding(b3.B3MultipleHeader)))
		case "jaeger":
			ps = append(ps, jaeger.Jaeger{})
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...)
}

// Propagator returns the propagator of the current Setup (W3C tracecontext
// and baggage unless OTEL_PROPAGATORS or WithPropagators say otherwise).
func Propagator() propagation.TextMapPropagator { return loadState().prop }

// Inject writes the trace context and baggage of ctx into HTTP headers.
func Inject(ctx context.Context, h http.Header) {
	loadState().prop.Inject(ctx, propagation.HeaderCarrier(h))
}

// Extract returns ctx with the remote trace context and baggage read from
// HTTP headers.
func Extract(ctx context.Context, h http.Header) context.Context {
	return loadState().prop.Extract(ctx, propagation.HeaderCarrier(h))
}

// InjectMap writes the trace context into a plain map, such as message
// headers of a queue.
func InjectMap(ctx context.Context, m map[string]string) {
	loadState().prop.Inject(ctx, propagation.MapCarrier(m))
}

// ExtractMap reads the trace context from a plain map carrier.
func ExtractMap(ctx context.Context, m map[string]string) context.Context {
	return loadState().prop.Extract(ctx, propagation.MapCarrier(m))
}
