package loupesql_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/loupe-dev/loupe/instrumentation/loupesql"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

// durations returns db.client.operation.duration's measurement counts by
// "{db.operation.name}|{db.collection.name}|{error.type}", and its points.
func durations(t *testing.T, s *sdktest.SDK) (map[string]uint64, []metricdata.HistogramDataPoint[float64]) {
	t.Helper()
	dps := s.Histogram(t, "db.client.operation.duration")
	counts := map[string]uint64{}
	for _, dp := range dps {
		a := sdktest.Attrs(dp.Attributes.ToSlice())
		counts[a["db.operation.name"]+"|"+a["db.collection.name"]+"|"+a["error.type"]] += dp.Count
	}
	return counts, dps
}

// TestOperationDurationMetric runs statements, transactions, a prepared
// statement and failures against the real server and checks that
// db.client.operation.duration follows the database conventions:
// db.operation.name is the SQL operation (never otelsql's method name),
// error.type the SQLSTATE or "timeout", and what is no database operation
// (connect, ping, reading rows) is not measured.
func TestOperationDurationMetric(t *testing.T) {
	f := newFixture(t)
	table := "metric_items"
	ctx := t.Context() // no span: metrics are recorded all the same
	t.Cleanup(func() { _, _ = f.db.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+table) })
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(nil, f.db.PingContext(ctx))
	must(f.db.ExecContext(ctx, "CREATE TABLE "+table+" (id int primary key, note text)"))
	must(f.db.ExecContext(ctx, "INSERT INTO "+table+" VALUES (1, 'alice@example.com')"))
	rows, err := f.db.QueryContext(ctx, "SELECT note FROM "+table+" WHERE note <> 'bob@example.com'")
	must(nil, err)
	for rows.Next() {
	}
	must(nil, rows.Close())

	tx, err := f.db.BeginTx(ctx, nil)
	must(nil, err)
	must(tx.ExecContext(ctx, "INSERT INTO "+table+" VALUES (2, 'carol@example.com')"))
	must(nil, tx.Commit())
	tx, err = f.db.BeginTx(ctx, nil)
	must(nil, err)
	must(nil, tx.Rollback())

	stmt, err := f.db.PrepareContext(ctx, "UPDATE "+table+" SET note = $1 WHERE id = $2")
	must(nil, err)
	must(stmt.ExecContext(ctx, "dave@example.com", 1))
	must(nil, stmt.Close())

	if _, err := f.db.ExecContext(ctx, "DELETE FROM no_such_table WHERE id = 7"); err == nil {
		t.Fatal("no error from a missing table")
	}
	qctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = f.db.ExecContext(qctx, "SELECT pg_sleep(10)")
	cancel()
	if err == nil {
		t.Fatal("no error after the deadline")
	}

	counts, dps := durations(t, f.SDK)
	want := map[string]uint64{
		"CREATE|" + table + "|":      1,
		"INSERT|" + table + "|":      2,
		"SELECT|" + table + "|":      1,
		"BEGIN||":                    2,
		"COMMIT||":                   1,
		"ROLLBACK||":                 1,
		"PREPARE|" + table + "|":     1,
		"UPDATE|" + table + "|":      1,
		"DELETE|no_such_table|42P01": 1,
		"SELECT||timeout":            1,
	}
	if !maps.Equal(counts, want) {
		t.Errorf("measurements by operation|collection|error.type:\n got %v\nwant %v", counts, want)
	}
	port := env.PostgresDSN[strings.LastIndexByte(env.PostgresDSN, ':')+1 : strings.LastIndexByte(env.PostgresDSN, '/')]
	for _, dp := range dps {
		a := sdktest.Attrs(dp.Attributes.ToSlice())
		if a["db.system.name"] != "postgresql" || a["server.address"] != "127.0.0.1" || a["server.port"] != port {
			t.Errorf("point %v lacks the system or server", a)
		}
		if strings.HasPrefix(a["db.operation.name"], "sql.") {
			t.Errorf("otelsql's method name in %v", a)
		}
		for k := range a {
			if strings.HasPrefix(k, "loupe.internal.") {
				t.Errorf("internal key %s left in %v", k, a)
			}
		}
		if (a["error.type"] == "42P01") != (a["db.response.status_code"] == "42P01") {
			t.Errorf("SQLSTATE not in both error.type and db.response.status_code: %v", a)
		}
		if s := fmt.Sprint(a); strings.Contains(s, "example.com") || strings.Contains(s, "db.query.text") {
			t.Errorf("statement text in a measurement: %s", s)
		}
		if op := a["db.operation.name"]; op == "SELECT" && a["db.collection.name"] == table && a["db.query.summary"] != "SELECT "+table {
			t.Errorf("db.query.summary %q, want %q", a["db.query.summary"], "SELECT "+table)
		}
	}
}

// skipDriver declines direct execution (driver.ErrSkip), so database/sql
// prepares the statement and executes that instead: the declined call is
// not an operation and must not be measured.
type skipDriver struct{}

type skipConn struct{}

type skipStmt struct{}

func (skipDriver) Open(string) (driver.Conn, error) { return skipConn{}, nil }

func (skipConn) Prepare(string) (driver.Stmt, error) { return skipStmt{}, nil }
func (skipConn) Close() error                        { return nil }
func (skipConn) Begin() (driver.Tx, error)           { return nil, driver.ErrSkip }
func (skipConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return nil, driver.ErrSkip
}

func (skipStmt) Close() error                               { return nil }
func (skipStmt) NumInput() int                              { return -1 }
func (skipStmt) Exec([]driver.Value) (driver.Result, error) { return driver.RowsAffected(1), nil }
func (skipStmt) Query([]driver.Value) (driver.Rows, error)  { return nil, io.EOF }

func init() { sql.Register("loupesql-skip", skipDriver{}) }

func TestSkippedCallNotMeasured(t *testing.T) {
	s := sdktest.New(t)
	db, err := loupesql.Open("loupesql-skip", "", loupesql.WithTracerProvider(s.TP), loupesql.WithMeterProvider(s.MP),
		loupesql.WithoutPoolMetrics())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if _, err := db.ExecContext(t.Context(), "INSERT INTO things VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	counts, _ := durations(t, s)
	want := map[string]uint64{"PREPARE|things|": 1, "INSERT|things|": 1}
	if !maps.Equal(counts, want) {
		t.Errorf("measurements %v, want %v", counts, want)
	}
	for _, sp := range s.Spans.Ended() {
		if _, ok := sdktest.Attrs(sp.Attributes())["error.type"]; ok {
			t.Errorf("span %q has an error.type for driver.ErrSkip", sp.Name())
		}
	}
}
