package loupegrpc_test

import (
	"context"
	"fmt"
	"net"
	"slices"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/loupe-dev/loupe/instrumentation/loupegrpc"
)

func Example() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()

	// Server: one option. Without WithTracerProvider it uses the global one.
	srv := grpc.NewServer(loupegrpc.ServerOption(loupegrpc.WithTracerProvider(tp)))
	grpc_health_v1.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	// Client: one option too.
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		loupegrpc.DialOption(loupegrpc.WithTracerProvider(tp)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = conn.Close() }()
	if _, err := grpc_health_v1.NewHealthClient(conn).Check(context.Background(), &grpc_health_v1.HealthCheckRequest{}); err != nil {
		fmt.Println(err)
		return
	}
	srv.GracefulStop() // the server span has ended once the server stopped

	var lines []string
	for _, s := range spans.Ended() {
		lines = append(lines, fmt.Sprint(s.SpanKind(), " ", s.Name()))
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// client grpc.health.v1.Health/Check
	// server grpc.health.v1.Health/Check
}
