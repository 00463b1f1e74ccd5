package loupegrpc_test

import (
	"context"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	grpccodes "google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/instrumentation/loupegrpc"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// healthServer answers Check: SERVING for "up", NotFound for anything else,
// and for "slow" it waits for the caller to give up.
type healthServer struct {
	grpc_health_v1.UnimplementedHealthServer
}

func (healthServer) Check(ctx context.Context, req *grpc_health_v1.HealthCheckRequest) (*grpc_health_v1.HealthCheckResponse, error) {
	switch req.GetService() {
	case "up":
		return &grpc_health_v1.HealthCheckResponse{Status: grpc_health_v1.HealthCheckResponse_SERVING}, nil
	case "slow":
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	return nil, status.Error(grpccodes.NotFound, "unknown service")
}

type fixture struct {
	*sdktest.SDK
	client grpc_health_v1.HealthClient
}

func start(t *testing.T, opts ...loupegrpc.Option) *fixture {
	t.Helper()
	f := &fixture{SDK: sdktest.New(t)}
	opts = append([]loupegrpc.Option{
		loupegrpc.WithTracerProvider(f.TP),
		loupegrpc.WithMeterProvider(f.MP),
		loupegrpc.WithPropagators(propagation.TraceContext{}),
	}, opts...)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(loupegrpc.ServerOption(opts...))
	grpc_health_v1.RegisterHealthServer(srv, healthServer{})
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()

	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), loupegrpc.DialOption(opts...))
	if err != nil {
		t.Fatal(err)
	}
	f.client = grpc_health_v1.NewHealthClient(conn)
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-done
	})
	return f
}

// byKind returns the one ended span of each kind, failing when one is missing.
func (f *fixture) byKind(t *testing.T) (client, server sdktrace.ReadOnlySpan) {
	t.Helper()
	// The server span may end an instant after the client received the reply.
	deadline := time.Now().Add(5 * time.Second)
	for {
		client, server = nil, nil
		for _, s := range f.Spans.Ended() {
			switch s.SpanKind() {
			case trace.SpanKindClient:
				client = s
			case trace.SpanKindServer:
				server = s
			}
		}
		if (client != nil && server != nil) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if client == nil || server == nil {
		t.Fatalf("want a client and a server span, got %d spans", len(f.Spans.Ended()))
	}
	return client, server
}

// histogramEventually waits for the named histogram: the server records its
// duration just after it ends its span, possibly after the client returned.
func (f *fixture) histogramEventually(t *testing.T, name string) []metricdata.HistogramDataPoint[float64] {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		dps := f.Histogram(t, name)
		if len(dps) > 0 || time.Now().After(deadline) {
			return dps
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestUnaryCall(t *testing.T) {
	f := start(t)
	ctx, parent := f.TP.Tracer("test").Start(t.Context(), "caller")
	resp, err := f.client.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "up"})
	parent.End()
	if err != nil || resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("Check: %v %v", resp, err)
	}
	client, server := f.byKind(t)
	const name = "grpc.health.v1.Health/Check"
	if client.Name() != name || server.Name() != name {
		t.Errorf("span names %q, %q; want %q", client.Name(), server.Name(), name)
	}
	if client.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Error("client span is not a child of the caller")
	}
	if server.Parent().SpanID() != client.SpanContext().SpanID() || !server.Parent().IsRemote() ||
		server.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("server span parent %v, want the client span %v", server.Parent(), client.SpanContext())
	}
	for _, s := range []sdktrace.ReadOnlySpan{client, server} {
		a := sdktest.Attrs(s.Attributes())
		if a["rpc.system.name"] != "grpc" || a["rpc.method"] != name || a["rpc.response.status_code"] != "OK" {
			t.Errorf("%v span attributes %v", s.SpanKind(), a)
		}
		if s.Status().Code == codes.Error {
			t.Errorf("%v span status %v", s.SpanKind(), s.Status())
		}
	}
	for _, metric := range []string{"rpc.client.call.duration", "rpc.server.call.duration"} {
		dps := f.histogramEventually(t, metric)
		if len(dps) != 1 || dps[0].Count != 1 || sdktest.Attrs(dps[0].Attributes.ToSlice())["rpc.response.status_code"] != "OK" {
			t.Errorf("%s: %+v", metric, dps)
		}
	}
}

func TestErrors(t *testing.T) {
	f := start(t)
	_, err := f.client.Check(t.Context(), &grpc_health_v1.HealthCheckRequest{Service: "absent"})
	if status.Code(err) != grpccodes.NotFound {
		t.Fatalf("err = %v, want NotFound", err)
	}
	client, server := f.byKind(t)
	if client.Status().Code != codes.Error {
		t.Errorf("client status %v, want Error", client.Status())
	}
	// NotFound is the caller's problem, not a server error (semantic conventions).
	if server.Status().Code == codes.Error {
		t.Errorf("server status %v, want not Error", server.Status())
	}
	if a := sdktest.Attrs(server.Attributes()); a["rpc.response.status_code"] != "NOT_FOUND" {
		t.Errorf("server attributes %v", a)
	}
	dps := f.histogramEventually(t, "rpc.client.call.duration")
	if len(dps) != 1 || sdktest.Attrs(dps[0].Attributes.ToSlice())["error.type"] != "NOT_FOUND" {
		t.Errorf("client duration %+v, want error.type NOT_FOUND", dps)
	}
}

func TestDeadline(t *testing.T) {
	f := start(t)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err := f.client.Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: "slow"})
	if status.Code(err) != grpccodes.DeadlineExceeded {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	client, _ := f.byKind(t)
	if client.Status().Code != codes.Error || sdktest.Attrs(client.Attributes())["rpc.response.status_code"] != "DEADLINE_EXCEEDED" {
		t.Errorf("client span status %v attributes %v", client.Status(), sdktest.Attrs(client.Attributes()))
	}
}

func TestWithoutMethods(t *testing.T) {
	f := start(t, loupegrpc.WithoutMethods("/grpc.health.v1.Health/Check"))
	if _, err := f.client.Check(t.Context(), &grpc_health_v1.HealthCheckRequest{Service: "up"}); err != nil {
		t.Fatal(err)
	}
	if n := len(f.Spans.Ended()); n != 0 {
		t.Fatalf("%d spans for a filtered method", n)
	}
}
