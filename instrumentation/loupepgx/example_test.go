package loupepgx_test

import (
	"context"
	"fmt"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/loupe-dev/loupe/instrumentation/loupepgx"
)

func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	// env.PostgresDSN is the test server (TestMain starts one).
	pool, err := loupepgx.NewPool(context.Background(), env.PostgresDSN, loupepgx.WithTracerProvider(tp), loupepgx.WithoutPoolMetrics())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pool.Close()

	// Queries are traced inside a recording span, as with otelpgx.
	ctx, root := tp.Tracer("example").Start(context.Background(), "handle")
	var n int
	err = pool.QueryRow(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'").Scan(&n)
	root.End()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range spans.Ended() {
		for _, kv := range s.Attributes() {
			if kv.Key == "db.query.text" {
				fmt.Println(s.Name(), "|", kv.Value.AsString())
			}
		}
	}
	// Output:
	// SELECT pg_namespace | SELECT count(*) FROM pg_namespace WHERE nspname = ?
}
