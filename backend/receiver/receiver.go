package receiver

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers the gzip compressor OTLP exporters may use
	encproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/loupe-dev/loupe/backend/internal/otlpdepth"
	"github.com/loupe-dev/loupe/backend/store"
)

// DefaultMaxRequestBytes is the default bound on a request's size, after
// decompression.
const DefaultMaxRequestBytes = 16 << 20

// DefaultMaxConcurrentRequests is the default number of requests decoded
// and stored at once; others wait up to DefaultQueueWait for their turn.
const (
	DefaultMaxConcurrentRequests = 4
	DefaultQueueWait             = 5 * time.Second
)

type config struct {
	maxBytes      int64
	maxConcurrent int
	queueWait     time.Duration
	maxPending    int
	minRate       int64
	rateGrace     time.Duration
	maxBodyTime   time.Duration
	grpcAuth      func(metadata.MD) error
	maxIdle       time.Duration
}

// Option configures the receiver.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMaxRequestBytes bounds the size of one request after decompression
// (zero or less means DefaultMaxRequestBytes). Larger requests get HTTP 413
// or gRPC RESOURCE_EXHAUSTED.
func WithMaxRequestBytes(n int64) Option {
	return optionFunc(func(c *config) { c.maxBytes = n })
}

// WithMaxConcurrentRequests bounds how many requests are decoded and
// stored at once (zero or less: DefaultMaxConcurrentRequests), so that the
// memory requests take in flight stays bounded too. A request whose body
// has been read and that waits longer than wait (zero or less:
// DefaultQueueWait) for its turn gets HTTP 503 or gRPC UNAVAILABLE, which
// OTLP clients retry.
func WithMaxConcurrentRequests(n int, wait time.Duration) Option {
	return optionFunc(func(c *config) { c.maxConcurrent, c.queueWait = n, wait })
}

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxRequestBytes
	}
	if c.maxConcurrent <= 0 {
		c.maxConcurrent = DefaultMaxConcurrentRequests
	}
	if c.queueWait <= 0 {
		c.queueWait = DefaultQueueWait
	}
	if c.maxPending <= 0 {
		c.maxPending = DefaultPendingFactor * c.maxConcurrent
	}
	c.maxPending = max(c.maxPending, c.maxConcurrent)
	if c.minRate <= 0 {
		c.minRate = DefaultMinBodyRate
	}
	if c.rateGrace <= 0 {
		c.rateGrace = DefaultBodyGrace
	}
	if c.maxBodyTime <= 0 {
		c.maxBodyTime = DefaultMaxBodyTime
	}
	if c.maxIdle <= 0 {
		c.maxIdle = DefaultMaxConnectionIdle
	}
	return c
}

// Receiver writes what it receives to a store.
type Receiver struct {
	w       store.Writer
	cfg     config
	slots   chan struct{} // one token per request decoded and stored
	pending chan struct{} // one token per request held in memory
}

// New returns a receiver writing to w. Defaults: DefaultMaxRequestBytes,
// DefaultMaxConcurrentRequests, DefaultQueueWait, DefaultPendingFactor
// times as many requests held at once, DefaultMinBodyRate after
// DefaultBodyGrace, DefaultMaxBodyTime, DefaultMaxConnectionIdle, and no
// gRPC authorization.
func New(w store.Writer, opts ...Option) *Receiver {
	cfg := newConfig(opts)
	return &Receiver{w: w, cfg: cfg, slots: make(chan struct{}, cfg.maxConcurrent), pending: make(chan struct{}, cfg.maxPending)}
}

// RegisterRoutes registers POST /v1/traces, /v1/metrics and /v1/logs.
func (r *Receiver) RegisterRoutes(mux *http.ServeMux) {
	for _, sig := range r.signals() {
		mux.HandleFunc("POST "+sig.path, func(w http.ResponseWriter, req *http.Request) { r.serveHTTP(w, req, sig) })
	}
}

// GRPCServerOptions are the options the grpc.Server given to RegisterGRPC
// needs: the request size bound, and a codec that hands the request bytes
// to the receiver so that a malformed request is answered with
// INVALID_ARGUMENT (grpc-go answers INTERNAL when its codec fails).
//
// They also check, before a request's message is read, that the caller is
// authorized (WithGRPCAuth) and that a pending slot is free (else
// UNAVAILABLE at once); cap the streams of one connection at
// DefaultMaxConcurrentStreams; and close connections idle for
// WithMaxConnectionIdle.
func (r *Receiver) GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(int(min(r.cfg.maxBytes, 1<<31-1))),
		grpc.ForceServerCodecV2(rawCodec{delegate: encoding.GetCodecV2(encproto.Name)}),
		grpc.InTapHandle(r.tap),
		grpc.MaxConcurrentStreams(DefaultMaxConcurrentStreams),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: r.cfg.maxIdle}),
	}
}

