package forward

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"slices"
	"sort"
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
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/internal/otlpconf"
)

// Defaults of [New].
const (
	DefaultQueueSize    = 512   // requests
	DefaultQueueItems   = 65536 // spans, points and log records of the queued requests
	DefaultWorkers      = 2
	DefaultTimeout      = 10 * time.Second // per export attempt
	DefaultRetryFor     = 5 * time.Second  // retrying one request at most this long
	DefaultWarnInterval = time.Minute
	DefaultCompression  = "gzip" // as the Collector's OTLP exporter
)

// The protocols of [WithProtocol], named as OTEL_EXPORTER_OTLP_PROTOCOL
// names them.
const (
	ProtocolGRPC         = "grpc"
	ProtocolHTTPProtobuf = "http/protobuf"
)

type config struct {
	queueSize    int
	queueItems   int64
	workers      int
	timeout      time.Duration
	retryFor     time.Duration
	warnInterval time.Duration
	log          *slog.Logger
	headers      map[string]string
	compression  string
	protocol     string
	tls          *tls.Config
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

// WithHeaders sends these gRPC metadata (HTTP/2 headers) with every
// export, e.g. {"authorization": "Bearer …"}. Names are case-insensitive
// (gRPC sends them in lower case); names must be valid HTTP header names
// and not reserved by gRPC (grpc-…, te, content-type, …), values printable
// ASCII. Later calls add to earlier ones. Values are never logged.
func WithHeaders(h map[string]string) Option {
	return optionFunc(func(c *config) {
		if c.headers == nil {
			c.headers = make(map[string]string, len(h))
		}
		for k, v := range h {
			c.headers[strings.ToLower(k)] = v
		}
	})
}

// WithCompression sets the compression of the exports: "gzip" (the
// default, DefaultCompression) or "none".
func WithCompression(name string) Option {
	return optionFunc(func(c *config) { c.compression = name })
}

// WithTLSConfig sets the TLS configuration of https:// endpoints (custom
// roots, client certificates); nil means the system's roots. It is an
// error with a plaintext endpoint.
func WithTLSConfig(cfg *tls.Config) Option { return optionFunc(func(c *config) { c.tls = cfg }) }

// WithProtocol sets the transport: [ProtocolGRPC] (the default) or
// [ProtocolHTTPProtobuf], OTLP/HTTP with binary protobuf bodies posted to the
// endpoint URL followed by /v1/traces, /v1/metrics or /v1/logs.
func WithProtocol(p string) Option { return optionFunc(func(c *config) { c.protocol = p }) }

func newConfig(opts []Option) (config, error) {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	switch c.compression {
	case "":
		c.compression = DefaultCompression
	case "gzip", "none":
	default:
		return c, fmt.Errorf("forward: compression %q: want gzip or none", c.compression)
	}
	switch c.protocol {
	case "":
		c.protocol = ProtocolGRPC
	case ProtocolGRPC, ProtocolHTTPProtobuf:
	default:
		return c, fmt.Errorf("forward: protocol %q: want %s or %s", c.protocol, ProtocolGRPC, ProtocolHTTPProtobuf)
	}
	for k, v := range c.headers {
		if err := checkHeader(k, v); err != nil {
			return c, err
		}
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
	return c, nil
}

// reservedHeaders are set by gRPC, HTTP or the exporter themselves.
var reservedHeaders = map[string]bool{"content-type": true, "te": true, "user-agent": true,
	"connection": true, "host": true, "transfer-encoding": true, "upgrade": true,
	"content-encoding": true, "content-length": true}

// checkHeader rejects what gRPC would refuse at every export, so that a
// wrong header fails at start rather than silently dropping all data. The
// error names the header, never its value.
func checkHeader(name, value string) error {
	if name == "" {
		return errors.New("forward: header with an empty name")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r)) {
			return fmt.Errorf("forward: header name %q: want letters, digits, '-', '_' or '.'", name)
		}
	}
	if strings.HasPrefix(name, "grpc-") || reservedHeaders[name] {
		return fmt.Errorf("forward: header %q is set by the transport itself", name)
	}
	if strings.HasSuffix(name, "-bin") {
		return fmt.Errorf("forward: header %q: binary (-bin) headers are not supported", name)
	}
	for i := 0; i < len(value); i++ {
		if value[i] < 0x20 || value[i] > 0x7e {
			return fmt.Errorf("forward: header %q: the value must be printable ASCII", name)
		}
	}
	return nil
}

