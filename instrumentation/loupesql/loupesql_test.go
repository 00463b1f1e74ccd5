package loupesql_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/instrumentation/loupesql"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

type fixture struct {
	*sdktest.SDK
	db *sql.DB
}

func newFixture(t *testing.T, opts ...loupesql.Option) *fixture {
	t.Helper()
	env.RequirePostgres(t)
	f := &fixture{SDK: sdktest.New(t)}
	db, err := loupesql.Open("pgx", env.PostgresDSN, append([]loupesql.Option{
		loupesql.WithTracerProvider(f.TP), loupesql.WithMeterProvider(f.MP)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	f.db = db
	t.Cleanup(func() { _ = db.Close() })
	return f
}

// childrenOf returns root's child spans but the connection's (a query on a
// new pool connects first).
func (f *fixture) childrenOf(root trace.Span) []sdktrace.ReadOnlySpan {
	return f.ChildrenOf(root, "sql.connector.connect")
}

const secret = "alice@example.com"

func TestQueries(t *testing.T) {
	f := newFixture(t)
	ctx, root := f.Root(t.Context())
	table := "items_" + strings.ToLower(t.Name())
	t.Cleanup(func() { _, _ = f.db.ExecContext(context.Background(), "DROP TABLE IF EXISTS "+table) })
	steps := []struct {
		query string
		args  []any
	}{
		{"CREATE TABLE " + table + " (id int primary key, note text)", nil},
		{"INSERT INTO " + table + " (id, note) VALUES (1, 'alice@example.com')", nil},
		{"INSERT INTO " + table + " (id, note) VALUES ($1, $2)", []any{2, secret}},
	}
	for _, s := range steps {
		if _, err := f.db.ExecContext(ctx, s.query, s.args...); err != nil {
			t.Fatalf("%s: %v", s.query, err)
		}
	}
	var note string
	if err := f.db.QueryRowContext(ctx, "SELECT note FROM "+table+" WHERE id = 4111 OR id = $1", 2).Scan(&note); err != nil || note != secret {
		t.Fatalf("select: %q %v", note, err)
	}
	root.End()

	want := []struct{ name, op, text string }{
		{"CREATE " + table, "CREATE", "CREATE TABLE " + table + " (id int primary key, note text)"},
		{"INSERT " + table, "INSERT", "INSERT INTO " + table + " (id, note) VALUES (?, ?)"},
		{"INSERT " + table, "INSERT", "INSERT INTO " + table + " (id, note) VALUES ($1, $2)"},
		{"SELECT " + table, "SELECT", "SELECT note FROM " + table + " WHERE id = ? OR id = $1"},
	}
	spans := f.childrenOf(root)
	if len(spans) != len(want) {
		var names []string
		for _, s := range f.Spans.Ended() {
			names = append(names, s.Name())
		}
		t.Fatalf("%d child spans, want %d: %v", len(spans), len(want), names)
	}
	port := env.PostgresDSN[strings.LastIndexByte(env.PostgresDSN, ':')+1 : strings.LastIndexByte(env.PostgresDSN, '/')]
	for i, w := range want {
		s, a := spans[i], sdktest.Attrs(spans[i].Attributes())
		if s.Name() != w.name || s.SpanKind() != trace.SpanKindClient || s.Status().Code == codes.Error {
			t.Errorf("span %d: %q %v %v, want %q", i, s.Name(), s.SpanKind(), s.Status(), w.name)
		}
		if a["db.system.name"] != "postgresql" || a["db.operation.name"] != w.op || a["db.collection.name"] != table ||
			a["db.query.text"] != w.text || a["db.query.summary"] != w.name ||
			a["server.address"] != "127.0.0.1" || a["server.port"] != port {
			t.Errorf("span %q attributes %v", s.Name(), a)
		}
	}
	for _, s := range f.Spans.Ended() {
		dump := fmt.Sprint(s.Name(), s.Attributes(), s.Events())
		if strings.Contains(dump, "alice") || strings.Contains(dump, "4111") {
			t.Errorf("literal leaked into span %q: %s", s.Name(), dump)
		}
	}
}

func TestFailingQuery(t *testing.T) {
	f := newFixture(t)
	ctx, root := f.Root(t.Context())
	_, err := f.db.ExecContext(ctx, "DELETE FROM no_such_table WHERE id = 7")
	root.End()
	if err == nil {
		t.Fatal("no error from a missing table")
	}
	spans := f.childrenOf(root)
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	a := sdktest.Attrs(spans[0].Attributes())
	if spans[0].Status().Code != codes.Error || a["db.response.status_code"] != "42P01" || a["error.type"] != "42P01" ||
		spans[0].Name() != "DELETE no_such_table" {
		t.Errorf("span %q status %v attributes %v", spans[0].Name(), spans[0].Status(), a)
	}
	dps := f.Histogram(t, "db.client.operation.duration")
	found := false
	for _, dp := range dps {
		da := sdktest.Attrs(dp.Attributes.ToSlice())
		found = found || (da["db.response.status_code"] == "42P01" && da["error.type"] == "42P01" &&
			da["db.operation.name"] == "DELETE" &&
			da["db.collection.name"] == "no_such_table" && da["db.system.name"] == "postgresql")
	}
	if !found {
		t.Errorf("no failed measurement in %+v", dps)
	}
}

func TestCancelledContext(t *testing.T) {
	f := newFixture(t)
	ctx, root := f.Root(t.Context())
	qctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := f.db.ExecContext(qctx, "SELECT pg_sleep(10)")
	root.End()
	if err == nil {
		t.Fatal("no error after the deadline")
	}
	var failed bool
	for _, s := range f.childrenOf(root) {
		failed = failed || (s.Name() == "SELECT" && s.Status().Code == codes.Error)
	}
	if !failed {
		t.Errorf("no failed SELECT span among %d", len(f.childrenOf(root)))
	}
}

func TestTransactionAndPoolMetrics(t *testing.T) {
	f := newFixture(t)
	ctx, root := f.Root(t.Context())
	tx, err := f.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	root.End()
	names := map[string]bool{}
	for _, s := range f.Spans.Ended() {
		names[s.Name()] = true
	}
	for _, n := range []string{"sql.connector.connect", "sql.conn.begin_tx", "SELECT", "sql.tx.commit"} {
		if !names[n] {
			t.Errorf("no %q span; have %v", n, names)
		}
	}

	open := map[string]int64{}
	if m, ok := f.Metrics(t)["db.sql.connection.open"]; ok {
		for _, dp := range m.Data.(metricdata.Gauge[int64]).DataPoints {
			open[sdktest.Attrs(dp.Attributes.ToSlice())["status"]] = dp.Value
		}
	}
	if open["idle"]+open["inuse"] < 1 {
		t.Errorf("db.sql.connection.open %v, want a connection", open)
	}
}
