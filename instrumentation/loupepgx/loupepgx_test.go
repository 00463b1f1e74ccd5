package loupepgx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/instrumentation/loupepgx"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

type fixture struct {
	*sdktest.SDK
	pool *pgxpool.Pool
}

func newFixture(t *testing.T, opts ...loupepgx.Option) *fixture {
	t.Helper()
	env.RequirePostgres(t)
	f := &fixture{SDK: sdktest.New(t)}
	opts = append([]loupepgx.Option{loupepgx.WithTracerProvider(f.TP), loupepgx.WithMeterProvider(f.MP)}, opts...)
	pool, err := loupepgx.NewPool(t.Context(), env.PostgresDSN, opts...)
	if err != nil {
		t.Fatal(err)
	}
	f.pool = pool
	t.Cleanup(pool.Close)
	return f
}

// queriesUnder returns root's child spans that are queries (not pool
// acquires or connects).
func (f *fixture) queriesUnder(root trace.Span) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range f.ChildrenOf(root) {
		if sdktest.Attrs(s.Attributes())["db.operation.name"] != "" {
			out = append(out, s)
		}
	}
	return out
}

func TestQueries(t *testing.T) {
	f := newFixture(t)
	ctx, root := f.Root(t.Context())
	table := "pgx_items"
	t.Cleanup(func() { _, _ = f.pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{"CREATE TABLE " + table + " (id int primary key, email text)", nil},
		{"INSERT INTO " + table + " VALUES (1, 'bob@example.com')", nil},
		{"INSERT INTO " + table + " VALUES ($1, $2)", []any{2, "carol@example.com"}},
	} {
		if _, err := f.pool.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	var email string
	if err := f.pool.QueryRow(ctx, "SELECT email FROM "+table+" WHERE id = $1", 2).Scan(&email); err != nil || email != "carol@example.com" {
		t.Fatalf("select: %q %v", email, err)
	}
	root.End()

	want := []struct{ name, text string }{
		{"CREATE " + table, "CREATE TABLE " + table + " (id int primary key, email text)"},
		{"INSERT " + table, "INSERT INTO " + table + " VALUES (?, ?)"},
		{"INSERT " + table, "INSERT INTO " + table + " VALUES ($1, $2)"},
		{"SELECT " + table, "SELECT email FROM " + table + " WHERE id = $1"},
	}
	spans := f.queriesUnder(root)
	if len(spans) != len(want) {
		t.Fatalf("%d query spans, want %d", len(spans), len(want))
	}
	port := env.PostgresDSN[strings.LastIndexByte(env.PostgresDSN, ':')+1 : strings.LastIndexByte(env.PostgresDSN, '/')]
	for i, w := range want {
		s, a := spans[i], sdktest.Attrs(spans[i].Attributes())
		if s.Name() != w.name || s.SpanKind() != trace.SpanKindClient || s.Status().Code == codes.Error {
			t.Errorf("span %d: %q %v %v, want %q", i, s.Name(), s.SpanKind(), s.Status(), w.name)
		}
		op, _, _ := strings.Cut(w.name, " ")
		if a["db.system.name"] != "postgresql" || a["db.operation.name"] != op || a["db.collection.name"] != table ||
			a["db.query.text"] != w.text || a["db.namespace"] != "postgres" ||
			a["server.address"] != "127.0.0.1" || a["server.port"] != port {
			t.Errorf("span %q attributes %v", s.Name(), a)
		}
		if _, ok := a["user.name"]; ok {
			t.Errorf("span %q records the user name", s.Name())
		}
	}
	for _, s := range f.Spans.Ended() {
		if dump := fmt.Sprint(s.Name(), s.Attributes(), s.Events()); strings.Contains(dump, "example.com") {
			t.Errorf("literal leaked into span %q: %s", s.Name(), dump)
		}
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	ctx, root := f.Root(t.Context())
	if _, err := f.pool.Exec(ctx, "UPDATE missing_table SET x = 1"); err == nil {
		t.Fatal("no error from a missing table")
	}
	qctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err := f.pool.Exec(qctx, "SELECT pg_sleep(10)")
	cancel()
	if err == nil {
		t.Fatal("no error after the deadline")
	}
	root.End()
	spans := f.queriesUnder(root)
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	if a := sdktest.Attrs(spans[0].Attributes()); spans[0].Status().Code != codes.Error || a["db.response.status_code"] != "42P01" ||
		a["error.type"] != "42P01" || spans[0].Name() != "UPDATE missing_table" {
		t.Errorf("missing table: %q %v %v", spans[0].Name(), spans[0].Status(), a)
	}
	if a := sdktest.Attrs(spans[1].Attributes()); spans[1].Status().Code != codes.Error || a["error.type"] == "" {
		t.Errorf("deadline: %q %v %v", spans[1].Name(), spans[1].Status(), a)
	}
}

func TestBatchAndPoolMetrics(t *testing.T) {
	f := newFixture(t)
	ctx, root := f.Root(t.Context())
	b := &pgx.Batch{}
	b.Queue("SELECT 1")
	b.Queue("SELECT relname FROM pg_class WHERE relname = 'pg_proc'")
	if err := f.pool.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	root.End()
	names := map[string]bool{}
	for _, s := range f.Spans.Ended() {
		names[s.Name()] = true
		if dump := fmt.Sprint(s.Attributes()); strings.Contains(dump, "pg_proc") {
			t.Errorf("literal leaked into batch span %q", s.Name())
		}
	}
	if !names["SELECT pg_class"] {
		t.Errorf("no batch query span named by its summary: %v", names)
	}

	got := map[string]bool{}
	for name := range f.Metrics(t) {
		got[name] = true
	}
	for _, n := range []string{"pgxpool.acquires", "pgxpool.total_connections", "db.client.operation.duration"} {
		if !got[n] {
			t.Errorf("no %s metric; have %v", n, got)
		}
	}
}

func TestAcquireSpansOptIn(t *testing.T) {
	for _, on := range []bool{false, true} {
		var opts []loupepgx.Option
		if on {
			opts = append(opts, loupepgx.WithAcquireSpans())
		}
		f := newFixture(t, opts...)
		ctx, root := f.Root(t.Context())
		if _, err := f.pool.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatal(err)
		}
		root.End()
		acquires := 0
		for _, s := range f.ChildrenOf(root) {
			if s.Name() == "pool.acquire" {
				acquires++
			}
		}
		if (acquires > 0) != on {
			t.Errorf("WithAcquireSpans %v: %d pool.acquire spans", on, acquires)
		}
	}
}
