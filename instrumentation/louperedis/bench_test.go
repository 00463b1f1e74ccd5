package louperedis_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/loupe-dev/loupe/instrumentation/louperedis"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

// BenchmarkGet measures a GET against the private redis-server, bare and
// instrumented (inside a sampled parent span, every span recorded).
func BenchmarkGet(b *testing.B) {
	env.RequireRedis(b)
	run := func(b *testing.B, instrument bool) {
		b.ReportAllocs()
		rdb := redis.NewClient(&redis.Options{Addr: env.RedisAddr})
		defer func() { _ = rdb.Close() }()
		ctx := b.Context()
		if instrument {
			tp, mp := sdktest.Bench(b)
			if err := louperedis.Instrument(rdb, louperedis.WithTracerProvider(tp), louperedis.WithMeterProvider(mp)); err != nil {
				b.Fatal(err)
			}
			ctx, _ = tp.Tracer("bench").Start(ctx, "parent")
		}
		if err := rdb.Set(ctx, "bench:key", "value", 0).Err(); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if err := rdb.Get(ctx, "bench:key").Err(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, false) })
	b.Run("loupe", func(b *testing.B) { run(b, true) })
}