// ParseHeaders reads headers in the format of OTEL_EXPORTER_OTLP_HEADERS:
// comma-separated name=value pairs, values percent-decoded, spaces around
// names and values trimmed, names lower-cased ("api-key=a%2Cb,
// authorization=Bearer x"); the facade reads the variable with the same
// parser. Errors name the pair's position or name, never a value.
func ParseHeaders(s string) (map[string]string, error) {
	pairs, err := otlpconf.ParsePairs(s)
	if err != nil {
		return nil, fmt.Errorf("forward: headers: %w", err)
	}
	h := make(map[string]string, len(pairs))
	for _, k := range slices.Sorted(maps.Keys(pairs)) { // sorted: "A=1,a=2" always gives the same value
		h[strings.ToLower(k)] = pairs[k]
	}
	return h, nil
}

// item is one queued request: its export and the number of items (spans,
// points, records) it carries, for the counts.
type item struct {
	export func(context.Context) error
	n      int64
}

// Forwarder sends traces, metrics and logs to one OTLP endpoint. It is
// safe for concurrent use.
type Forwarder struct {
	cfg      config
	endpoint string
	client   client

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

// New returns a Forwarder to endpoint. Over [ProtocolGRPC] that is
// host:port or http://host:port for plain gRPC, https://host:port for gRPC
// over TLS; over [ProtocolHTTPProtobuf] it is the URL the signal paths are
// appended to: http://host:port or https://host:port, with a path prefix if
// the endpoint wants one. https:// uses the system's roots unless
// WithTLSConfig. It does not connect until the first export.
// Defaults: ProtocolGRPC, DefaultQueueSize, DefaultQueueItems,
// DefaultWorkers, DefaultTimeout, DefaultRetryFor, DefaultWarnInterval,
// DefaultCompression (gzip), no headers, slog.Default.
func New(endpoint string, opts ...Option) (*Forwarder, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if r := redact(endpoint); r != endpoint {
		return nil, fmt.Errorf("forward: credentials in the endpoint %q: send them as a header instead", r)
	}
	var (
		c      client
		host   string
		secure bool
	)
	if cfg.protocol == ProtocolHTTPProtobuf {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("forward: over %s want http://host:port or https://host:port (and a path prefix if any), got %q",
				ProtocolHTTPProtobuf, endpoint)
		}
		host, secure = u.Host, u.Scheme == "https"
		if cfg.tls != nil && !secure {
			return nil, fmt.Errorf("forward: TLS settings given for the plaintext endpoint %q: use https://", endpoint)
		}
		c = newHTTPClient(strings.TrimSuffix(endpoint, "/"), cfg)
	} else {
		target, creds := endpoint, insecure.NewCredentials()
		if rest, ok := strings.CutPrefix(endpoint, "https://"); ok {
			target, creds, secure = rest, credentials.NewTLS(cfg.tls), true
		} else if rest, ok := strings.CutPrefix(endpoint, "http://"); ok {
			target = rest
		}
		target = strings.TrimSuffix(target, "/")
		if target == "" || strings.Contains(target, "/") {
			return nil, fmt.Errorf("forward: want host:port, http://host:port or https://host:port, got %q", endpoint)
		}
		if cfg.tls != nil && !secure {
			return nil, fmt.Errorf("forward: TLS settings given for the plaintext endpoint %q: use https://", endpoint)
		}
		host = target
		if c, err = newGRPCClient(target, creds, cfg); err != nil {
			return nil, err
		}
	}
	if len(cfg.headers) > 0 && !secure && !isLoopback(host) {
		names := make([]string, 0, len(cfg.headers))
		for k := range cfg.headers {
			names = append(names, k)
		}
		sort.Strings(names)
		cfg.log.Warn("forward: headers are sent in plaintext; use https:// to protect credentials",
			"endpoint", endpoint, "headers", strings.Join(names, ","))
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &Forwarder{
		cfg:      cfg,
		endpoint: endpoint,
		client:   c,
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

// redact replaces the user information of the endpoint's authority (what
// precedes its last '@') with xxxxx.
func redact(endpoint string) string {
	scheme, rest, ok := strings.Cut(endpoint, "://")
	if !ok {
		scheme, rest = "", endpoint
	} else {
		scheme += "://"
	}
	authority, path, hasPath := strings.Cut(rest, "/")
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return endpoint
	}
	if hasPath {
		path = "/" + path
	}
	return scheme + "xxxxx" + authority[at:] + path
}

// Traces queues td; it returns false when td was dropped (queue full or
// forwarder shut down). td must not be modified afterwards.
func (f *Forwarder) Traces(td ptrace.Traces) bool {
	req := ptraceotlp.NewExportRequestFromTraces(td)
	return f.enqueue(int64(td.SpanCount()), func(ctx context.Context) error { return f.client.traces(ctx, req) })
}

// Metrics queues md, as Traces.
func (f *Forwarder) Metrics(md pmetric.Metrics) bool {
	req := pmetricotlp.NewExportRequestFromMetrics(md)
	return f.enqueue(int64(md.DataPointCount()), func(ctx context.Context) error { return f.client.metrics(ctx, req) })
}

// Logs queues ld, as Traces.
func (f *Forwarder) Logs(ld plog.Logs) bool {
	req := plogotlp.NewExportRequestFromLogs(ld)
	return f.enqueue(int64(ld.LogRecordCount()), func(ctx context.Context) error { return f.client.logs(ctx, req) })
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
		if err == nil {
			return nil
		}
		retry, after := retryable(err)
		wait := max(backoff, after)
		if !retry || f.closing.Load() || time.Now().Add(wait).After(deadline) {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-f.ctx.Done():
			t.Stop()
			return f.ctx.Err()
		}
		backoff = min(2*backoff, time.Second)
	}
}

// isLoopback reports whether host:port names this machine (localhost or a
// loopback address), where plaintext is not seen by anyone else.
func isLoopback(target string) bool {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		host = target
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
	return errors.Join(err, f.client.close())
}

// Wrap returns a store that writes to st and then forwards the same data
// to f, whatever st answered. Reads and Close go to st alone.
func Wrap(st store.Store, f *Forwarder) store.Store { return &forwarding{st, f} }

type forwarding struct {
	store.Store
	f *Forwarder
}

// The writes queue a copy: a store.Writer keeps nothing of what it is
// given, since the receiver hands the request's messages back to pdata's
// pools once the write returns.

func (s *forwarding) WriteTraces(ctx context.Context, td ptrace.Traces) (store.WriteResult, error) {
	res, err := s.Store.WriteTraces(ctx, td)
	cp := ptrace.NewTraces()
	td.CopyTo(cp)
	s.f.Traces(cp)
	return res, err
}

func (s *forwarding) WriteMetrics(ctx context.Context, md pmetric.Metrics) (store.WriteResult, error) {
	res, err := s.Store.WriteMetrics(ctx, md)
	cp := pmetric.NewMetrics()
	md.CopyTo(cp)
	s.f.Metrics(cp)
	return res, err
}

func (s *forwarding) WriteLogs(ctx context.Context, ld plog.Logs) (store.WriteResult, error) {
	res, err := s.Store.WriteLogs(ctx, ld)
	cp := plog.NewLogs()
	ld.CopyTo(cp)
	s.f.Logs(cp)
	return res, err
}
