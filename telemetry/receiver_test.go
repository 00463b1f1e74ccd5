package telemetry_test

import (
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
)

// receiver is a minimal OTLP receiver on loopback built on the collector's
// pdata packages: gRPC and HTTP (protobuf or JSON, gzip), all three signals.
type receiver struct {
	mu      sync.Mutex
	traces  []ptrace.Traces
	metrics []pmetric.Metrics
	logs    []plog.Logs
	ctypes  []string // Content-Type of each HTTP request

	grpcAddr, httpAddr string
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
	r := &receiver{}

	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
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
	hs := &http.Server{Handler: mux}
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
