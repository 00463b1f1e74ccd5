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
		span.SetAttributes(append(connAttrs(conn, q.Attributes()), semconv.DBSystemNamePostgreSQL)...)
	}
	return ctx
}

// TraceBatchQuery has otelpgx record the span of one batched query, with
// the attributes a single query gets: the sanitized text, operation,
// collection, summary, connection and, when it failed, its SQLSTATE.
func (t *Tracer) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	if trace.SpanFromContext(ctx).IsRecording() {
		attrs := append(connAttrs(conn, t.parser.Parse(data.SQL).Attributes()), semconv.DBSystemNamePostgreSQL)
		attrs = append(attrs, errorAttrs(data.Err)...)
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

// connAttrs appends the connection's server.address, server.port and
// db.namespace to attrs.
func connAttrs(conn *pgx.Conn, attrs []attribute.KeyValue) []attribute.KeyValue {
	if conn == nil {
		return attrs
	}
	cfg := conn.Config()
	return append(attrs, semconv.ServerAddress(cfg.Host), semconv.ServerPort(int(cfg.Port)), semconv.DBNamespace(cfg.Database))
}
