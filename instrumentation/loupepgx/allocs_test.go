package loupepgx_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/loupe-dev/loupe/instrumentation/loupepgx"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

// TestQueryAllocs bounds what instrumentation adds to the allocations of a
// point query against the real server, inside a sampled parent span: otelpgx,
// the SDK and loupepgx together add 22 (37 - 11 before the connection's
// attributes were cached and the error check stopped allocating: 26).
func TestQueryAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	env.RequirePostgres(t)
	const maxAdded = 22
	measure := func(ctx context.Context, pool *pgxpool.Pool) float64 {
		t.Helper()
		var v string
		return testing.AllocsPerRun(300, func() {
			if err := pool.QueryRow(ctx, "SELECT relname FROM pg_class WHERE oid = $1", 1259).Scan(&v); err != nil {
				t.Fatal(err)
			}
		})
	}
	bare, err := pgxpool.New(t.Context(), env.PostgresDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close()
	tp, mp := sdktest.Bench(t)
	pool, err := loupepgx.NewPool(t.Context(), env.PostgresDSN, loupepgx.WithTracerProvider(tp), loupepgx.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	ctx, parent := tp.Tracer("test").Start(t.Context(), "parent")
	defer parent.End()

	b, l := measure(t.Context(), bare), measure(ctx, pool)
	if l-b > maxAdded {
		t.Errorf("an instrumented query allocates %v times, a bare one %v: %v added, want at most %d", l, b, l-b, maxAdded)
	}
	t.Logf("allocations per query: bare %v, instrumented %v", b, l)
}
