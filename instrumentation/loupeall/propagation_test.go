package loupeall_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/loupe-dev/loupe/instrumentation/loupeall"
)

// backend is the gRPC service: its Check reads PostgreSQL (pgx pool and
// database/sql) and Redis with the incoming context.
type backend struct {
	grpc_health_v1.UnimplementedHealthServer
	inst *loupeall.Instrumentation
	rdb  *redis.Client
	t    *testing.T
}

func (b *backend) Check(ctx context.Context, _ *grpc_health_v1.HealthCheckRequest) (*grpc_health_v1.HealthCheckResponse, error) {
	pool, err := b.inst.PgxPool(ctx, env.PostgresDSN)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_class WHERE relname = 'pg_type'").Scan(&n); err != nil {
		return nil, err
	}
	db, err := b.inst.OpenDB("pgx", env.PostgresDSN)
	if err != nil {
		return nil, err
	}
	defer func() { _ = db.Close() }()
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_namespace WHERE nspname = 'public'").Scan(&n); err != nil {
		return nil, err
	}
	if err := b.rdb.Get(ctx, "order:1").Err(); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	return &grpc_health_v1.HealthCheckResponse{Status: grpc_health_v1.HealthCheckResponse_SERVING}, nil
}

// TestOneTrace follows one request HTTP client → HTTP server → gRPC client →
// gRPC server → PostgreSQL and Redis and requires one trace with each span
// the child of the one before.
func TestOneTrace(t *testing.T) {
	env.RequirePostgres(t)
	env.RequireRedis(t)
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = tp.Shutdown(context.Background()); _ = mp.Shutdown(context.Background()) }()
	inst := loupeall.New(loupeall.Providers{TracerProvider: tp, MeterProvider: mp, Propagators: propagation.TraceContext{}})

	rdb := redis.NewClient(&redis.Options{Addr: env.RedisAddr})
	defer func() { _ = rdb.Close() }()
	if err := inst.Redis(rdb); err != nil {
		t.Fatal(err)
	}

	// gRPC server and client.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gsrv := grpc.NewServer(inst.GRPCServerOption())
	grpc_health_v1.RegisterHealthServer(gsrv, &backend{inst: inst, rdb: rdb, t: t})
	served := make(chan struct{})
	go func() { defer close(served); _ = gsrv.Serve(lis) }()
	defer func() { gsrv.Stop(); <-served }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), inst.GRPCDialOption())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	health := grpc_health_v1.NewHealthClient(conn)

	// HTTP server calling the gRPC service.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		if _, err := health.Check(r.Context(), &grpc_health_v1.HealthCheckRequest{}); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, "ok")
	})
	hsrv := httptest.NewServer(inst.HTTPHandler(mux))
	defer hsrv.Close()
	base := hsrv.Client().Transport.(*http.Transport)
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: inst.HTTPTransport(base), Timeout: 30 * time.Second}

	ctx, root := tp.Tracer("test").Start(t.Context(), "user action")
	req, _ := http.NewRequestWithContext(ctx, "GET", hsrv.URL+"/orders/1", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	root.End()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}

	type key struct {
		name string
		kind trace.SpanKind
	}
	byKey := map[key]sdktrace.ReadOnlySpan{}
	deadline := time.Now().Add(5 * time.Second)
	want := key{"grpc.health.v1.Health/Check", trace.SpanKindServer}
	for { // the gRPC server span may end an instant after the reply
		for _, s := range spans.Ended() {
			byKey[key{s.Name(), s.SpanKind()}] = s
		}
		if _, ok := byKey[want]; ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	chain := []key{
		{"GET", trace.SpanKindClient},
		{"GET /orders/{id}", trace.SpanKindServer},
		{"grpc.health.v1.Health/Check", trace.SpanKindClient},
		{"grpc.health.v1.Health/Check", trace.SpanKindServer},
	}
	parent := root.SpanContext()
	for _, k := range chain {
		s, ok := byKey[k]
		if !ok {
			t.Fatalf("no span %v; have %v", k, keys(byKey))
		}
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() || s.Parent().SpanID() != parent.SpanID() {
			t.Errorf("%v: trace %v parent %v, want trace %v parent %v", k, s.SpanContext().TraceID(), s.Parent().SpanID(),
				root.SpanContext().TraceID(), parent.SpanID())
		}
		parent = s.SpanContext()
	}
	// Under the gRPC server span: the pgx query, the database/sql query, the
	// Redis command.
	for _, k := range []key{
		{"SELECT pg_class", trace.SpanKindClient},
		{"SELECT pg_namespace", trace.SpanKindClient},
		{"get", trace.SpanKindClient},
	} {
		s, ok := byKey[k]
		if !ok {
			t.Fatalf("no span %v; have %v", k, keys(byKey))
		}
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() || s.Parent().SpanID() != parent.SpanID() {
			t.Errorf("%v is not a child of the gRPC server span", k)
		}
	}
}

func keys[K comparable, V any](m map[K]V) []K {
	var out []K
	for k := range m {
		out = append(out, k)
	}
	return out
}
