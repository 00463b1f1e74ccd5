package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/loupe-dev/loupe/backend/store"
)

// Defaults of [New].
const (
	DefaultQueueSize    = 512   // requests
	DefaultQueueItems   = 65536 // spans, points and log records of the queued requests
	DefaultWorkers      = 2
	DefaultTimeout      = 10 * time.Second // per export attempt
	DefaultRetryFor     = 5 * time.Second  // retrying one request at most this long
	DefaultWarnInterval = time.Minute
)

type config struct {
	queueSize    int
	queueItems   int64
	workers      int
	timeout      time.Duration
	retryFor     time.Duration
	warnInterval time.Duration
	log          *slog.Logger
}

// Option configures a Forwarder.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithQueueSize bounds the requests waiting to be sent (zero or less:
// DefaultQueueSize).
func WithQueueSize(n int) Option { return optionFunc(func(c *config) { c.queueSize = n }) }

// WithQueueItems bounds the spans, data points and log records of the
// queued requests, which bounds the memory they hold (zero or less:
// DefaultQueueItems). A request larger than the bound is still queued when
// the queue is empty.
func WithQueueItems(n int64) Option { return optionFunc(func(c *config) { c.queueItems = n }) }

// WithWorkers sets how many exports may be in flight at once (zero or less:
// DefaultWorkers).
func WithWorkers(n int) Option { return optionFunc(func(c *config) { c.workers = n }) }

// WithTimeout bounds one export attempt (zero or less: DefaultTimeout).
func WithTimeout(d time.Duration) Option { return optionFunc(func(c *config) { c.timeout = d }) }

// WithRetryFor bounds how long one request is retried (zero or less:
// DefaultRetryFor).
func WithRetryFor(d time.Duration) Option { return optionFunc(func(c *config) { c.retryFor = d }) }

// WithWarnInterval sets the least time between two warnings about dropped
// requests (zero or less: DefaultWarnInterval).
func WithWarnInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.warnInterval = d })
}

