package loupesql

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/loupe-dev/loupe/instrumentation/internal/sqlsem"
)

// otelsql records db.client.operation.duration with its own
// db.operation.name (the database/sql method, "sql.conn.query") and error.type
// (the Go error type) appended after the attributes our getters return, and
// in an attribute set the last value of a key wins: a getter cannot set
// them. So the getters put loupesql's values under the keys below, and the
// histogram otelsql is given (through meterProvider) moves them into place
// and drops the measurements that are not database operations.
const (
	// The SQL operation ("SELECT", "COMMIT"); its absence marks a method
	// that is no database operation (connect, ping, session reset, rows).
	operationStash = attribute.Key("loupe.internal.db.operation.name")
	// error.type when loupesql knows better than the Go type: the SQLSTATE,
	// "timeout" or "canceled".
	errorTypeStash = attribute.Key("loupe.internal.error.type")
	// driver.ErrSkip: the driver declined the call and database/sql retries
	// another way, which is measured on its own.
	skipStash = attribute.Key("loupe.internal.skip")
)

var (
	beginAttrs    = []attribute.KeyValue{operationStash.String("BEGIN")}
	commitAttrs   = []attribute.KeyValue{operationStash.String("COMMIT")}
	rollbackAttrs = []attribute.KeyValue{operationStash.String("ROLLBACK")}
	skipAttrs     = []attribute.KeyValue{skipStash.Bool(true)}
)

// instrumentAttrs is otelsql's InstrumentAttributesGetter: the operation,
// collection and summary of a statement, or the transaction step.
func instrumentAttrs(p *sqlsem.Parser) otelsql.InstrumentAttributesGetter {
	return func(_ context.Context, method otelsql.Method, query string, _ []driver.NamedValue) []attribute.KeyValue {
		switch method {
		case otelsql.MethodConnQuery, otelsql.MethodConnExec, otelsql.MethodStmtQuery, otelsql.MethodStmtExec, otelsql.MethodConnPrepare:
		case otelsql.MethodConnBeginTx:
			return beginAttrs
		case otelsql.MethodTxCommit:
			return commitAttrs
		case otelsql.MethodTxRollback:
			return rollbackAttrs
		default:
			return nil
		}
		q := p.Parse(query)
		attrs := make([]attribute.KeyValue, 0, 3)
		if method == otelsql.MethodConnPrepare {
			attrs = append(attrs, operationStash.String("PREPARE"))
		} else {
			attrs = append(attrs, operationStash.String(q.Operation))
			if q.Summary != "" {
				attrs = append(attrs, semconv.DBQuerySummary(q.Summary))
			}
		}
		if q.Collection != "" {
			attrs = append(attrs, semconv.DBCollectionName(q.Collection))
		}
		return attrs
	}
}

// instrumentErrorAttrs is otelsql's InstrumentErrorAttributesGetter.
func instrumentErrorAttrs(err error) []attribute.KeyValue {
	if errors.Is(err, driver.ErrSkip) {
		return skipAttrs
	}
	code, errType := classify(err)
	switch {
	case code != "":
		return []attribute.KeyValue{semconv.DBResponseStatusCode(code), errorTypeStash.String(errType)}
	case errType != "":
		return []attribute.KeyValue{errorTypeStash.String(errType)}
	}
	return nil // otelsql's error.type: the Go type, or database/sql/driver.ErrBadConn and the like
}

// meterProvider gives otelsql meters whose db.client.operation.duration
// histogram applies the stashed values; everything else passes through.
type meterProvider struct{ metric.MeterProvider }

func (p meterProvider) Meter(name string, opts ...metric.MeterOption) metric.Meter {
	return meter{p.MeterProvider.Meter(name, opts...)}
}

type meter struct{ metric.Meter }

func (m meter) Float64Histogram(name string, opts ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	h, err := m.Meter.Float64Histogram(name, opts...)
	if err != nil || name != operationDurationName {
		return h, err
	}
	return operationDuration{h}, nil
}

const operationDurationName = "db.client.operation.duration"

type operationDuration struct{ metric.Float64Histogram }

func (h operationDuration) Record(ctx context.Context, v float64, opts ...metric.RecordOption) {
	set := metric.NewRecordConfig(opts).Attributes()
	op, ok := set.Value(operationStash)
	if !ok {
		return // not a database operation
	}
	if _, skip := set.Value(skipStash); skip {
		return
	}
	errType, hasErrType := set.Value(errorTypeStash)
	kvs := make([]attribute.KeyValue, 0, set.Len())
	for it := set.Iter(); it.Next(); {
		kv := it.Attribute()
		switch kv.Key {
		case operationStash, errorTypeStash, semconv.DBOperationNameKey:
			continue
		case semconv.ErrorTypeKey:
			if hasErrType {
				continue
			}
		}
		kvs = append(kvs, kv)
	}
	if s := op.AsString(); s != "" {
		kvs = append(kvs, semconv.DBOperationName(s))
	}
	if hasErrType {
		kvs = append(kvs, semconv.ErrorTypeKey.String(errType.AsString()))
	}
	h.Float64Histogram.Record(ctx, v, metric.WithAttributeSet(attribute.NewSet(kvs...)))
}
