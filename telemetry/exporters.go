package telemetry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"

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
	"google.golang.org/grpc/credentials"
)

// tlsConfig loads the CA and client certificate files named by
// OTEL_EXPORTER_OTLP_*CERTIFICATE / CLIENT_KEY; nil when none is set.
func (o otlpConfig) tlsConfig() (*tls.Config, error) {
	if o.caFile == "" && o.certFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTEL_EXPORTER_OTLP_CERTIFICATE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("telemetry: OTEL_EXPORTER_OTLP_CERTIFICATE=%q: no PEM certificate found in the file", o.caFile)
		}
		cfg.RootCAs = pool
	}
	if o.certFile != "" {
		pair, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("telemetry: OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE/CLIENT_KEY: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// target names an OTLP destination in warnings without its credentials.
func (o otlpConfig) target() string {
	u, err := url.Parse(o.endpoint)
	if err != nil {
		return o.protocol
	}
	u.User = nil
	return fmt.Sprintf("%s (%s)", u.String(), o.protocol)
}

func newSpanExporter(ctx context.Context, o otlpConfig) (sdktrace.SpanExporter, error) {
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	if o.protocol == ProtocolGRPC {
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(o.endpoint), otlptracegrpc.WithHeaders(o.headers), otlptracegrpc.WithTimeout(o.timeout)}
		if o.compression == "gzip" {
			opts = append(opts, otlptracegrpc.WithCompressor("gzip"))
		}
		if o.insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		} else if tlsCfg != nil {
			opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(o.endpoint), otlptracehttp.WithHeaders(o.headers), otlptracehttp.WithTimeout(o.timeout)}
	if o.compression == "gzip" {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	if o.protocol == ProtocolHTTPJSON {
		opts = append(opts, otlptracehttp.WithEncoding(otlptracehttp.EncodingJSON))
	}
	if o.insecure {
		opts = append(opts, otlptracehttp.WithInsecure())
	} else if tlsCfg != nil {
		opts = append(opts, otlptracehttp.WithTLSClientConfig(tlsCfg))
	}
	return otlptracehttp.New(ctx, opts...)
}

func newMetricExporter(ctx context.Context, o otlpConfig, temporality string) (sdkmetric.Exporter, error) {
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	sel := temporalitySelector(temporality)
	if o.protocol == ProtocolGRPC {
		opts := []otlpmetricgrpc.Option{otlpmetricgrpc.WithEndpointURL(o.endpoint), otlpmetricgrpc.WithHeaders(o.headers), otlpmetricgrpc.WithTimeout(o.timeout), otlpmetricgrpc.WithTemporalitySelector(sel)}
		if o.compression == "gzip" {
			opts = append(opts, otlpmetricgrpc.WithCompressor("gzip"))
		}
		if o.insecure {
			opts = append(opts, otlpmetricgrpc.WithInsecure())
		} else if tlsCfg != nil {
			opts = append(opts, otlpmetricgrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
		}
		return otlpmetricgrpc.New(ctx, opts...)
	}
	opts := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpointURL(o.endpoint), otlpmetrichttp.WithHeaders(o.headers), otlpmetrichttp.WithTimeout(o.timeout), otlpmetrichttp.WithTemporalitySelector(sel)}
	if o.compression == "gzip" {
		opts = append(opts, otlpmetrichttp.WithCompression(otlpmetrichttp.GzipCompression))
	}
	if o.insecure {
		opts = append(opts, otlpmetrichttp.WithInsecure())
	} else if tlsCfg != nil {
		opts = append(opts, otlpmetrichttp.WithTLSClientConfig(tlsCfg))
	}
	return otlpmetrichttp.New(ctx, opts...)
}

func newLogExporter(ctx context.Context, o otlpConfig) (sdklog.Exporter, error) {
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	if o.protocol == ProtocolGRPC {
		opts := []otlploggrpc.Option{otlploggrpc.WithEndpointURL(o.endpoint), otlploggrpc.WithHeaders(o.headers), otlploggrpc.WithTimeout(o.timeout)}
		if o.compression == "gzip" {
			opts = append(opts, otlploggrpc.WithCompressor("gzip"))
		}
		if o.insecure {
			opts = append(opts, otlploggrpc.WithInsecure())
		} else if tlsCfg != nil {
			opts = append(opts, otlploggrpc.WithTLSCredentials(credentials.NewTLS(tlsCfg)))
		}
		return otlploggrpc.New(ctx, opts...)
	}
	opts := []otlploghttp.Option{otlploghttp.WithEndpointURL(o.endpoint), otlploghttp.WithHeaders(o.headers), otlploghttp.WithTimeout(o.timeout)}
	if o.compression == "gzip" {
		opts = append(opts, otlploghttp.WithCompression(otlploghttp.GzipCompression))
	}
	if o.insecure {
		opts = append(opts, otlploghttp.WithInsecure())
	} else if tlsCfg != nil {
		opts = append(opts, otlploghttp.WithTLSClientConfig(tlsCfg))
	}
	return otlploghttp.New(ctx, opts...)
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
