package telemetry_test

import (
	"compress/gzip"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	_ "google.golang.org/grpc/encoding/gzip" // the receiver decodes gzip
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/stats"
)

// receiver is a minimal OTLP receiver on loopback built on the collector's
// pdata packages: gRPC and HTTP (protobuf or JSON, gzip), all three signals,
// with TLS when given a certificate. It records what arrived on the wire.
type receiver struct {
	mu       sync.Mutex
	traces   []ptrace.Traces
	metrics  []pmetric.Metrics
	logs     []plog.Logs
	ctypes   []string  // Content-Type of each HTTP request
	requests []request // every export request, gRPC or HTTP

	grpcAddr, httpAddr string
}

// request is what one export request carried besides its payload.
type request struct {
	protocol string      // "grpc" or "http"
	path     string      // the URL path, or the gRPC method
	header   http.Header // HTTP headers, or gRPC metadata (lower-case keys)
	encoding string      // Content-Encoding, or the gRPC compressor
	tls      bool
}

func (r *receiver) record(q request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, q)
}

func (r *receiver) received() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.requests...)
}

// grpcRecorder records each RPC's metadata, compressor and transport.
type grpcRecorder struct{ r *receiver }

func (g grpcRecorder) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (g grpcRecorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (g grpcRecorder) HandleConn(context.Context, stats.ConnStats) {}
func (g grpcRecorder) HandleRPC(ctx context.Context, s stats.RPCStats) {
	in, ok := s.(*stats.InHeader)
	if !ok {
		return
	}
	p, _ := peer.FromContext(ctx)
	g.r.record(request{protocol: "grpc", path: in.FullMethod, header: http.Header(in.Header.Copy()),
		encoding: in.Compression, tls: p != nil && p.AuthInfo != nil})
}

type traceSrv struct {
	ptraceotlp.UnimplementedGRPCServer
	r *receiver
}

func (s traceSrv) Export(_ context.Context, req ptraceotlp.ExportRequest) (ptraceotlp.ExportResponse, error) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.traces = append(s.r.traces, req.Traces())
	return ptraceotlp.NewExportResponse(), nil
}

type metricSrv struct {
	pmetricotlp.UnimplementedGRPCServer
	r *receiver
}

func (s metricSrv) Export(_ context.Context, req pmetricotlp.ExportRequest) (pmetricotlp.ExportResponse, error) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.metrics = append(s.r.metrics, req.Metrics())
	return pmetricotlp.NewExportResponse(), nil
}

type logSrv struct {
	plogotlp.UnimplementedGRPCServer
	r *receiver
}

func (s logSrv) Export(_ context.Context, req plogotlp.ExportRequest) (plogotlp.ExportResponse, error) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.logs = append(s.r.logs, req.Logs())
	return plogotlp.NewExportResponse(), nil
}

type unmarshaler interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
}

func startReceiver(t *testing.T) *receiver {
	t.Helper()
	return startReceiverWith(t, nil, 0)
}

