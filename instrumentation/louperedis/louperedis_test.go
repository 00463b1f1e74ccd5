package louperedis_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"

	"github.com/loupe-dev/loupe/instrumentation/louperedis"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

type fixture struct {
	*sdktest.SDK
	rdb *redis.Client
}

func newFixture(t *testing.T, opts ...louperedis.Option) *fixture {
	t.Helper()
	env.RequireRedis(t)
	f := &fixture{SDK: sdktest.New(t), rdb: redis.NewClient(&redis.Options{Addr: env.RedisAddr, DB: 3})}
	t.Cleanup(func() { _ = f.rdb.Close() })
	opts = append([]louperedis.Option{louperedis.WithTracerProvider(f.TP), louperedis.WithMeterProvider(f.MP)}, opts...)
	if err := louperedis.Instrument(f.rdb, opts...); err != nil {
		t.Fatal(err)
	}
	return f
}

const secretValue = "4111-1111-1111-1111"

func TestCommands(t *testing.T) {
	f := newFixture(t)
	ctx, root := f.Root(t.Context())
	key := "user:" + t.Name()
	if err := f.rdb.Set(ctx, key, secretValue, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := f.rdb.Get(ctx, key).Result(); err != nil || v != secretValue {
		t.Fatalf("get: %q %v", v, err)
	}
	if err := f.rdb.Get(ctx, key+":absent").Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("missing key: %v", err)
	}
	if err := f.rdb.LPush(ctx, key, "x").Err(); err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
		t.Fatalf("lpush on a string: %v", err)
	}
	root.End()

	spans := f.ChildrenOf(root)
	want := []struct {
		name, errType string
		failed        bool
	}{{"set", "", false}, {"get", "", false}, {"get", "", false}, {"lpush", "WRONGTYPE", true}}
	if len(spans) != len(want) {
		t.Fatalf("%d spans, want %d", len(spans), len(want))
	}
	port := env.RedisAddr[strings.LastIndexByte(env.RedisAddr, ':')+1:]
	for i, w := range want {
		s := spans[i]
		a := sdktest.Attrs(s.Attributes())
		if s.Name() != w.name || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %d: %q %v, want %q client", i, s.Name(), s.SpanKind(), w.name)
		}
		if a["db.system.name"] != "redis" || a["db.operation.name"] != w.name || a["db.namespace"] != "3" ||
			a["server.address"] != "127.0.0.1" || a["server.port"] != port {
			t.Errorf("span %q attributes %v", s.Name(), a)
		}
		if (s.Status().Code == codes.Error) != w.failed || a["error.type"] != w.errType {
			t.Errorf("span %q status %v error.type %q", s.Name(), s.Status(), a["error.type"])
		}
		if _, ok := a["db.query.text"]; ok {
			t.Errorf("span %q has db.query.text by default", s.Name())
		}
	}
	// The connection's dial and handshake make no spans (they would be traces
	// of their own, and CLIENT SETINFO fails on Redis < 7.2).
	if n := len(f.Spans.Ended()); n != len(want)+1 {
		t.Errorf("%d spans, want the %d commands and root", n, len(want))
	}
	// Neither the value nor the key reaches any span by default.
	for _, s := range f.Spans.Ended() {
		dump := fmt.Sprint(s.Name(), s.Attributes(), s.Events(), s.Status())
		if strings.Contains(dump, secretValue) || strings.Contains(dump, "user:") {
			t.Errorf("literal leaked into span %q: %s", s.Name(), dump)
		}
	}
}