// RegisterGRPC registers the three OTLP services on s, which must have been
// built with GRPCServerOptions.
//
// The services are described here rather than registered with pdata's
// Register*GRPCServer helpers because those decode inside grpc-go, whose
// decode errors are INTERNAL; OTLP wants INVALID_ARGUMENT. Decoding is still
// pdata's (ExportRequest.UnmarshalProto).
func (r *Receiver) RegisterGRPC(s *grpc.Server) {
	for _, sig := range r.signals() {
		desc := grpc.ServiceDesc{
			ServiceName: sig.service,
			HandlerType: (*any)(nil),
			Methods:     []grpc.MethodDesc{{MethodName: "Export", Handler: sig.grpcHandler}},
			Metadata:    sig.service,
		}
		s.RegisterService(&desc, struct{}{})
	}
}

// signal is one of traces, metrics and logs.
type signal struct {
	r       *Receiver
	path    string // OTLP/HTTP path
	service string // OTLP gRPC service name
	// export decodes a request and stores it; errors are gRPC statuses.
	export func(ctx context.Context, body []byte, enc wireFormat) (marshaler, error)
}

func (r *Receiver) signals() []signal {
	return []signal{
		{r, "/v1/traces", "opentelemetry.proto.collector.trace.v1.TraceService",
			exporter(otlpdepth.Traces, ptraceotlp.NewExportRequest, r.exportTraces,
				func(req ptraceotlp.ExportRequest) { ptrace.NewTraces().MoveTo(req.Traces()) })},
		{r, "/v1/metrics", "opentelemetry.proto.collector.metrics.v1.MetricsService",
			exporter(otlpdepth.Metrics, pmetricotlp.NewExportRequest, r.exportMetrics,
				func(req pmetricotlp.ExportRequest) { pmetric.NewMetrics().MoveTo(req.Metrics()) })},
		{r, "/v1/logs", "opentelemetry.proto.collector.logs.v1.LogsService",
			exporter(otlpdepth.Logs, plogotlp.NewExportRequest, r.exportLogs,
				func(req plogotlp.ExportRequest) { plog.NewLogs().MoveTo(req.Logs()) })},
	}
}

// exporter decodes with pdata, calls write, and then releases the request:
// moving an empty value over it hands its messages back to pdata's pools
// when the pdata.useProtoPooling feature gate is on (loupe serve turns it
// on), and merely drops them otherwise. The store.Writer contract is what
// makes this safe: a writer keeps nothing of what it was given.
//
// Before pdata sees the request, values nested deeper than
// store.MaxValueDepth are cut (otlpdepth): pdata decodes, copies and
// releases a value by recursion, to its bottom. write is told how many.
func exporter[Req message](sig otlpdepth.Signal, newReq func() Req, write func(context.Context, Req, int64) (marshaler, error), release func(Req)) func(context.Context, []byte, wireFormat) (marshaler, error) {
	return func(ctx context.Context, body []byte, enc wireFormat) (marshaler, error) {
		var cut int
		var err error
		if enc == encJSON {
			body, cut, err = otlpdepth.JSON(body)
		} else {
			body, cut, err = otlpdepth.Proto(sig, body)
		}
		req := newReq()
		defer release(req)
		if err == nil {
			if enc == encJSON {
				err = req.UnmarshalJSON(body)
			} else {
				err = req.UnmarshalProto(body)
			}
		}
		if err != nil {
			// The decoder's message may quote the input: keep it valid UTF-8,
			// as a google.rpc.Status must be.
			msg := strings.ToValidUTF8(fmt.Sprintf("cannot decode the %s request: %v", enc.contentType(), err), "\uFFFD")
			return nil, status.Error(codes.InvalidArgument, msg)
		}
		resp, err := write(ctx, req, int64(cut))
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
}

func (sig signal) grpcHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	defer releaseCall(ctx)
	in := new(rawRequest)
	if err := dec(in); err != nil {
		return nil, err
	}
	call := func(ctx context.Context, req any) (any, error) {
		if err := sig.r.acquire(ctx); err != nil {
			return nil, err
		}
		defer sig.r.release()
		return sig.export(ctx, req.(*rawRequest).data, encProto)
	}
	if interceptor == nil {
		return call(ctx, in)
	}
	return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + sig.service + "/Export"}, call)
}

// rawRequest is a gRPC request kept as bytes, decoded by the receiver.
type rawRequest struct{ data []byte }

// rawCodec reads requests into rawRequest and writes OTLP responses with
// their MarshalProto; anything else goes to the standard proto codec.
type rawCodec struct{ delegate encoding.CodecV2 }