// startReceiverWith serves over TLS when cert is not nil, and answers every
// request after delay.
func startReceiverWith(t *testing.T, cert *tls.Certificate, delay time.Duration) *receiver {
	t.Helper()
	r := &receiver{}

	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gopts := []grpc.ServerOption{grpc.StatsHandler(grpcRecorder{r}), grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		time.Sleep(delay)
		return h(ctx, req)
	})}
	if cert != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{*cert}})))
	}
	gs := grpc.NewServer(gopts...)
	ptraceotlp.RegisterGRPCServer(gs, &traceSrv{r: r})
	pmetricotlp.RegisterGRPCServer(gs, &metricSrv{r: r})
	plogotlp.RegisterGRPCServer(gs, &logSrv{r: r})
	go func() { _ = gs.Serve(gl) }()
	r.grpcAddr = gl.Addr().String()

	mux := http.NewServeMux()
	handle := func(path string, newReq func() unmarshaler, keep func(unmarshaler)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, req *http.Request) {
			var body io.Reader = req.Body
			if req.Header.Get("Content-Encoding") == "gzip" {
				gz, err := gzip.NewReader(req.Body)
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				body = gz
			}
			data, err := io.ReadAll(body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			u := newReq()
			ct := req.Header.Get("Content-Type")
			if strings.HasPrefix(ct, "application/json") {
				err = u.UnmarshalJSON(data)
			} else {
				err = u.UnmarshalProto(data)
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.mu.Lock()
			r.ctypes = append(r.ctypes, ct)
			r.mu.Unlock()
			keep(u)
			w.Header().Set("Content-Type", ct)
			w.WriteHeader(http.StatusOK)
		})
	}
	handle("/v1/traces", func() unmarshaler { return ptraceotlp.NewExportRequest() }, func(u unmarshaler) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.traces = append(r.traces, u.(ptraceotlp.ExportRequest).Traces())
	})
	handle("/v1/metrics", func() unmarshaler { return pmetricotlp.NewExportRequest() }, func(u unmarshaler) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.metrics = append(r.metrics, u.(pmetricotlp.ExportRequest).Metrics())
	})
	handle("/v1/logs", func() unmarshaler { return plogotlp.NewExportRequest() }, func(u unmarshaler) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.logs = append(r.logs, u.(plogotlp.ExportRequest).Logs())
	})
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Any path naming a signal reaches its handler, so that the paths of
	// per-signal endpoints are recorded as they arrived.
	route := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		time.Sleep(delay)
		r.record(request{protocol: "http", path: req.URL.Path, header: req.Header.Clone(),
			encoding: req.Header.Get("Content-Encoding"), tls: req.TLS != nil})
		for _, s := range []string{"traces", "metrics", "logs"} {
			if strings.Contains(req.URL.Path, s) {
				req.URL.Path = "/v1/" + s
			}
		}
		mux.ServeHTTP(w, req)
	})
	hs := &http.Server{Handler: route}
	if cert != nil {
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{*cert}}
		hl = tls.NewListener(hl, hs.TLSConfig)
	}
	go func() { _ = hs.Serve(hl) }()
	r.httpAddr = hl.Addr().String()

	t.Cleanup(func() {
		gs.Stop()
		_ = hs.Close()
	})
	return r
}

func (r *receiver) spanNames() map[string]ptrace.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]ptrace.Span{}
	for _, td := range r.traces {
		for i := 0; i < td.ResourceSpans().Len(); i++ {
			rs := td.ResourceSpans().At(i)
			for j := 0; j < rs.ScopeSpans().Len(); j++ {
				ss := rs.ScopeSpans().At(j)
				for k := 0; k < ss.Spans().Len(); k++ {
					out[ss.Spans().At(k).Name()] = ss.Spans().At(k)
				}
			}
		}
	}
	return out
}

func (r *receiver) metricNames() map[string]pmetric.Metric {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]pmetric.Metric{}
	for _, md := range r.metrics {
		for i := 0; i < md.ResourceMetrics().Len(); i++ {
			rm := md.ResourceMetrics().At(i)
			for j := 0; j < rm.ScopeMetrics().Len(); j++ {
				sm := rm.ScopeMetrics().At(j)
				for k := 0; k < sm.Metrics().Len(); k++ {
					out[sm.Metrics().At(k).Name()] = sm.Metrics().At(k)
				}
			}
		}
	}
	return out
}

func (r *receiver) logBodies() map[string]plog.LogRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]plog.LogRecord{}
	for _, ld := range r.logs {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			for j := 0; j < rl.ScopeLogs().Len(); j++ {
				sl := rl.ScopeLogs().At(j)
				for k := 0; k < sl.LogRecords().Len(); k++ {
					out[sl.LogRecords().At(k).Body().AsString()] = sl.LogRecords().At(k)
				}
			}
		}
	}
	return out
}

func (r *receiver) resourceService() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.traces) == 0 || r.traces[0].ResourceSpans().Len() == 0 {
		return ""
	}
	v, _ := r.traces[0].ResourceSpans().At(0).Resource().Attributes().Get("service.name")
	return v.AsString()
}
