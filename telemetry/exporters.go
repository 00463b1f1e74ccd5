package telemetry

import (
	"context"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"

	"github.com/loupe-dev/loupe/telemetry/internal/conf"
)

// The applier: every resolved value goes to every exporter as an explicit
// option, so that the SDK's own reading of OTEL_EXPORTER_OTLP_* (which it
// does before applying options) can never change what was resolved. A value
// the SDK would read and Loupe does not pass would be a second source of
// truth; TestWireFollowsResolution sets each one against the code's choice.

// target names an OTLP destination in warnings without its credentials.
func target(o conf.OTLP) string {
	u, err := url.Parse(o.Endpoint)
	if err != nil {
		return o.Protocol
	}
	u.User = nil
	return fmt.Sprintf("%s (%s)", u.String(), o.Protocol)
}

// grpcCredentials is always explicit: the SDK gives credentials it built
// from OTEL_EXPORTER_OTLP_CERTIFICATE precedence over WithInsecure.
func grpcCredentials(o conf.OTLP) credentials.TransportCredentials {
	if o.Insecure {
		return insecure.NewCredentials()
	}
	return credentials.NewTLS(o.TLS)
}

// grpcCompression sets gzip or, for "none", the identity compressor: the
// exporters' WithCompressor knows no "none", and a dial option added after
// the SDK's own overrides the gzip it may have read from the environment.
func grpcCompression(o conf.OTLP) (gzip bool, identity grpc.DialOption) {
	if o.Compression == "gzip" {
		return true, nil
	}
	return false, grpc.WithDefaultCallOptions(grpc.UseCompressor(encoding.Identity))
}

func newSpanExporter(ctx context.Context, o conf.OTLP) (sdktrace.SpanExporter, error) {
	if o.Protocol == ProtocolGRPC {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(o.Endpoint), otlptracegrpc.WithHeaders(o.Headers),
			otlptracegrpc.WithTimeout(o.Timeout), otlptracegrpc.WithTLSCredentials(grpcCredentials(o))}
		if gzip, identity := grpcCompression(o); gzip {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		} else {
			opts = append(opts, otlptracegrpc.WithDialOption(identity))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(o.Endpoint), otlptracehttp.WithHeaders(o.Headers),
		otlptracehttp.WithTimeout(o.Timeout), otlptracehttp.WithCompression(otlptracehttp.NoCompression)}
	if o.Compression == "gzip" {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	if o.Protocol == ProtocolHTTPJSON {
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
	}
	if o.Insecure {
		opts = append(opts, otlptracehttp.WithInsecure())
	} else {
		opts = append(opts, otlptracehttp.WithTLSClientConfig(o.TLS))
	}
	return otlptracehttp.New(ctx, opts...)
}

func newMetricExporter(ctx context.Context, o conf.OTLP, c *conf.Config) (sdkmetric.Exporter, error) {
	sel, agg := temporalitySelector(c.Temporality), aggregationSelector(c.HistogramAggregation)
	if o.Protocol == ProtocolGRPC {
		opts := []otlpmetricgrpc.Option{otlpmetricgrpc.WithEndpointURL(o.Endpoint), otlpmetricgrpc.WithHeaders(o.Headers),
			otlpmetricgrpc.WithTimeout(o.Timeout), otlpmetricgrpc.WithTLSCredentials(grpcCredentials(o)),
			otlpmetricgrpc.WithTemporalitySelector(sel), otlpmetricgrpc.WithAggregationSelector(agg)}
		if gzip, identity := grpcCompression(o); gzip {
			opts = append(opts, otlpmetricgrpc.WithCompressor("gzip"))
		} else {
			opts = append(opts, otlpmetricgrpc.WithDialOption(identity))
		}
		return otlpmetricgrpc.New(ctx, opts...)
	}
	opts := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpointURL(o.Endpoint), otlpmetrichttp.WithHeaders(o.Headers),
		otlpmetrichttp.WithTimeout(o.Timeout), otlpmetrichttp.WithCompression(otlpmetrichttp.NoCompression),
		otlpmetrichttp.WithTemporalitySelector(sel), otlpmetrichttp.WithAggregationSelector(agg)}
	if o.Compression == "gzip" {
		opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
	}
	if o.Insecure {
		opts = append(opts, otlpmetrichttp.WithInsecure())
	} else {
		opts = append(opts, otlpmetrichttp.WithTLSClientConfig(o.TLS))
	}
	return otlpmetrichttp.New(ctx, opts...)
}

func newLogExporter(ctx context.Context, o conf.OTLP) (sdklog.Exporter, error) {
	if o.Protocol == ProtocolGRPC {
		opts := []otlploggrpc.Option{otlploggrpc.WithEndpointURL(o.Endpoint), otlploggrpc.WithHeaders(o.Headers),
			otlploggrpc.WithTimeout(o.Timeout), otlploggrpc.WithTLSCredentials(grpcCredentials(o))}
		if gzip, identity := grpcCompression(o); gzip {
			opts = append(opts, otlploggrpc.WithCompressor("gzip"))
		} else {
			opts = append(opts, otlploggrpc.WithDialOption(identity))
		}
		return otlploggrpc.New(ctx, opts...)
	}
	opts := []otlploghttp.Option{otlploghttp.WithEndpointURL(o.Endpoint), otlploghttp.WithHeaders(o.Headers),
		otlploghttp.WithTimeout(o.Timeout), otlploghttp.WithCompression(otlploghttp.NoCompression)}
	if o.Compression == "gzip" {
		opts = append(opts, otlploghttp.WithCompression(otlploghttp.GzipCompression))
	}
	if o.Insecure {
		opts = append(opts, otlploghttp.WithInsecure())
	} else {
		opts = append(opts, otlploghttp.WithTLSClientConfig(o.TLS))
	}
	return otlploghttp.New(ctx, opts...)
}

// aggregationSelector implements
// OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION.
func aggregationSelector(name string) sdkmetric.AggregationSelector {
	if name != "base2_exponential_bucket_histogram" {
		return sdkmetric.DefaultAggregationSelector
	}
	return func(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
		if k == sdkmetric.InstrumentKindHistogram {
			return sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}
		}
		return sdkmetric.DefaultAggregationSelector(k)
	}
}

// temporalitySelector implements OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE.
func temporalitySelector(pref string) sdkmetric.TemporalitySelector {
	switch pref {
	case "delta":
		return func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindUpDownCounter, sdkmetric.InstrumentKindObservableUpDownCounter:
				return metricdata.CumulativeTemporality
			}
			return metricdata.DeltaTemporality
		}
	case "lowmemory":
		return func(k sdkmetric.InstrumentKind) metricdata.Temporality {
			switch k {
			case sdkmetric.InstrumentKindCounter, sdkmetric.InstrumentKindHistogram:
				return metricdata.DeltaTemporality
			}
			return metricdata.CumulativeTemporality
		}
	}
	return sdkmetric.DefaultTemporalitySelector
}