// WithLogger receives the warnings (slog.Default when nil).
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.log = l }) }

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if c.queueSize <= 0 {
		c.queueSize = DefaultQueueSize
	}
	if c.queueItems <= 0 {
		c.queueItems = DefaultQueueItems
	}
	if c.workers <= 0 {
		c.workers = DefaultWorkers
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.retryFor <= 0 {
		c.retryFor = DefaultRetryFor
	}
	if c.warnInterval <= 0 {
		c.warnInterval = DefaultWarnInterval
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	return c
}

// item is one queued request: its export and the number of items (spans,
// points, records) it carries, for the counts.
type item struct {
	export func(context.Context) error
	n      int64
}

// Forwarder sends traces, metrics and logs to one OTLP/gRPC endpoint. It is
// safe for concurrent use.
type Forwarder struct {
	cfg      config
	endpoint string
	conn     *grpc.ClientConn
	traces   ptraceotlp.GRPCClient
	metrics  pmetricotlp.GRPCClient
	logs     plogotlp.GRPCClient

	mu      sync.RWMutex // closed and closing queue
	closed  bool
	closing atomic.Bool // set by Shutdown: one attempt per request, no more retries
	queue   chan item

	ctx    context.Context // canceled when Shutdown gives up draining
	cancel context.CancelFunc
	wg     sync.WaitGroup

	queued                atomic.Int64 // items of the queued requests
	sent, dropped, failed atomic.Int64 // requests
	droppedItems          atomic.Int64
	lastWarn              atomic.Int64 // unix nanos
	warnedDropped         atomic.Int64 // dropped+failed at the last warning
}

// New returns a Forwarder to endpoint: host:port or http://host:port for
// plain gRPC, https://host:port for gRPC over TLS with the system's roots.
// It does not connect until the first export. Defaults: DefaultQueueSize,
// DefaultQueueItems, DefaultWorkers, DefaultTimeout, DefaultRetryFor, DefaultWarnInterval,
// slog.Default.
func New(endpoint string, opts ...Option) (*Forwarder, error) {
	cfg := newConfig(opts)
	target, creds := endpoint, insecure.NewCredentials()
	if rest, ok := strings.CutPrefix(endpoint, "https://"); ok {
		target, creds = rest, credentials.NewTLS(nil)
	} else if rest, ok := strings.CutPrefix(endpoint, "http://"); ok {
		target = rest
	}
	target = strings.TrimSuffix(target, "/")
	if target == "" || strings.Contains(target, "/") {
		return nil, fmt.Errorf("forward: want host:port, http://host:port or https://host:port, got %q", endpoint)
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Forwarder{
		cfg:      cfg,
		endpoint: endpoint,
		conn:     conn,
		traces:   ptraceotlp.NewGRPCClient(conn),
		metrics:  pmetricotlp.NewGRPCClient(conn),
		logs:     plogotlp.NewGRPCClient(conn),
		queue:    make(chan item, cfg.queueSize),
		ctx:      ctx,
		cancel:   cancel,
	}
	f.lastWarn.Store(time.Now().Add(-cfg.warnInterval).UnixNano())
	for range cfg.workers {
		f.wg.Add(1)
		go f.work()
	}
	return f, nil
}

// Traces queues td; it returns false when td was dropped (queue full or
// forwarder shut down). td must not be modified afterwards.
func (f *Forwarder) Traces(td ptrace.Traces) bool {
	req := ptraceotlp.NewExportRequestFromTraces(td)
	return f.enqueue(int64(td.SpanCount()), func(ctx context.Context) error {
		_, err := f.traces.Export(ctx, req)
		return err
	})
}

// Metrics queues md, as Traces.
func (f *Forwarder) Metrics(md pmetric.Metrics) bool {
	req := pmetricotlp.NewExportRequestFromMetrics(md)
	return f.enqueue(int64(md.DataPointCount()), func(ctx context.Context) error {
		_, err := f.metrics.Export(ctx, req)
		return err
	})
}

// Logs queues ld, as Traces.
func (f *Forwarder) Logs(ld plog.Logs) bool {
	req := plogotlp.NewExportRequestFromLogs(ld)
	return f.enqueue(int64(ld.LogRecordCount()), func(ctx context.Context) error {
		_, err := f.logs.Export(ctx, req)
		return err
	})
}

func (f *Forwarder) enqueue(n int64, export func(context.Context) error) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if !f.closed {
		if q := f.queued.Add(n); q == n || q <= f.cfg.queueItems {
			select {
			case f.queue <- item{export, n}:
				return true
			default:
			}
		}
		f.queued.Add(-n)
	}
	f.dropped.Add(1)
	f.droppedItems.Add(n)
	f.warn()
	return false
}

// Stats counts requests.
type Stats struct {
	Sent    int64 // accepted by the endpoint
	Dropped int64 // not queued: the queue was full or the forwarder shut down
	Failed  int64 // queued, but the endpoint refused them or could not be reached in time
	// DroppedItems is the spans, points and log records of Dropped and
	// Failed requests.
	DroppedItems int64
}

// Stats returns the counts so far.
func (f *Forwarder) Stats() Stats {
	return Stats{Sent: f.sent.Load(), Dropped: f.dropped.Load(), Failed: f.failed.Load(), DroppedItems: f.droppedItems.Load()}
}

// warn logs the requests lost since the last warning, at most once per
// warn interval.
func (f *Forwarder) warn() {
	now := time.Now().UnixNano()
	last := f.lastWarn.Load()
	if now-last < int64(f.cfg.warnInterval) || !f.lastWarn.CompareAndSwap(last, now) {
		return
	}
	lost := f.dropped.Load() + f.failed.Load()
	since := lost - f.warnedDropped.Swap(lost)
	f.cfg.log.Warn("forward: requests lost (queue full or endpoint unavailable)", "endpoint", f.endpoint,
		"lost_since_last_warning", since, "lost_total", lost, "items_lost_total", f.droppedItems.Load())
}

func (f *Forwarder) work() {
	defer f.wg.Done()
	for it := range f.queue {
		f.queued.Add(-it.n)
		if err := f.send(it); err != nil {
			f.failed.Add(1)
			f.droppedItems.Add(it.n)
			f.cfg.log.Debug("forward: export failed", "endpoint", f.endpoint, "error", err)
			f.warn()
			continue
		}
		f.sent.Add(1)
	}
}

// send exports one request, retrying with backoff while the error may be
// transient and the retry time lasts.
func (f *Forwarder) send(it item) error {
	deadline := time.Now().Add(f.cfg.retryFor)
	backoff := 50 * time.Millisecond
	for {
		if err := f.ctx.Err(); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(f.ctx, f.cfg.timeout)
		err := it.export(ctx)
		cancel()
		if err == nil || !retryable(err) || f.closing.Load() || time.Now().Add(backoff).After(deadline) {
			return err
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-f.ctx.Done():
			t.Stop()
			return f.ctx.Err()
		}
		backoff = min(2*backoff, time.Second)
	}
}

// retryable reports whether the OTLP specification lets a client retry
// after err.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Canceled, codes.DeadlineExceeded, codes.Aborted, codes.OutOfRange,
		codes.Unavailable, codes.DataLoss, codes.ResourceExhausted:
		return true
	}
	return false
}

// Shutdown stops accepting requests, sends the queued ones until ctx ends
// (then drops the rest, counted as failed) and closes the connection. From
// then on each request gets one attempt, without retries, so that an
// unreachable endpoint does not hold the shutdown for the retry time of
// every queued request.
// Later calls return an error.
func (f *Forwarder) Shutdown(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return errors.New("forward: already shut down")
	}
	f.closed = true
	f.closing.Store(true)
	close(f.queue)
	f.mu.Unlock()

	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		f.cancel() // the workers fail the rest at once
		<-done
	}
	f.cancel()
	if s := f.Stats(); s.Dropped+s.Failed > 0 {
		f.cfg.log.Warn("forward: requests lost in all", "endpoint", f.endpoint, "sent", s.Sent,
			"dropped", s.Dropped, "failed", s.Failed, "items_lost", s.DroppedItems)
	}
	return errors.Join(err, f.conn.Close())
}

// Wrap returns a store that writes to st and then forwards the same data
// to f, whatever st answered. Reads and Close go to st alone.
func Wrap(st store.Store, f *Forwarder) store.Store { return &forwarding{st, f} }

type forwarding struct {
	store.Store
	f *Forwarder
}

func (s *forwarding) WriteTraces(ctx context.Context, td ptrace.Traces) (store.WriteResult, error) {
	res, err := s.Store.WriteTraces(ctx, td)
	s.f.Traces(td)
	return res, err
}

func (s *forwarding) WriteMetrics(ctx context.Context, md pmetric.Metrics) (store.WriteResult, error) {
	res, err := s.Store.WriteMetrics(ctx, md)
	s.f.Metrics(md)
	return res, err
}

func (s *forwarding) WriteLogs(ctx context.Context, ld plog.Logs) (store.WriteResult, error) {
	res, err := s.Store.WriteLogs(ctx, ld)
	s.f.Logs(ld)
	return res, err
}
