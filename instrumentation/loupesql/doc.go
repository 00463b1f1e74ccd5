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
// A failed span's error.type is the SQLSTATE, "timeout" for a deadline,
// "canceled" for a cancelled context, else the Go error type.
//
// db.client.operation.duration (otelsql's histogram, in seconds) follows
// the same conventions: db.operation.name is the SQL operation ("SELECT"),
// "BEGIN", "COMMIT" or "ROLLBACK" for transaction steps and "PREPARE" for
// preparing a statement; with db.system.name, server.address, server.port,
// db.query.summary (but for PREPARE), db.collection.name when the statement
// names one table, and on failure error.type as on spans (and
// db.response.status_code for an SQLSTATE). otelsql would set db.operation.name to its method name
// ("sql.conn.query") and error.type to the Go type after loupesql's
// attributes, so loupesql gives otelsql a meter provider whose histogram
// puts loupesql's values back; everything else reaches your provider as
// otelsql records it. What is no database operation is not measured there:
// connecting, pinging, resetting a session, the time rows stay open, and a
// call the driver declines with driver.ErrSkip (database/sql then prepares
// and executes, which is measured). Their spans remain. The pool metrics
// are otelsql's db.sql.connection.* instruments.
//
// [WithTracerProvider] and [WithMeterProvider] default to the OpenTelemetry
// globals at the time of the call. [WithPropagators] is used only with
// [WithSQLCommenter], which adds the trace context to each statement as a
// comment.
package loupesql
