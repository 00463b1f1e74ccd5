package demo

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go

	"github.com/loupe-dev/loupe/instrumentation/loupesql"
)

// openDB opens DATABASE_URL through loupesql: postgres:// or postgresql://
// with pgx, sqlite://PATH (or sqlite:///abs/path) with the pure-Go SQLite.
// The statements below are written to run unchanged on both.
func openDB(raw string) (*sql.DB, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL: %w", raw, err)
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		return loupesql.Open("pgx", raw, loupesql.WithAttributes(semconv.DBNamespace(strings.TrimPrefix(u.Path, "/"))))
	case "sqlite":
		path := u.Host + u.Path // sqlite://rel/path or sqlite:///abs/path
		if path == "" {
			return nil, fmt.Errorf("%q names no file: want sqlite://PATH", raw)
		}
		// WAL and a busy timeout: two processes (gateway, worker) share the file.
		dsn := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
		db, err := loupesql.Open("sqlite", dsn)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(4)
		return db, nil
	}
	return nil, fmt.Errorf("%q: want postgres://… or sqlite://PATH", raw)
}

// schema is the demo's tables; IF NOT EXISTS lets every service run it.
var schema = []string{
	`CREATE TABLE IF NOT EXISTS client_usage (
		client_id TEXT PRIMARY KEY,
		requests BIGINT NOT NULL,
		tokens BIGINT NOT NULL,
		updated_ms BIGINT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS job_results (
		job_id TEXT PRIMARY KEY,
		kind TEXT NOT NULL,
		client_id TEXT NOT NULL,
		summary TEXT NOT NULL,
		words BIGINT NOT NULL,
		done_ms BIGINT NOT NULL)`,
}

// migrate creates the tables. Two services running it at once can collide
// on PostgreSQL, whose CREATE TABLE IF NOT EXISTS is not atomic (a unique
// violation in pg_type): the loser tries again, and then finds the tables.
func migrate(ctx context.Context, db *sql.DB) (err error) {
	for try := range 3 {
		if try > 0 {
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
		if err = createTables(ctx, db); err == nil {
			return nil
		}
	}
	return err
}

func createTables(ctx context.Context, db *sql.DB) error {
	for _, stmt := range schema {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return nil
}

// slowQuery is the slow statement FaultSlowSQL runs: a recursive count
// that takes some hundreds of milliseconds on SQLite and PostgreSQL alike.
const slowQuery = `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500000) SELECT count(*) FROM n`
