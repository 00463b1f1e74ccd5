package loupesql

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/instrumentation/internal/sqlsem"
)

// ScopeName names this package. Spans and metrics report otelsql's scope,
// which produces them.
const ScopeName = "github.com/loupe-dev/loupe/instrumentation/loupesql"

// Version is this package's version.
const Version = "0.1.0"

// Option configures [Open] and [OpenDB].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	propagators    propagation.TextMapPropagator
	system         attribute.KeyValue
	rawText        bool
	commenter      bool
	noPoolMetrics  bool
	attrs          []attribute.KeyValue
}

// WithTracerProvider sets the tracer provider (default: the global one).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tracerProvider = tp })
}

// WithMeterProvider sets the meter provider (default: the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithPropagators sets the propagators [WithSQLCommenter] uses (default: the
// global one).
func WithPropagators(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) { c.propagators = p })
}

// WithSQLCommenter appends the trace context to each statement as an SQL
// comment (sqlcommenter), for databases that log it. Off by default.
func WithSQLCommenter(on bool) Option {
	return optionFunc(func(c *config) { c.commenter = on })
}

// WithSystem sets db.system.name, such as semconv.DBSystemNamePostgreSQL.
// The default derives it from the driver name ("pgx" and "postgres" give
// postgresql, "mysql" mysql, "sqlite" and "sqlite3" sqlite; others
// other_sql) and is postgresql for OpenDB.
func WithSystem(system attribute.KeyValue) Option {
	return optionFunc(func(c *config) { c.system = system })
}

// WithRawQueryText records the statement text as written, literals included,
// in db.query.text. Off by default: literals may hold personal data.
func WithRawQueryText(on bool) Option {
	return optionFunc(func(c *config) { c.rawText = on })
}

// WithoutPoolMetrics leaves out the connection-pool metrics.
func WithoutPoolMetrics() Option {
	return optionFunc(func(c *config) { c.noPoolMetrics = true })
}

// WithAttributes adds attributes to every span and measurement, such as
// semconv.DBNamespace("orders").
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return optionFunc(func(c *config) { c.attrs = append(c.attrs, attrs...) })
}

func newConfig(driverName string, opts []Option) config {
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
	if c.propagators == nil {
		c.propagators = otel.GetTextMapPropagator()
	}
	if !c.system.Valid() {
		c.system = systemOf(driverName)
	}
	return c
}

func systemOf(driverName string) attribute.KeyValue {
	switch strings.ToLower(driverName) {
	case "pgx", "pgx/v5", "postgres", "postgresql", "":
		return semconv.DBSystemNamePostgreSQL
	case "mysql":
		return semconv.DBSystemNameMySQL
	case "sqlite", "sqlite3":
		return semconv.DBSystemNameSQLite
	}
	return semconv.DBSystemNameOtherSQL
}

// otelsqlOptions builds otelsql's configuration. serverAttrs come from the DSN.
func (c config) otelsqlOptions(serverAttrs []attribute.KeyValue) []otelsql.Option {
	p := &sqlsem.Parser{DoubleQuotedStrings: c.system == semconv.DBSystemNameMySQL}
	base := append([]attribute.KeyValue{c.system}, serverAttrs...)
	base = append(base, c.attrs...)
	rawText := c.rawText
	return []otelsql.Option{
		otelsql.WithTracerProvider(c.tracerProvider),
		otelsql.WithMeterProvider(meterProvider{c.meterProvider}),
		otelsql.WithTextMapPropagator(c.propagators),
		otelsql.WithSQLCommenter(c.commenter),
		otelsql.WithAttributes(base...),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			DisableQuery:         true, // db.query.text comes sanitized from AttributesGetter
			DisableErrSkip:       true,
			OmitRows:             true,
			OmitConnResetSession: true,
		}),
		otelsql.WithSpanNameFormatter(func(_ context.Context, method otelsql.Method, query string) string {
			if query == "" {
				return string(method)
			}
			if s := p.Parse(query).Summary; s != "" {
				return s
			}
			return string(method)
		}),
		otelsql.WithAttributesGetter(func(_ context.Context, _ otelsql.Method, query string, _ []driver.NamedValue) []attribute.KeyValue {
			if query == "" {
				return nil
			}
			q := p.Parse(query)
			attrs := q.Attributes()
			if rawText {
				attrs = append(attrs, semconv.DBQueryText(query))
			}
			return attrs
		}),
		otelsql.WithInstrumentAttributesGetter(instrumentAttrs(p)),
		otelsql.WithSpanErrorAttributesGetter(spanErrorAttrs),
		otelsql.WithInstrumentErrorAttributesGetter(instrumentErrorAttrs),
	}
}

// sqlStater is implemented by driver errors that carry an SQLSTATE, such as
// pgconn.PgError.
type sqlStater interface{ SQLState() string }

// classify returns the SQLSTATE of err, when the driver reports one, and the
// error.type loupesql gives it: the SQLSTATE, "timeout" for a deadline,
// "canceled" for a cancelled context, else "".
func classify(err error) (code, errType string) {
	var s sqlStater
	switch {
	case errors.As(err, &s) && s.SQLState() != "":
		return s.SQLState(), s.SQLState()
	case errors.Is(err, context.DeadlineExceeded):
		return "", "timeout"
	case errors.Is(err, context.Canceled):
		return "", "canceled"
	}
	return "", ""
}

// spanErrorAttrs sets a failed span's error.type (see [classify]; the Go
// error type otherwise) and db.response.status_code when the driver reports
// an SQLSTATE. driver.ErrSkip is no failure: database/sql retries another way.
func spanErrorAttrs(err error) []attribute.KeyValue {
	code, errType := classify(err)
	switch {
	case code != "":
		return []attribute.KeyValue{semconv.DBResponseStatusCode(code), semconv.ErrorTypeKey.String(errType)}
	case errType != "":
		return []attribute.KeyValue{semconv.ErrorTypeKey.String(errType)}
	case errors.Is(err, driver.ErrSkip):
		return nil
	case errors.Is(err, driver.ErrBadConn):
		return []attribute.KeyValue{semconv.ErrorTypeKey.String("database/sql/driver.ErrBadConn")}
	}
	return []attribute.KeyValue{semconv.ErrorType(err)}
}

// Open opens a database like sql.Open, instrumented. Unless
// [WithoutPoolMetrics], it registers the pool metrics
// (db.sql.connection.*) with the meter provider for the life of that
// provider.
func Open(driverName, dsn string, opts ...Option) (*sql.DB, error) {
	c := newConfig(driverName, opts)
	oo := c.otelsqlOptions(otelsql.AttributesFromDSN(dsn))
	db, err := otelsql.Open(driverName, dsn, oo...)
	if err != nil {
		return nil, err
	}
	if err := c.registerPool(db, oo); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

// OpenDB opens a database from a connector like sql.OpenDB, instrumented.
// db.system.name defaults to postgresql; server.address and server.port are
// not known from a connector: pass them with [WithAttributes].
func OpenDB(connector driver.Connector, opts ...Option) (*sql.DB, error) {
	c := newConfig("", opts)
	oo := c.otelsqlOptions(nil)
	db := otelsql.OpenDB(connector, oo...)
	if err := c.registerPool(db, oo); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return db, nil
}

func (c config) registerPool(db *sql.DB, oo []otelsql.Option) error {
	if c.noPoolMetrics {
		return nil
	}
	_, err := otelsql.RegisterDBStatsMetrics(db, oo...)
	return err
}
