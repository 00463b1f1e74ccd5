package loupepgx_test

import (
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loupe-dev/loupe/instrumentation/loupepgx"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

// BenchmarkPointQuery measures a one-row lookup by primary key against the
// private PostgreSQL, bare and instrumented (inside a sampled parent span,
// every span recorded).
func BenchmarkPointQuery(b *testing.B) {
	env.RequirePostgres(b)
	setup, err := pgxpool.New(b.Context(), env.PostgresDSN)
	if err != nil {
		b.Fatal(err)
	}
	_, err = setup.Exec(b.Context(), "CREATE TABLE IF NOT EXISTS bench_points (id int primary key, v text); "+
		"INSERT INTO bench_points VALUES (1, 'one') ON CONFLICT DO NOTHING")
	setup.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		pool, err := pgxpool.New(b.Context(), env.PostgresDSN)
		if err != nil {
			b.Fatal(err)
		}
		defer pool.Close()
		var v string
		for b.Loop() {
			if err := pool.QueryRow(b.Context(), "SELECT v FROM bench_points WHERE id = $1", 1).Scan(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("loupe", func(b *testing.B) {
		b.ReportAllocs()
		tp, mp := sdktest.Bench(b)
		pool, err := loupepgx.NewPool(b.Context(), env.PostgresDSN, loupepgx.WithTracerProvider(tp), loupepgx.WithMeterProvider(mp))
		if err != nil {
			b.Fatal(err)
		}
		defer pool.Close()
		ctx, parent := tp.Tracer("bench").Start(b.Context(), "parent")
		defer parent.End()
		var v string
		for b.Loop() {
			if err := pool.QueryRow(ctx, "SELECT v FROM bench_points WHERE id = $1", 1).Scan(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
