// Package loupesql instruments database/sql, with any driver, through otelsql
// (github.com/XSAM/otelsql): a span per query, statement and transaction
// step, the db.client.operation.duration histogram and connection-pool
// metrics.
//
// [Open] and [OpenDB] replace sql.Open and sql.OpenDB. On top of otelsql they
// follow the database semantic conventions of
// go.opentelemetry.io/otel/semconv/v1.43.0: spans are named by the query
// summary ("SELECT users"), carry db.system.name, db.operation.name,
// db.collection.name, db.query.summary, server.address and server.port, and
// db.query.text with every literal value replaced by "?" — never the
// arguments, and never the raw text unless [WithRawQueryText] asks for it.
// Statements with several tables carry no db.collection.name. A failed
// statement's SQLSTATE, when the driver reports one, is its
// db.response.status_code and the span's error.type.
//
// In the metrics otelsql has the last word: db.operation.name is its method
// ("sql.conn.query") and error.type the Go error type; loupesql adds
// db.system.name, server.* and db.collection.name. The pool metrics are
// otelsql's db.sql.connection.* instruments.
//
// [WithTracerProvider] and [WithMeterProvider] default to the OpenTelemetry
// globals at the time of the call. [WithPropagators] is used only with
// [WithSQLCommenter], which adds the trace context to each statement as a
// comment.
package loupesql
