package loupepgx

import (
	"context"
	"errors"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/instrumentation/internal/sqlsem"
)

// ScopeName names this package. Spans and metrics report otelpgx's scope,
// which produces them.
const ScopeName = "github.com/loupe-dev/loupe/instrumentation/loupepgx"

// Version is this package's version.
const Version = "0.1.0"

// Option configures [NewTracer] and [NewPool].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	noPoolMetrics  bool
	acquireSpans   bool
}

// WithTracerProvider sets the tracer provider (default: the global one).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tracerProvider = tp })
}

// WithMeterProvider sets the meter provider (default: the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithoutPoolMetrics makes [NewPool] leave out the pgxpool.* metrics.
func WithoutPoolMetrics() Option {
	return optionFunc(func(c *config) { c.noPoolMetrics = true })
}

// WithAcquireSpans adds otelpgx's "pool.acquire" span before each query that
// takes a connection from the pool. Off by default: it doubles the spans per
// query, and the pgxpool.acquire_duration and empty_acquire metrics already
// show waiting for connections.
func WithAcquireSpans() Option {
	return optionFunc(func(c *config) { c.acquireSpans = true })
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.tracerProvider == nil {
		c.tracerProvider = otel.GetTracerProvider()
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	return c
}

// Tracer is otelpgx's tracer with sanitized, v1.43.0 query attributes. It
// implements pgx.QueryTracer, pgx.BatchTracer, pgx.ConnectTracer,
// pgx.PrepareTracer, pgx.CopyFromTracer and pgxpool.AcquireTracer.
type Tracer struct {
	*otelpgx.Tracer
	parser *sqlsem.Parser
}

// NewTracer returns a tracer for pgx.ConnConfig.Tracer.
func NewTracer(opts ...Option) *Tracer {
	c := newConfig(opts)
	p := &sqlsem.Parser{}
	summary := func(_ context.Context, sql string) string {
		if s := p.Parse(sql).Summary; s != "" {
			return s
		}
		return "query"
	}
	oo := []otelpgx.Option{
		otelpgx.WithTracerProvider(tracerProvider{c.tracerProvider}),
		otelpgx.WithMeterProvider(c.meterProvider),
		otelpgx.WithDisableSQLStatementInAttributes(),      // raw text: ours is sanitized
		otelpgx.WithDisableConnectionDetailsInAttributes(), // it includes user.name
		otelpgx.WithSpanNameCtxFunc(summary),
		otelpgx.WithMetricOperationName(func(_ context.Context, sql string) string { return p.Parse(sql).Operation }),
	}
	if !c.acquireSpans {
		oo = append(oo, otelpgx.WithDisableAcquireTracer())
	}
	return &Tracer{parser: p, Tracer: otelpgx.NewTracer(oo...)}
}

// TraceQueryStart starts otelpgx's span and adds the query attributes.
func (t *Tracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	parent := trace.SpanContextFromContext(ctx)
	ctx = t.Tracer.TraceQueryStart(ctx, conn, data)
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() && span.SpanContext().SpanID() != parent.SpanID() {
		span.SetAttributes(queryAttrs(conn, t.parser.Parse(data.SQL))...)
	}
	return ctx
}

// TraceQueryEnd adds the SQLSTATE of a failed query and ends the span.
func (t *Tracer) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		if attrs := errorAttrs(data.Err); attrs != nil {
			span.SetAttributes(attrs...)
		}
	}
	t.Tracer.TraceQueryEnd(ctx, conn, data)
}

func errorAttrs(err error) []attribute.KeyValue {
	if err == nil {
		return nil // before pgErr, which escapes: no allocation per successful query
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr):
		return []attribute.KeyValue{semconv.DBResponseStatusCode(pgErr.Code), semconv.ErrorTypeKey.String(pgErr.Code)}
	case errors.Is(err, context.DeadlineExceeded):
		return []attribute.KeyValue{semconv.ErrorTypeKey.String("timeout")}
	case errors.Is(err, context.Canceled):
		return []attribute.KeyValue{semconv.ErrorTypeKey.String("canceled")}
	}
	return []attribute.KeyValue{semconv.ErrorType(err)}
}

// NewPool creates a pool like pgxpool.New with the [Tracer] set and, unless
// [WithoutPoolMetrics], its statistics reported as pgxpool.* metrics with
// db.client.connection.pool.name.
func NewPool(ctx context.Context, dsn string, opts ...Option) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return NewPoolWithConfig(ctx, cfg, opts...)
}

// NewPoolWithConfig is NewPool for a parsed configuration; it sets
// cfg.ConnConfig.Tracer.
func NewPoolWithConfig(ctx context.Context, cfg *pgxpool.Config, opts ...Option) (*pgxpool.Pool, error) {
	c := newConfig(opts)
	cfg.ConnConfig.Tracer = NewTracer(opts...)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if !c.noPoolMetrics {
		if err := otelpgx.RecordStats(pool, otelpgx.WithStatsMeterProvider(c.meterProvider)); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return pool, nil
}
