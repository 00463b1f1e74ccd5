package loupepgx

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/instrumentation/internal/sqlsem"
)

// otelpgx starts and ends each batched query's span inside
// TraceBatchQuery, so there is no span to add attributes to afterwards.
// Instead, [Tracer.TraceBatchQuery] puts them in the context under
// startAttrsKey, and the tracer otelpgx is given (tracerProvider) adds them
// to the span it starts with that context.
type startAttrsKey struct{}

type tracerProvider struct{ trace.TracerProvider }

func (p tracerProvider) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return startAttrsTracer{p.TracerProvider.Tracer(name, opts...)}
}

type startAttrsTracer struct{ trace.Tracer }

func (t startAttrsTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if attrs, ok := ctx.Value(startAttrsKey{}).([]attribute.KeyValue); ok {
		// A copy: opts is otelpgx's pooled slice. otelpgx drops the context
		// this returns, so no child of the span inherits the attributes.
		opts = append(opts[:len(opts):len(opts)], trace.WithAttributes(attrs...))
	}
	return t.Tracer.Start(ctx, name, opts...)
}

// TraceBatchStart starts otelpgx's batch span, names it by the batch's
// summary and adds the batch's query attributes (see [batchQuery]).
func (t *Tracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	parent := trace.SpanContextFromContext(ctx)
	ctx = t.Tracer.TraceBatchStart(ctx, conn, data)
	span := trace.SpanFromContext(ctx)
	if span.IsRecording() && span.SpanContext().SpanID() != parent.SpanID() && data.Batch != nil {
		q := batchQuery(t.parser, data.Batch.QueuedQueries)
		span.SetName(q.Summary)
		span.SetAttributes(queryAttrs(conn, q)...)
	}
	return ctx
}

// TraceBatchQuery has otelpgx record the span of one batched query, with
// the attributes a single query gets: the sanitized text, operation,
// collection, summary, connection and, when it failed, its SQLSTATE.
func (t *Tracer) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	if trace.SpanFromContext(ctx).IsRecording() {
		attrs := append(queryAttrs(conn, t.parser.Parse(data.SQL)), errorAttrs(data.Err)...)
		ctx = context.WithValue(ctx, startAttrsKey{}, attrs)
	}
	t.Tracer.TraceBatchQuery(ctx, conn, data)
}

// TraceBatchEnd adds the SQLSTATE of a failed batch and ends its span.
func (t *Tracer) TraceBatchEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchEndData) {
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		if attrs := errorAttrs(data.Err); attrs != nil {
			span.SetAttributes(attrs...)
		}
	}
	t.Tracer.TraceBatchEnd(ctx, conn, data)
}

// batchQuery describes a batch as the database conventions ask: the
// operation is "BATCH {op}" when every query has the same operation and
// "BATCH" otherwise; the collection is set when every query names the same
// one; the text is the queries' one sanitized text when they share it, else
// their sanitized texts joined with "; ". The summary, which names the span,
// is "{operation} {collection}" or the operation alone.
func batchQuery(p *sqlsem.Parser, queued []*pgx.QueuedQuery) sqlsem.Query {
	var op, coll, text string
	var texts []string
	for i, qq := range queued {
		q := p.Parse(qq.SQL)
		if i == 0 {
			op, coll, text = q.Operation, q.Collection, q.Text
		}
		if q.Operation != op {
			op = ""
		}
		if q.Collection != coll {
			coll = ""
		}
		if texts == nil && q.Text != text {
			texts = make([]string, 0, len(queued))
			for _, prev := range queued[:i] {
				texts = append(texts, p.Parse(prev.SQL).Text)
			}
		}
		if texts != nil {
			texts = append(texts, q.Text)
		}
	}
	if texts != nil {
		text = strings.Join(texts, "; ")
	}
	r := sqlsem.Query{Text: text, Operation: "BATCH", Collection: coll}
	if op != "" {
		r.Operation += " " + op
	}
	r.Summary = r.Operation
	if coll != "" {
		r.Summary += " " + coll
	}
	return r
}

// queryAttrs returns q's attributes and the connection's server.address,
// server.port and db.namespace (otelpgx adds db.system.name).
func queryAttrs(conn *pgx.Conn, q sqlsem.Query) []attribute.KeyValue {
	ca := connAttrs(conn)
	return append(q.AppendAttributes(make([]attribute.KeyValue, 0, 4+len(ca))), ca...)
}

// connAttrsKeyName is the key of connAttrs' entry in pgconn's CustomData.
const connAttrsKeyName = "github.com/loupe-dev/loupe/instrumentation/loupepgx.connAttrs"

// connAttrs returns the connection's server.address, server.port and
// db.namespace, kept in the connection's custom data after the first call:
// conn.Config copies the whole configuration.
func connAttrs(conn *pgx.Conn) []attribute.KeyValue {
	if conn == nil {
		return nil
	}
	pc := conn.PgConn()
	data := pc.CustomData() // a pgx.Conn is used by one goroutine at a time
	if attrs, ok := data[connAttrsKeyName].([]attribute.KeyValue); ok {
		return attrs
	}
	cfg := conn.Config()
	attrs := []attribute.KeyValue{semconv.ServerAddress(cfg.Host), semconv.ServerPort(int(cfg.Port)), semconv.DBNamespace(cfg.Database)}
	if data != nil {
		data[connAttrsKeyName] = attrs
	}
	return attrs
}