func TestQueryTextOptIn(t *testing.T) {
	f := newFixture(t, louperedis.WithQueryText(true))
	ctx, root := f.Root(t.Context())
	if err := f.rdb.Set(ctx, "k-"+t.Name(), "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	spans := f.ChildrenOf(root)
	if len(spans) != 1 || sdktest.Attrs(spans[0].Attributes())["db.query.text"] != "set k-"+t.Name()+" v1" {
		t.Fatalf("spans %v", spans)
	}
}

func TestCancelledContext(t *testing.T) {
	f := newFixture(t)
	ctx, root := f.Root(t.Context())
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.rdb.Get(ctx, "k").Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	spans := f.ChildrenOf(root)
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	if a := sdktest.Attrs(spans[0].Attributes()); spans[0].Status().Code != codes.Error || a["error.type"] != "canceled" {
		t.Errorf("status %v attributes %v", spans[0].Status(), a)
	}
}

func TestPipeline(t *testing.T) {
	f := newFixture(t)
	ctx, root := f.Root(t.Context())
	_, err := f.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i := range 3 {
			p.Set(ctx, "p"+strconv.Itoa(i), i, 0)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, "p0")
		p.Get(ctx, "p1")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	spans := f.ChildrenOf(root)
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	for i, want := range []struct {
		name string
		size string
	}{{"BATCH set", "3"}, {"PIPELINE", "4"}} { // the transaction adds MULTI and EXEC
		a := sdktest.Attrs(spans[i].Attributes())
		if spans[i].Name() != want.name || a["db.operation.name"] != want.name || a["db.operation.batch.size"] != want.size {
			t.Errorf("pipeline span %q attributes %v, want %s of %s", spans[i].Name(), a, want.name, want.size)
		}
	}
}

func TestPoolMetrics(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		if err := f.rdb.Incr(t.Context(), "counter-"+t.Name()).Err(); err != nil {
			t.Fatal(i, err)
		}
	}
	got := map[string]metricdata.Aggregation{}
	for name, m := range f.Metrics(t) {
		got[name] = m.Data
	}
	for _, name := range []string{"db.client.connections.usage", "db.client.connections.max", "db.client.connections.hits"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no %s; have %v", name, keys(got))
		}
	}
	if hits, ok := got["db.client.connections.hits"].(metricdata.Sum[int64]); !ok || !hits.IsMonotonic || len(hits.DataPoints) == 0 || hits.DataPoints[0].Value < 4 {
		t.Errorf("hits %+v, want a monotonic counter ≥ 4 (5 commands, one connection)", got["db.client.connections.hits"])
	}
	use, ok := got["db.client.connections.use_time"].(metricdata.Histogram[float64])
	if !ok || len(use.DataPoints) == 0 {
		t.Fatalf("use_time %+v", got["db.client.connections.use_time"])
	}
	var count uint64
	for _, dp := range use.DataPoints {
		count += dp.Count
		if sdktest.Attrs(dp.Attributes.ToSlice())["pool.name"] != env.RedisAddr {
			t.Errorf("use_time attributes %v", sdktest.Attrs(dp.Attributes.ToSlice()))
		}
	}
	if count < 5 {
		t.Errorf("use_time count %d, want ≥ 5", count)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestWithoutCommands(t *testing.T) {
	f := newFixture(t, louperedis.WithoutCommands("BRPOP"))
	ctx, root := f.Root(t.Context())
	key := "queue:" + t.Name()
	if err := f.rdb.LPush(ctx, key, "job").Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := f.rdb.BRPop(ctx, time.Second, key).Result(); err != nil || v[1] != "job" {
		t.Fatalf("brpop: %v %v", v, err)
	}
	pipe := f.rdb.Pipeline()
	pipe.LPush(ctx, key, "job")
	pipe.BRPop(ctx, time.Second, key)
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	root.End()

	spans := f.ChildrenOf(root)
	if len(spans) != 1 || spans[0].Name() != "lpush" {
		t.Fatalf("want only the lpush span, got %v", spans)
	}
	// The caller's span is left alone: no db.* attributes of the skipped command.
	for _, sp := range f.Spans.Ended() {
		if _, ok := sdktest.Attrs(sp.Attributes())["db.operation.name"]; ok && sp.SpanContext().SpanID() == root.SpanContext().SpanID() {
			t.Fatal("the skipped command's attributes went on the caller's span")
		}
	}
}
