package loupeall

import (
	"context"
	"database/sql"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	"github.com/loupe-dev/loupe/genai"
	"github.com/loupe-dev/loupe/instrumentation/loupegrpc"
	"github.com/loupe-dev/loupe/instrumentation/loupehttp"
	"github.com/loupe-dev/loupe/instrumentation/loupepgx"
	"github.com/loupe-dev/loupe/instrumentation/louperedis"
	"github.com/loupe-dev/loupe/instrumentation/loupesql"
)

// Providers are the OpenTelemetry providers every instrumentation uses. A nil
// field means the global one, read by [New].
type Providers struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagators    propagation.TextMapPropagator
}

// Instrumentation wraps clients and servers with one set of providers. Its
// zero value is not usable; get one from [New]. It is safe for concurrent use.
type Instrumentation struct {
	p Providers
}

// New returns an Instrumentation for p, filling nil providers with the
// current globals.
func New(p Providers) *Instrumentation {
	if p.TracerProvider == nil {
		p.TracerProvider = otel.GetTracerProvider()
	}
	if p.MeterProvider == nil {
		p.MeterProvider = otel.GetMeterProvider()
	}
	if p.Propagators == nil {
		p.Propagators = otel.GetTextMapPropagator()
	}
	return &Instrumentation{p: p}
}

// Providers returns the providers in use.
func (in *Instrumentation) Providers() Providers { return in.p }

func (in *Instrumentation) httpOptions(opts []loupehttp.Option) []loupehttp.Option {
	return append([]loupehttp.Option{
		loupehttp.WithTracerProvider(in.p.TracerProvider),
		loupehttp.WithMeterProvider(in.p.MeterProvider),
		loupehttp.WithPropagators(in.p.Propagators),
	}, opts...)
}

// HTTPHandler is [loupehttp.Handler].
func (in *Instrumentation) HTTPHandler(h http.Handler, opts ...loupehttp.Option) http.Handler {
	return loupehttp.Handler(h, in.httpOptions(opts)...)
}

// HTTPTransport is [loupehttp.NewTransport].
func (in *Instrumentation) HTTPTransport(base http.RoundTripper, opts ...loupehttp.Option) http.RoundTripper {
	return loupehttp.NewTransport(base, in.httpOptions(opts)...)
}

// HTTPClient is [loupehttp.NewClient].
func (in *Instrumentation) HTTPClient(opts ...loupehttp.Option) *http.Client {
	return loupehttp.NewClient(in.httpOptions(opts)...)
}

func (in *Instrumentation) grpcOptions(opts []loupegrpc.Option) []loupegrpc.Option {
	return append([]loupegrpc.Option{
		loupegrpc.WithTracerProvider(in.p.TracerProvider),
		loupegrpc.WithMeterProvider(in.p.MeterProvider),
		loupegrpc.WithPropagators(in.p.Propagators),
	}, opts...)
}

// GRPCServerOption is [loupegrpc.ServerOption].
func (in *Instrumentation) GRPCServerOption(opts ...loupegrpc.Option) grpc.ServerOption {
	return loupegrpc.ServerOption(in.grpcOptions(opts)...)
}

// GRPCDialOption is [loupegrpc.DialOption].
func (in *Instrumentation) GRPCDialOption(opts ...loupegrpc.Option) grpc.DialOption {
	return loupegrpc.DialOption(in.grpcOptions(opts)...)
}

// OpenDB is [loupesql.Open].
func (in *Instrumentation) OpenDB(driverName, dsn string, opts ...loupesql.Option) (*sql.DB, error) {
	return loupesql.Open(driverName, dsn, append([]loupesql.Option{
		loupesql.WithTracerProvider(in.p.TracerProvider),
		loupesql.WithMeterProvider(in.p.MeterProvider),
		loupesql.WithPropagators(in.p.Propagators),
	}, opts...)...)
}

// PgxPool is [loupepgx.NewPool].
func (in *Instrumentation) PgxPool(ctx context.Context, dsn string, opts ...loupepgx.Option) (*pgxpool.Pool, error) {
	return loupepgx.NewPool(ctx, dsn, append([]loupepgx.Option{
		loupepgx.WithTracerProvider(in.p.TracerProvider),
		loupepgx.WithMeterProvider(in.p.MeterProvider),
	}, opts...)...)
}

// Redis is [louperedis.Instrument].
func (in *Instrumentation) Redis(rdb redis.UniversalClient, opts ...louperedis.Option) error {
	return louperedis.Instrument(rdb, append([]louperedis.Option{
		louperedis.WithTracerProvider(in.p.TracerProvider),
		louperedis.WithMeterProvider(in.p.MeterProvider),
	}, opts...)...)
}

// GenAI is [genai.New].
func (in *Instrumentation) GenAI(opts ...genai.Option) *genai.Instrumenter {
	return genai.New(append([]genai.Option{
		genai.WithTracerProvider(in.p.TracerProvider),
		genai.WithMeterProvider(in.p.MeterProvider),
	}, opts...)...)
}
