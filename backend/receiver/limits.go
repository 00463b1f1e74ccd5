package receiver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"
)

// The defaults of the bounds on requests in progress.
const (
	// DefaultPendingFactor times the concurrent requests may be held in
	// memory at once: their bodies being read, or read and waiting for
	// their turn. Memory for request bodies is bounded by that many times
	// the maximum request size.
	DefaultPendingFactor = 4
	// DefaultMinBodyRate is the slowest an OTLP/HTTP body may arrive, in
	// bytes per second, once DefaultBodyGrace has passed: a client that
	// sends slower gets 408 and loses its connection.
	DefaultMinBodyRate = 16 << 10
	DefaultBodyGrace   = 5 * time.Second
	// DefaultMaxBodyTime bounds reading one OTLP/HTTP body whatever its rate.
	DefaultMaxBodyTime = time.Minute
	// DefaultMaxConcurrentStreams bounds the calls one gRPC connection may
	// have in progress; exporters have a few.
	DefaultMaxConcurrentStreams = 32
	// DefaultMaxConnectionIdle closes gRPC connections without a call for
	// this long; exporters send every few seconds and keep theirs.
	DefaultMaxConnectionIdle = 2 * time.Minute
)

// WithMaxPendingRequests bounds the requests held in memory at once: their
// bodies being read or waiting for their turn to be decoded (zero or less:
// DefaultPendingFactor times WithMaxConcurrentRequests; never fewer than
// that). Over HTTP, a request waits DefaultQueueWait for a pending slot;
// over gRPC, a call gets UNAVAILABLE at once, before its message is read.
func WithMaxPendingRequests(n int) Option {
	return optionFunc(func(c *config) { c.maxPending = n })
}

// WithMinBodyRate sets how slowly an OTLP/HTTP body may arrive: after
// grace, at least bytesPerSecond on average since the request began, and
// all of it within maxTime (values of zero or less keep
// DefaultMinBodyRate, DefaultBodyGrace and DefaultMaxBodyTime). Slower
// bodies get 408 Request Timeout.
func WithMinBodyRate(bytesPerSecond int64, grace, maxTime time.Duration) Option {
	return optionFunc(func(c *config) { c.minRate, c.rateGrace, c.maxBodyTime = bytesPerSecond, grace, maxTime })
}

// WithMaxConnectionIdle closes gRPC connections that have had no call for
// d (zero or less: DefaultMaxConnectionIdle).
func WithMaxConnectionIdle(d time.Duration) Option {
	return optionFunc(func(c *config) { c.maxIdle = d })
}

// WithGRPCAuth sets a check of a gRPC call's metadata made before its
// message is read; an error answers the call (a gRPC status error keeps
// its code, any other is PERMISSION_DENIED). It must not block.
func WithGRPCAuth(check func(metadata.MD) error) Option {
	return optionFunc(func(c *config) { c.grpcAuth = check })
}

// acquire waits for a turn to decode and store a request; release gives it
// back.
func (r *Receiver) acquire(ctx context.Context) error {
	return take(ctx, r.slots, r.cfg.queueWait, "busy: %d requests in progress; retry later")
}

func (r *Receiver) release() { <-r.slots }

// acquirePending waits for room to hold one more request in memory;
// releasePending gives it back.
func (r *Receiver) acquirePending(ctx context.Context) error {
	return take(ctx, r.pending, r.cfg.queueWait, "busy: %d requests pending; retry later")
}

func (r *Receiver) releasePending() { <-r.pending }

// take puts a token in slots, waiting at most wait; busy is the message,
// with the number of slots, when the wait ends first.
func take(ctx context.Context, slots chan struct{}, wait time.Duration, busy string) error {
	select {
	case slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return status.Error(codes.Unavailable, "request canceled while waiting for its turn")
	case <-t.C:
		return status.Errorf(codes.Unavailable, busy, cap(slots))
	}
}

// tap runs when a gRPC call's headers arrive, before its message is read:
// it checks authorization, then takes a pending slot for the call's
// lifetime, without waiting (it runs on the connection's reader).
func (r *Receiver) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	if r.cfg.grpcAuth != nil {
		if err := r.cfg.grpcAuth(info.Header); err != nil {
			return nil, err
		}
	}
	select {
	case r.pending <- struct{}{}:
	default:
		return nil, status.Errorf(codes.Unavailable, "busy: %d requests pending; retry later", cap(r.pending))
	}
	// The handler gives the slot back when it returns, before the answer
	// is sent; grpc-go cancels the call's context when the call ends,
	// however it ends (before the handler, too).
	release := sync.OnceFunc(r.releasePending)
	context.AfterFunc(ctx, release)
	return context.WithValue(ctx, pendingKey{}, release), nil
}

type pendingKey struct{}

// releaseCall gives back the pending slot of the gRPC call of ctx.
func releaseCall(ctx context.Context) {
	if release, ok := ctx.Value(pendingKey{}).(func()); ok {
		release()
	}
}

// errSlowBody is the error of a body that arrives slower than the floor.
var errSlowBody = errors.New("request body arrived too slowly")

// rateFloor wraps body so that each read has a deadline: the body must
// keep arriving at minRate after the grace period, and end within
// maxBodyTime. Where the connection cannot take deadlines (a handler
// wrapped by something that hides them), body is returned as is.
func (r *Receiver) rateFloor(w http.ResponseWriter, body io.ReadCloser) io.ReadCloser {
	rc := http.NewResponseController(w)
	if err := rc.SetReadDeadline(time.Now().Add(r.cfg.rateGrace)); err != nil {
		return body
	}
	return &floorReader{ReadCloser: body, rc: rc, start: time.Now(), cfg: &r.cfg}
}

type floorReader struct {
	io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	cfg   *config
	n     int64
}

func (f *floorReader) Read(p []byte) (int, error) {
	allowed := f.cfg.rateGrace + time.Duration(float64(f.n)/float64(f.cfg.minRate)*float64(time.Second))
	deadline := f.start.Add(min(allowed, f.cfg.maxBodyTime))
	_ = f.rc.SetReadDeadline(deadline)
	n, err := f.ReadCloser.Read(p)
	f.n += int64(n)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, fmt.Errorf("%w: %d bytes in %v, want at least %d bytes/s after %v, all within %v",
			errSlowBody, f.n, time.Since(f.start).Round(time.Millisecond), f.cfg.minRate, f.cfg.rateGrace, f.cfg.maxBodyTime)
	}
	if err == io.EOF {
		// The connection is the server's again: it sets its own deadlines
		// for the next request.
		_ = f.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}
