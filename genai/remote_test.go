package genai_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"

	"github.com/loupe-dev/loupe/genai"
	"github.com/loupe-dev/loupe/instrumentation/loupegrpc"
	"github.com/loupe-dev/loupe/instrumentation/loupehttp"
)

// An agent calling another agent over instrumented HTTP continues one trace:
// invoke_agent (client) → HTTP client → HTTP server → invoke_agent (internal)
// → chat, each the parent of the next.
func TestAgentToAgentOverHTTP(t *testing.T) {
	f := newFixture(t)
	in := f.instrumenter()
	httpOpts := []loupehttp.Option{
		loupehttp.WithTracerProvider(f.TP), loupehttp.WithMeterProvider(f.MP),
		loupehttp.WithPropagators(propagation.TraceContext{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /agents/researcher", func(w http.ResponseWriter, r *http.Request) {
		ctx, agent := in.StartAgent(r.Context(), genai.Agent{Name: "researcher"})
		_, chat := in.StartChat(ctx, genai.Chat{Provider: "openai", Model: "gpt-4o"})
		chat.End(nil)
		agent.End(nil)
		_, _ = io.WriteString(w, "done")
	})
	srv := httptest.NewServer(loupehttp.Handler(mux, httpOpts...))
	defer srv.Close()
	base := srv.Client().Transport.(*http.Transport)
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: loupehttp.NewTransport(base, httpOpts...)}

	ctx, caller := in.StartAgent(t.Context(), genai.Agent{Name: "researcher", Remote: true})
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/agents/researcher", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	caller.End(nil)

	type key struct {
		name string
		kind trace.SpanKind
	}
	spans := map[key]trace.SpanContext{}
	parents := map[key]trace.SpanContext{}
	for _, s := range f.Spans.Ended() {
		k := key{s.Name(), s.SpanKind()}
		spans[k], parents[k] = s.SpanContext(), s.Parent()
	}
	chain := []key{
		{"invoke_agent researcher", trace.SpanKindClient},
		{"POST", trace.SpanKindClient},
		{"POST /agents/researcher", trace.SpanKindServer},
		{"invoke_agent researcher", trace.SpanKindInternal},
		{"chat gpt-4o", trace.SpanKindClient},
	}
	for i, k := range chain {
		sc, ok := spans[k]
		if !ok {
			t.Fatalf("no span %v; have %v", k, spans)
		}
		if sc.TraceID() != caller.Span().SpanContext().TraceID() {
			t.Errorf("%v is in another trace", k)
		}
		if i > 0 && parents[k].SpanID() != spans[chain[i-1]].SpanID() {
			t.Errorf("parent of %v is not %v", k, chain[i-1])
		}
	}
}

// agentServer runs the "researcher" agent behind a gRPC method.
type agentServer struct {
	grpc_health_v1.UnimplementedHealthServer
	in *genai.Instrumenter
}

func (s agentServer) Check(ctx context.Context, _ *grpc_health_v1.HealthCheckRequest) (*grpc_health_v1.HealthCheckResponse, error) {
	ctx, agent := s.in.StartAgent(ctx, genai.Agent{Name: "researcher"})
	_, chat := s.in.StartChat(ctx, genai.Chat{Provider: "openai", Model: "gpt-4o"})
	chat.End(nil)
	agent.End(nil)
	return &grpc_health_v1.HealthCheckResponse{Status: grpc_health_v1.HealthCheckResponse_SERVING}, nil
}

// The same over instrumented gRPC.
func TestAgentToAgentOverGRPC(t *testing.T) {
	f := newFixture(t)
	in := f.instrumenter()
	grpcOpts := []loupegrpc.Option{
		loupegrpc.WithTracerProvider(f.TP), loupegrpc.WithMeterProvider(f.MP),
		loupegrpc.WithPropagators(propagation.TraceContext{}),
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(loupegrpc.ServerOption(grpcOpts...))
	grpc_health_v1.RegisterHealthServer(srv, agentServer{in: in})
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()), loupegrpc.DialOption(grpcOpts...))
	if err != nil {
		t.Fatal(err)
	}

	ctx, caller := in.StartAgent(t.Context(), genai.Agent{Name: "researcher", Remote: true})
	_, err = grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{})
	caller.End(nil)
	_ = conn.Close()
	srv.GracefulStop() // every server span has ended once it returns
	<-served
	if err != nil {
		t.Fatal(err)
	}

	type key struct {
		name string
		kind trace.SpanKind
	}
	spans := map[key]sdktrace.ReadOnlySpan{}
	for _, s := range f.Spans.Ended() {
		spans[key{s.Name(), s.SpanKind()}] = s
	}
	chain := []key{
		{"invoke_agent researcher", trace.SpanKindClient},
		{"grpc.health.v1.Health/Check", trace.SpanKindClient},
		{"grpc.health.v1.Health/Check", trace.SpanKindServer},
		{"invoke_agent researcher", trace.SpanKindInternal},
		{"chat gpt-4o", trace.SpanKindClient},
	}
	for i, k := range chain {
		s, ok := spans[k]
		if !ok {
			t.Fatalf("no span %v", k)
		}
		if s.SpanContext().TraceID() != caller.Span().SpanContext().TraceID() {
			t.Errorf("%v is in another trace", k)
		}
		if i > 0 && s.Parent().SpanID() != spans[chain[i-1]].SpanContext().SpanID() {
			t.Errorf("parent of %v is not %v", k, chain[i-1])
		}
	}
}
