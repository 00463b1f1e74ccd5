package louperedis_test

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/loupe-dev/loupe/instrumentation/louperedis"
)

func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	// env.RedisAddr is the test server's address (TestMain starts one).
	rdb := redis.NewClient(&redis.Options{Addr: env.RedisAddr})
	defer func() { _ = rdb.Close() }()
	if err := louperedis.Instrument(rdb, louperedis.WithTracerProvider(tp), louperedis.WithoutMetrics()); err != nil {
		fmt.Println(err)
		return
	}

	ctx, root := tp.Tracer("example").Start(context.Background(), "handle")
	_ = rdb.Set(ctx, "session:42", "secret", 0).Err()
	_ = rdb.Get(ctx, "session:42").Err()
	root.End()

	for _, s := range spans.Ended() {
		if s.Parent().SpanID() == root.SpanContext().SpanID() {
			fmt.Println(s.SpanKind(), s.Name())
		}
	}
	// Output:
	// client set
	// client get
}
