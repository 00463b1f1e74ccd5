package demo

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/loupe-dev/loupe/instrumentation/loupegrpc"
)

// Agent-to-agent calls: a task goes to an agent hosted by an orchestrator,
// over gRPC (a unary method on google.protobuf.Struct messages, so no code
// generation is needed) or over HTTP (POST /a2a/{agent} with JSON).

// agentTask is what an agent is asked to do.
type agentTask struct {
	Agent   string `json:"agent"`
	Project string `json:"project"`
	Message string `json:"message"`
	Stream  bool   `json:"stream"`
}

// agentResult is an agent's answer.
type agentResult struct {
	Text         string `json:"text"`
	InputTokens  int64  `json:"input_tokens"`
	OutputTokens int64  `json:"output_tokens"`
}

const (
	a2aService = "loupe.demo.a2a.v1.Agents"
	a2aInvoke  = "/" + a2aService + "/Invoke"
)

// agentHost runs tasks for the agents it hosts.
type agentHost interface {
	runAgent(context.Context, agentTask) (agentResult, error)
}

var a2aDesc = grpc.ServiceDesc{
	ServiceName: a2aService,
	HandlerType: (*agentHost)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Invoke",
		Handler: func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
			in := new(structpb.Struct)
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) {
				res, err := srv.(agentHost).runAgent(ctx, taskFromStruct(req.(*structpb.Struct)))
				if err != nil {
					return nil, grpcError(err)
				}
				return res.toStruct(), nil
			}
			if icpt == nil {
				return call(ctx, in)
			}
			return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: a2aInvoke}, call)
		},
	}},
	Metadata: "examples/demo/a2a.go",
}

// grpcError gives an agent's failure its gRPC status.
func grpcError(err error) error {
	var se *StatusError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.As(err, &se) && se.Code == http.StatusBadRequest:
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return status.Error(codes.Unavailable, err.Error())
}

// statusOf is the HTTP status that reports a failed downstream call: 504
// for a timeout, here or reported by the peer over gRPC or HTTP; else 502.
func statusOf(err error) int {
	var se *StatusError
	switch {
	case errors.Is(err, context.DeadlineExceeded), status.Code(err) == codes.DeadlineExceeded,
		errors.As(err, &se) && se.Code == http.StatusGatewayTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusBadGateway
}

func (t agentTask) toStruct() *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"agent":   structpb.NewStringValue(t.Agent),
		"project": structpb.NewStringValue(t.Project),
		"message": structpb.NewStringValue(t.Message),
		"stream":  structpb.NewBoolValue(t.Stream),
	}}
}

func taskFromStruct(s *structpb.Struct) agentTask {
	f := s.GetFields()
	return agentTask{Agent: f["agent"].GetStringValue(), Project: f["project"].GetStringValue(),
		Message: f["message"].GetStringValue(), Stream: f["stream"].GetBoolValue()}
}

func (r agentResult) toStruct() *structpb.Struct {
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"text":          structpb.NewStringValue(r.Text),
		"input_tokens":  structpb.NewNumberValue(float64(r.InputTokens)),
		"output_tokens": structpb.NewNumberValue(float64(r.OutputTokens)),
	}}
}

func resultFromStruct(s *structpb.Struct) agentResult {
	f := s.GetFields()
	return agentResult{Text: f["text"].GetStringValue(),
		InputTokens: int64(f["input_tokens"].GetNumberValue()), OutputTokens: int64(f["output_tokens"].GetNumberValue())}
}

// serveA2A serves the agents of host over gRPC on ln until ctx is done.
func serveA2A(ctx context.Context, ln net.Listener, host agentHost) error {
	srv := grpc.NewServer(loupegrpc.ServerOption())
	srv.RegisterService(&a2aDesc, host)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(shutdownGrace):
		srv.Stop()
	}
	return nil
}

// a2aClient calls agents over gRPC.
type a2aClient struct{ conn *grpc.ClientConn }

func newA2AClient(addr string) (*a2aClient, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()), loupegrpc.DialOption())
	if err != nil {
		return nil, err
	}
	return &a2aClient{conn: conn}, nil
}

func (c *a2aClient) invoke(ctx context.Context, t agentTask) (agentResult, error) {
	out := new(structpb.Struct)
	if err := c.conn.Invoke(ctx, a2aInvoke, t.toStruct(), out); err != nil {
		return agentResult{}, err
	}
	return resultFromStruct(out), nil
}
