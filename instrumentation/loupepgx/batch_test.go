package loupepgx_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/internal/sdktest"
)

// TestBatchSpans sends batches to the real server and checks the batch span
// and each batched query's span: names, parents, the sanitized text and the
// query attributes, errors, and that no literal reaches any span.
func TestBatchSpans(t *testing.T) {
	f := newFixture(t)
	const table = "pgx_batch_items"
	if _, err := f.pool.Exec(t.Context(), "CREATE TABLE "+table+" (id int primary key, email text)"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = f.pool.Exec(context.Background(), "DROP TABLE IF EXISTS "+table) })
	port := env.PostgresDSN[strings.LastIndexByte(env.PostgresDSN, ':')+1 : strings.LastIndexByte(env.PostgresDSN, '/')]
	insert := "INSERT INTO " + table + " VALUES (?, ?)"

	type query struct{ name, op, coll, text, status string }
	for _, tc := range []struct {
		name    string
		queue   []string
		fails   bool
		batch   query // the batch span: name, db.operation.name, db.collection.name, db.query.text
		queries []query
	}{{
		name: "same statement",
		queue: []string{
			"INSERT INTO " + table + " VALUES (1, 'alice@example.com')",
			"INSERT INTO " + table + " VALUES (2, 'bob@example.com')",
		},
		batch:   query{"BATCH INSERT " + table, "BATCH INSERT", table, insert, ""},
		queries: []query{{"INSERT " + table, "INSERT", table, insert, ""}, {"INSERT " + table, "INSERT", table, insert, ""}},
	}, {
		name: "mixed",
		queue: []string{
			"INSERT INTO " + table + " VALUES (3, 'carol@example.com')",
			"UPDATE " + table + " SET email = 'dave@example.com' WHERE id = 3",
			"SELECT relname FROM pg_class WHERE relname = 'secret_relation'",
		},
		batch: query{"BATCH", "BATCH", "",
			insert + "; UPDATE " + table + " SET email = ? WHERE id = ?; SELECT relname FROM pg_class WHERE relname = ?", ""},
		queries: []query{
			{"INSERT " + table, "INSERT", table, insert, ""},
			{"UPDATE " + table, "UPDATE", table, "UPDATE " + table + " SET email = ? WHERE id = ?", ""},
			{"SELECT pg_class", "SELECT", "pg_class", "SELECT relname FROM pg_class WHERE relname = ?", ""},
		},
	}, {
		// Fails when executed. pgx (v5.9.2, pipeline mode) traces no query
		// whose result is an error: the batch span carries it.
		name: "failing query",
		queue: []string{
			"INSERT INTO " + table + " VALUES (10, 'erin@example.com')",
			"INSERT INTO " + table + " VALUES (10, 'frank@example.com')", // duplicate key
		},
		fails:   true,
		batch:   query{"BATCH INSERT " + table, "BATCH INSERT", table, insert, "23505"},
		queries: []query{{"INSERT " + table, "INSERT", table, insert, ""}},
	}, {
		name: "failing prepare", // pgx prepares the batch first: no query runs, only the batch span
		queue: []string{
			"UPDATE " + table + " SET email = 'grace@example.com' WHERE id = 1",
			"UPDATE missing_table SET email = 'heidi@example.com'",
		},
		fails: true,
		batch: query{"BATCH UPDATE", "BATCH UPDATE", "",
			"UPDATE " + table + " SET email = ? WHERE id = ?; UPDATE missing_table SET email = ?", "42P01"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			f.Spans.Reset()
			ctx, root := f.Root(t.Context())
			b := &pgx.Batch{}
			for _, q := range tc.queue {
				b.Queue(q)
			}
			err := f.pool.SendBatch(ctx, b).Close()
			if (err != nil) != tc.fails {
				t.Fatalf("batch error %v, want failure %v", err, tc.fails)
			}
			root.End()

			var batch sdktrace.ReadOnlySpan
			for _, s := range f.ChildrenOf(root) {
				if _, ok := sdktest.Attrs(s.Attributes())["db.operation.batch.size"]; ok {
					batch = s
				}
			}
			if batch == nil {
				t.Fatal("no batch span under the root")
			}
			check := func(s sdktrace.ReadOnlySpan, w query) {
				t.Helper()
				a := sdktest.Attrs(s.Attributes())
				if s.Name() != w.name || s.SpanKind() != trace.SpanKindClient {
					t.Errorf("span %q (%v), want %q", s.Name(), s.SpanKind(), w.name)
				}
				if a["db.system.name"] != "postgresql" || a["db.operation.name"] != w.op || a["db.collection.name"] != w.coll ||
					a["db.query.text"] != w.text || a["db.namespace"] != "postgres" ||
					a["server.address"] != "127.0.0.1" || a["server.port"] != port {
					t.Errorf("span %q attributes %v\nwant op %q, collection %q, text %q", s.Name(), a, w.op, w.coll, w.text)
				}
				if (s.Status().Code == codes.Error) != (w.status != "") || a["db.response.status_code"] != w.status ||
					(w.status != "" && a["error.type"] != w.status) {
					t.Errorf("span %q: status %v, attributes %v; want SQLSTATE %q", s.Name(), s.Status(), a, w.status)
				}
			}
			check(batch, tc.batch)
			if a := sdktest.Attrs(batch.Attributes()); a["db.operation.batch.size"] != fmt.Sprint(len(tc.queue)) {
				t.Errorf("batch size %s, want %d", a["db.operation.batch.size"], len(tc.queue))
			}
			var queries []sdktrace.ReadOnlySpan
			for _, s := range f.Spans.Ended() {
				if s.Parent().SpanID() == batch.SpanContext().SpanID() {
					queries = append(queries, s)
				}
			}
			if len(queries) != len(tc.queries) {
				t.Fatalf("%d query spans under the batch, want %d", len(queries), len(tc.queries))
			}
			for i, w := range tc.queries {
				check(queries[i], w)
			}
			for _, s := range f.Spans.Ended() {
				dump := fmt.Sprint(s.Name(), s.Attributes(), s.Events(), s.Status())
				for _, lit := range []string{"example.com", "secret_relation"} {
					if strings.Contains(dump, lit) {
						t.Errorf("literal %q leaked into span %q: %s", lit, s.Name(), dump)
					}
				}
			}
		})
	}
}
