package loupesql_test

import (
	"context"
	"fmt"

	_ "github.com/jackc/pgx/v5/stdlib"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/loupe-dev/loupe/instrumentation/loupesql"
)

func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	// env.PostgresDSN is the test server (TestMain starts one); any driver works.
	db, err := loupesql.Open("pgx", env.PostgresDSN, loupesql.WithTracerProvider(tp), loupesql.WithoutPoolMetrics())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = db.Close() }()

	var n int
	if err := db.QueryRowContext(context.Background(), "SELECT count(*) FROM pg_class WHERE relname = 'pg_type'").Scan(&n); err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range spans.Ended() {
		if s.Name() != "sql.connector.connect" {
			for _, kv := range s.Attributes() {
				if kv.Key == "db.query.text" {
					fmt.Println(s.Name(), "|", kv.Value.AsString())
				}
			}
		}
	}
	// Output:
	// SELECT pg_class | SELECT count(*) FROM pg_class WHERE relname = ?
}
