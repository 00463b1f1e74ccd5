// Package loupepgx instruments pgx v5 connections and pgxpool pools through
// otelpgx (github.com/exaring/otelpgx): a span per query, batch, prepare and
// connect (pool acquires too with [WithAcquireSpans]), the
// db.client.operation.duration histogram and the pgxpool.* pool metrics.
//
// [NewPool] replaces pgxpool.New; [NewTracer] gives the tracer to set as
// pgx.ConnConfig.Tracer for single connections. On top of otelpgx, query
// spans follow the database semantic conventions of
// go.opentelemetry.io/otel/semconv/v1.43.0: named by the query summary
// ("SELECT users"), with db.system.name, db.operation.name,
// db.collection.name, db.query.summary, db.namespace, server.address,
// server.port and db.query.text with every literal value replaced by "?".
// Arguments, the raw text and the connecting user name are never recorded.
// A failed query carries its SQLSTATE as db.response.status_code and
// error.type. Like otelpgx, a query starts a span only inside a recording
// parent span.
//
// A batch (pgx.Batch, SendBatch) gets a span named by its summary, with
// db.operation.batch.size and, as the conventions ask for batches,
// db.operation.name "BATCH {op}" when every query has the same operation
// ("BATCH" otherwise), db.collection.name when every query names the same
// table, and db.query.text the queries' shared sanitized text, or their
// sanitized texts joined with "; ". Each batched query that pgx reports gets
// a child span with the attributes of a single query. pgx reports no query
// whose result is an error, nor any query when preparing the batch fails:
// the batch span then carries the SQLSTATE.
//
// [WithTracerProvider] and [WithMeterProvider] default to the OpenTelemetry
// globals at the time of the call. PostgreSQL's wire protocol carries no
// trace context, so there is no WithPropagators.
package loupepgx
