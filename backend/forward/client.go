package forward

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	grpcgzip "google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// client sends export requests over one OTLP transport.
type client interface {
	traces(context.Context, ptraceotlp.ExportRequest) error
	metrics(context.Context, pmetricotlp.ExportRequest) error
	logs(context.Context, plogotlp.ExportRequest) error
	close() error
}

// grpcClient speaks OTLP/gRPC through pdata's clients.
type grpcClient struct {
	conn *grpc.ClientConn
	md   metadata.MD // the headers; nil when none
	opts []grpc.CallOption
	tc   ptraceotlp.GRPCClient
	mc   pmetricotlp.GRPCClient
	lc   plogotlp.GRPCClient
}

func newGRPCClient(target string, creds credentials.TransportCredentials, cfg config) (*grpcClient, error) {
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	c := &grpcClient{conn: conn, tc: ptraceotlp.NewGRPCClient(conn), mc: pmetricotlp.NewGRPCClient(conn), lc: plogotlp.NewGRPCClient(conn)}
	if len(cfg.headers) > 0 {
		c.md = metadata.New(cfg.headers)
	}
	if cfg.compression == "gzip" {
		c.opts = append(c.opts, grpc.UseCompressor(grpcgzip.Name))
	}
	return c, nil
}

func (c *grpcClient) ctx(ctx context.Context) context.Context {
	if c.md != nil {
		return metadata.NewOutgoingContext(ctx, c.md)
	}
	return ctx
}

func (c *grpcClient) traces(ctx context.Context, req ptraceotlp.ExportRequest) error {
	_, err := c.tc.Export(c.ctx(ctx), req, c.opts...)
	return err
}

func (c *grpcClient) metrics(ctx context.Context, req pmetricotlp.ExportRequest) error {
	_, err := c.mc.Export(c.ctx(ctx), req, c.opts...)
	return err
}

func (c *grpcClient) logs(ctx context.Context, req plogotlp.ExportRequest) error {
	_, err := c.lc.Export(c.ctx(ctx), req, c.opts...)
	return err
}

func (c *grpcClient) close() error { return c.conn.Close() }

// httpClient speaks OTLP/HTTP with binary protobuf bodies.
type httpClient struct {
	hc      *http.Client
	base    string // the endpoint URL, to which the signal paths are appended
	headers http.Header
	gzip    bool
}

func newHTTPClient(base string, cfg config) *httpClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg.tls
	tr.MaxIdleConnsPerHost = cfg.workers
	h := http.Header{"Content-Type": {"application/x-protobuf"}}
	for k, v := range cfg.headers {
		h.Set(k, v)
	}
	if cfg.compression == "gzip" {
		h.Set("Content-Encoding", "gzip")
	}
	return &httpClient{hc: &http.Client{Transport: tr}, base: base, headers: h, gzip: cfg.compression == "gzip"}
}

func (c *httpClient) traces(ctx context.Context, req ptraceotlp.ExportRequest) error {
	return c.post(ctx, "/v1/traces", req.MarshalProto)
}

func (c *httpClient) metrics(ctx context.Context, req pmetricotlp.ExportRequest) error {
	return c.post(ctx, "/v1/metrics", req.MarshalProto)
}

func (c *httpClient) logs(ctx context.Context, req plogotlp.ExportRequest) error {
	return c.post(ctx, "/v1/logs", req.MarshalProto)
}

func (c *httpClient) close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// maxErrorBody bounds what is read of an error answer.
const maxErrorBody = 64 << 10

func (c *httpClient) post(ctx context.Context, path string, marshal func() ([]byte, error)) error {
	body, err := marshal()
	if err != nil {
		return fmt.Errorf("forward: encoding the request: %w", err)
	}
	if c.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body) // a bytes.Buffer does not fail
		_ = zw.Close()
		body = buf.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("forward: %w", err)
	}
	req.Header = c.headers.Clone()
	resp, err := c.hc.Do(req)
	if err != nil {
		return &exportError{msg: err.Error(), retry: true} // not reached: may succeed later
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody)) // keeps the connection
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &exportError{msg: fmt.Sprintf("POST %s: %s%s", path, resp.Status, errorDetail(resp.Header.Get("Content-Type"), msg))}
	// The OTLP specification's retryable answers; 429 and 503 may say when.
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		e.retry, e.after = true, retryAfter(resp.Header.Get("Retry-After"))
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		e.retry = true
	}
	return e
}

// errorDetail is the message of an OTLP error answer (a google.rpc.Status
// in protobuf), or the start of a text one, for the failure log.
func errorDetail(contentType string, body []byte) string {
	if len(body) == 0 {
		return ""
	}
	if strings.HasPrefix(contentType, "application/x-protobuf") {
		var st spb.Status
		if proto.Unmarshal(body, &st) == nil && st.GetMessage() != "" {
			return ": " + printable(st.GetMessage())
		}
		return ""
	}
	return ": " + printable(string(body))
}

// printable keeps up to 200 printable characters of s, on one line.
func printable(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, strings.TrimSpace(s))
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return s
}

// retryAfter reads a Retry-After header given in seconds (0 if absent or a
// date, which OTLP receivers do not send).
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// exportError is a failed OTLP/HTTP export.
type exportError struct {
	msg   string
	retry bool          // the specification lets the client retry
	after time.Duration // the endpoint asked to wait this long first
}

func (e *exportError) Error() string { return "forward: " + e.msg }

// retryable reports whether the OTLP specification lets a client retry
// after err, and how long the endpoint asked to wait first.
func retryable(err error) (bool, time.Duration) {
	if e, ok := errors.AsType[*exportError](err); ok {
		return e.retry, e.after
	}
	st := status.Convert(err)
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange,
		codes.Unavailable, codes.DataLoss, codes.ResourceExhausted:
		// A throttling endpoint may say how long to wait (RetryInfo).
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().IsValid() {
				return true, max(ri.GetRetryDelay().AsDuration(), 0)
			}
		}
		return true, 0
	}
	return false, 0
}