func (c rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	if m, ok := v.(marshaler); ok {
		b, err := m.MarshalProto()
		if err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.delegate.Marshal(v)
}

func (c rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	if r, ok := v.(*rawRequest); ok {
		r.data = data.Materialize()
		return nil
	}
	return c.delegate.Unmarshal(data, v)
}

func (rawCodec) Name() string { return encproto.Name }

// grpcError maps a store error to a gRPC status.
func grpcError(err error) error {
	switch {
	case errors.Is(err, store.ErrTooLarge):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, store.ErrClosed):
		return status.Error(codes.Unavailable, "shutting down")
	case errors.Is(err, store.ErrUnavailable): // retryable: 503 with Retry-After over HTTP
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	return status.Error(codes.Internal, err.Error())
}

func (r *Receiver) exportTraces(ctx context.Context, req ptraceotlp.ExportRequest, cut int64) (marshaler, error) {
	res, err := r.w.WriteTraces(ctx, req.Traces())
	if err != nil {
		return nil, grpcError(err)
	}
	res.Truncated += cut
	if res.Rejected == 0 && res.Truncated == 0 {
		return fullSuccess{}, nil
	}
	resp := ptraceotlp.NewExportResponse()
	resp.PartialSuccess().SetRejectedSpans(res.Rejected)
	resp.PartialSuccess().SetErrorMessage(partialMessage(res))
	return resp, nil
}

func (r *Receiver) exportMetrics(ctx context.Context, req pmetricotlp.ExportRequest, cut int64) (marshaler, error) {
	res, err := r.w.WriteMetrics(ctx, req.Metrics())
	if err != nil {
		return nil, grpcError(err)
	}
	res.Truncated += cut
	if res.Rejected == 0 && res.Truncated == 0 {
		return fullSuccess{}, nil
	}
	resp := pmetricotlp.NewExportResponse()
	resp.PartialSuccess().SetRejectedDataPoints(res.Rejected)
	resp.PartialSuccess().SetErrorMessage(partialMessage(res))
	return resp, nil
}

func (r *Receiver) exportLogs(ctx context.Context, req plogotlp.ExportRequest, cut int64) (marshaler, error) {
	res, err := r.w.WriteLogs(ctx, req.Logs())
	if err != nil {
		return nil, grpcError(err)
	}
	res.Truncated += cut
	if res.Rejected == 0 && res.Truncated == 0 {
		return fullSuccess{}, nil
	}
	resp := plogotlp.NewExportResponse()
	resp.PartialSuccess().SetRejectedLogRecords(res.Rejected)
	resp.PartialSuccess().SetErrorMessage(partialMessage(res))
	return resp, nil
}

// partialMessage is the error_message of a partial success: why items
// were rejected, and, as a warning (OTLP's partial success with nothing
// rejected), how many values were stored cut.
func partialMessage(res store.WriteResult) string {
	msg := res.Message
	if res.Truncated > 0 {
		if msg != "" {
			msg += "; "
		}
		msg += fmt.Sprintf("%d value(s) nested deeper than %d levels stored cut at that depth", res.Truncated, store.MaxValueDepth)
	}
	return msg
}

// fullSuccess is the answer to a request whose every item was stored: an
// Export*ServiceResponse with partial_success unset, as the OTLP
// specification asks of a full success. It encodes to 0 bytes in protobuf
// (pdata's responses always write an empty partial_success, 2 bytes) and
// to {} in JSON, so that an OTLP/HTTP client that does not read the body
// still gets its connection back.
type fullSuccess struct{}

func (fullSuccess) MarshalProto() ([]byte, error) { return nil, nil }
func (fullSuccess) MarshalJSON() ([]byte, error)  { return []byte("{}"), nil }

// The HTTP side.

type wireFormat int

const (
	encProto wireFormat = iota
	encJSON
)

func (e wireFormat) contentType() string {
	if e == encJSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

// message is what the three request and response types have in common.
type message interface {
	UnmarshalProto([]byte) error
	UnmarshalJSON([]byte) error
}

type marshaler interface {
	MarshalProto() ([]byte, error)
	MarshalJSON() ([]byte, error)
}

// httpError is an error with the HTTP status and gRPC code to answer with.
type httpError struct {
	status int
	code   codes.Code
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) *httpError {
	return &httpError{http.StatusBadRequest, codes.InvalidArgument, fmt.Sprintf(format, args...)}
}

// bodyBuffers holds request body buffers between requests: a body is
// garbage once decoded (pdata copies what it keeps), and reading each one
// into a fresh, doubling buffer was a third of the bytes ingest allocated.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer kept for reuse, so that one huge
// request does not pin its memory.
const maxPooledBody = 4 << 20

func putBody(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledBody {
		return
	}
	buf.Reset()
	bodyBuffers.Put(buf)
}

// readRequest checks the content type and encoding, and reads the body into
// buf.
func (r *Receiver) readRequest(w http.ResponseWriter, req *http.Request, buf *bytes.Buffer) ([]byte, wireFormat, *httpError) {
	enc := encProto
	mt, _, err := mime.ParseMediaType(req.Header.Get("Content-Type"))
	switch {
	case err == nil && mt == "application/x-protobuf":
	case err == nil && mt == "application/json":
		enc = encJSON
	default:
		return nil, enc, &httpError{http.StatusUnsupportedMediaType, codes.InvalidArgument,
			fmt.Sprintf("unsupported Content-Type %q: want application/x-protobuf or application/json", req.Header.Get("Content-Type"))}
	}
	limit := r.cfg.maxBytes
	var body io.Reader = http.MaxBytesReader(w, r.rateFloor(w, req.Body), limit+1)
	switch ce := strings.ToLower(strings.TrimSpace(req.Header.Get("Content-Encoding"))); ce {
	case "", "identity":
		if req.ContentLength > 0 && req.ContentLength <= limit {
			// Room for the whole body and the MinRead that ReadFrom wants
			// free before it sees the end.
			buf.Grow(int(req.ContentLength) + bytes.MinRead)
		}
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, enc, readError("invalid gzip body", err, limit)
		}
		defer zr.Close()
		body = zr
	default:
		return nil, enc, badRequest("unsupported Content-Encoding %q: want gzip or none", ce)
	}
	// Read at most limit+1 bytes of the decompressed body, so that a small
	// compressed request cannot expand without bound.
	n, err := buf.ReadFrom(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, enc, readError("reading body", err, limit)
	}
	if n > limit {
		return nil, enc, tooLargeError(limit)
	}
	return buf.Bytes(), enc, nil
}

// readError is the answer to a body that could not be read: too large,
// too slow, or else malformed.
func readError(what string, err error, limit int64) *httpError {
	switch {
	case tooLarge(err):
		return tooLargeError(limit)
	case errors.Is(err, errSlowBody):
		return &httpError{http.StatusRequestTimeout, codes.DeadlineExceeded, err.Error()}
	}
	return badRequest("%s: %v", what, err)
}

func tooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func tooLargeError(limit int64) *httpError {
	return &httpError{http.StatusRequestEntityTooLarge, codes.ResourceExhausted,
		fmt.Sprintf("request larger than %d bytes", limit)}
}

func writeError(w http.ResponseWriter, enc wireFormat, e *httpError) {
	st := status.New(e.code, strings.ToValidUTF8(e.msg, "\uFFFD")).Proto()
	var body []byte
	var err error
	if enc == encJSON {
		body, err = protojson.Marshal(st)
	} else {
		body, err = proto.Marshal(st)
	}
	if err != nil { // cannot happen for a Status; answer in plain text then
		http.Error(w, e.msg, e.status)
		return
	}
	w.Header().Set("Content-Type", enc.contentType())
	if e.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

func writeResponse(w http.ResponseWriter, enc wireFormat, m marshaler) {
	var body []byte
	var err error
	if enc == encJSON {
		body, err = m.MarshalJSON()
	} else {
		body, err = m.MarshalProto()
	}
	if err != nil {
		writeError(w, enc, &httpError{http.StatusInternalServerError, codes.Internal, err.Error()})
		return
	}
	w.Header().Set("Content-Type", enc.contentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// serveHTTP answers an OTLP/HTTP request with what the signal's gRPC
// export answers, so that both transports behave alike.
func (r *Receiver) serveHTTP(w http.ResponseWriter, req *http.Request, sig signal) {
	// The body is read before a slot is taken, so that clients sending
	// slowly hold only a pending slot, and not for long (minRate).
	if err := r.acquirePending(req.Context()); err != nil {
		writeError(w, guessFormat(req), unavailable(err))
		return
	}
	defer r.releasePending()
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBody(buf)
	body, enc, herr := r.readRequest(w, req, buf)
	if herr != nil {
		writeError(w, enc, herr)
		return
	}
	if err := r.acquire(req.Context()); err != nil {
		writeError(w, enc, unavailable(err))
		return
	}
	defer r.release()
	resp, err := sig.export(req.Context(), body, enc)
	if err != nil {
		st := status.Convert(err)
		writeError(w, enc, &httpError{httpStatus(st.Code()), st.Code(), st.Message()})
		return
	}
	writeResponse(w, enc, resp)
}

// guessFormat is the format to answer in before the request is read.
func guessFormat(req *http.Request) wireFormat {
	if strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
		return encJSON
	}
	return encProto
}

func unavailable(err error) *httpError {
	return &httpError{http.StatusServiceUnavailable, codes.Unavailable, status.Convert(err).Message()}
}

// httpStatus is the OTLP/HTTP status for a gRPC code.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.ResourceExhausted:
		return http.StatusRequestEntityTooLarge
	case codes.Unavailable, codes.Canceled, codes.DeadlineExceeded:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
