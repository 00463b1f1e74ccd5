package loupehttp

import (
	"fmt"
	"maps"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/semconv/v1.43.0/httpconv"
	"go.opentelemetry.io/otel/trace"
)

// durationBuckets are otelhttp's, the semantic conventions' advice for
// http.server.request.duration.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// Middleware returns a function that wraps a handler in [Handler] with opts.
// It fits routers that take middleware as func(http.Handler) http.Handler.
func Middleware(opts ...Option) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler { return Handler(next, opts...) }
}

// Handler wraps next so that every request it serves, unless a [Filter]
// rejects it, gets a server span and a measurement in the
// http.server.request.duration histogram (seconds).
//
// The span is a child of the context the propagators extract from the request
// headers (W3C trace context with the default global propagators set up by
// the facade). It is named "{method} {route}", where the route comes from
// [http.Request.Pattern] once next has routed the request (an
// [http.ServeMux] sets it) or from the pattern already set when the handler is
// mounted under a route; without a route the method alone is the name. The
// span carries the HTTP semantic-convention attributes otelhttp records, plus
// http.route whenever it is known. A 5xx response sets the span status to
// Error. A panic in next is recorded on the span (exception event with stack
// trace, status Error, error.type "panic") and in the histogram, then
// re-panicked.
//
// Defaults: global tracer provider, meter provider and propagators (read now,
// not per request), no filters, server.address from each request's Host.
func Handler(next http.Handler, opts ...Option) http.Handler {
	c := newConfig(opts)
	m := &middleware{
		next:        next,
		tracer:      c.tracerProvider.Tracer(ScopeName, trace.WithInstrumentationVersion(Version), trace.WithSchemaURL(semconv.SchemaURL)),
		propagators: c.propagators,
		filters:     c.filters,
		kind:        trace.WithSpanKind(trace.SpanKindServer),
	}
	m.metricOpts.Store(&map[metricKey][]metric.RecordOption{})
	if c.serverName != "" {
		m.serverHost, m.serverPort = splitHostPort(c.serverName)
		m.hasServerName = true
	}
	meter := c.meterProvider.Meter(ScopeName, metric.WithInstrumentationVersion(Version), metric.WithSchemaURL(semconv.SchemaURL))
	d, err := httpconv.NewServerRequestDuration(meter, metric.WithExplicitBucketBoundaries(durationBuckets...))
	if err != nil {
		otelHandle(err)
	}
	m.duration = d.Inst()
	return m
}

type middleware struct {
	next        http.Handler
	tracer      trace.Tracer
	propagators propagation.TextMapPropagator
	filters     []Filter
	kind        trace.SpanStartOption
	duration    metric.Float64Histogram

	hasServerName bool
	serverHost    string
	serverPort    int

	// metricOpts caches the record options (a precomputed attribute set) per
	// combination of metric attributes, bounded by maxCachedSets.
	// Readers load the map without a lock (no shared write per request
	// between cores); a miss copies it under mu.
	mu         sync.Mutex
	metricOpts atomic.Pointer[map[metricKey][]metric.RecordOption]
}

// maxCachedSets bounds the metric attribute cache: server.address comes from
// the client's Host header, so the combinations are not under our control.
const maxCachedSets = 1024

// metricKey holds the request fields the metric attributes derive from, in
// as few strings as possible, so that a hit hashes little: the method and
// protocol are codes (a protocol without one is not cached).
type metricKey struct {
	host, route   string
	port, status  int
	method        methodID
	proto         uint8
	tls, panicked bool
}

// attrPool holds buffers for the span attributes; the SDK copies them.
var attrPool = sync.Pool{New: func() any { b := make([]attribute.KeyValue, 0, 16); return &b }}

// state is the per-request allocation: the request passed on, the response
// writer wrapper, the request body counter and what end needs, in one object.
type state struct {
	req  *http.Request // passed on, with the span's context
	rw   responseWriter
	body bodyCounter

	span       trace.Span
	recording  bool
	startRoute string
	method     methodID
	exact      bool // the request spells the method as the standard does
	// host and port are server.address and server.port, derived once.
	host string
	port int
	// timed is the recording span when it exposes its times (the SDK's
	// does); start is the request's start otherwise.
	timed timedSpan
	start time.Time
	// attrs is a pooled buffer for the span attributes, taken at the start
	// and returned at the end.
	attrs *[]attribute.KeyValue
}

// timedSpan is the part of the SDK's span (sdktrace.ReadOnlySpan) that gives
// its start and end times.
type timedSpan interface {
	StartTime() time.Time
	EndTime() time.Time
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, f := range m.filters {
		if !f(r) {
			m.next.ServeHTTP(w, r)
			return
		}
	}
	ctx := m.propagators.Extract(r.Context(), headerCarrier(r.Header))

	st := &state{rw: responseWriter{ResponseWriter: w, status: http.StatusOK}}
	st.method, st.exact = lookupMethod(r.Method)
	method := spanMethod(st.method)
	name := method
	st.startRoute = route(r.Pattern)
	if st.startRoute != "" {
		name = spanName(method, r.Pattern, st.startRoute)
	}
	st.host, st.port = m.serverAddr(r)
	st.attrs = attrPool.Get().(*[]attribute.KeyValue)
	attrs := m.requestAttrs((*st.attrs)[:0], r, st)
	ctx, st.span = m.tracer.Start(ctx, name, m.kind, trace.WithAttributes(attrs...))
	*st.attrs = attrs
	st.recording = st.span.IsRecording() // ended only below
	// The duration measured is the span's own when the SDK exposes it, so
	// that the histogram and the span agree and the clock is read twice per
	// request instead of four times.
	if ts, ok := st.span.(timedSpan); ok && st.recording {
		st.timed = ts
	} else {
		st.start = time.Now()
	}

	r2 := r.WithContext(ctx)
	st.req = r2
	if r.Body != nil && r.Body != http.NoBody {
		st.body.ReadCloser = r.Body
		r2.Body = &st.body
	}

	panicked := true
	defer func() {
		if r2.MultipartForm != nil {
			// net/http removes the temporary files of the form it finds on
			// the request it passed in.
			r.MultipartForm = r2.MultipartForm
		}
		if !panicked {
			return
		}
		p := recover()
		m.end(r, st, p)
		if p != nil { // nil: runtime.Goexit, which carries on by itself
			panic(p)
		}
	}()
	m.next.ServeHTTP(&st.rw, r2)
	panicked = false
	m.end(r, st, nil)
}

// end finishes the span and records the duration; r is the request as the
// middleware received it, p the recovered panic value, if any.
func (m *middleware) end(r *http.Request, st *state, p any) {
	r2, span := st.req, st.span
	rt := st.startRoute
	if r2.Pattern != "" && r2.Pattern != r.Pattern {
		rt = route(r2.Pattern)
	}
	status := st.rw.status
	errorType := ""
	if p != nil {
		errorType = "panic"
		if !st.rw.wroteHeader {
			status = 0 // nothing was sent: net/http aborts the response
		}
	}
	// The start attributes are in the span: the buffer takes the end ones.
	attrs := (*st.attrs)[:0]
	if st.recording {
		if rt != st.startRoute && rt != "" {
			span.SetName(spanName(spanMethod(st.method), r2.Pattern, rt))
			attrs = append(attrs, semconv.HTTPRoute(rt))
		}
		if st.body.n > 0 {
			attrs = append(attrs, semconv.HTTPRequestBodySize(int(st.body.n)))
		}
		if st.rw.written > 0 {
			attrs = append(attrs, semconv.HTTPResponseBodySize(int(st.rw.written)))
		}
		if status > 0 {
			attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
		}
		if p != nil {
			err, ok := p.(error)
			if !ok {
				err = fmt.Errorf("%v", p)
			}
			attrs = append(attrs, semconv.ErrorTypeKey.String(errorType))
			span.RecordError(err, trace.WithStackTrace(true))
			span.SetStatus(codes.Error, "panic: "+err.Error())
		} else if status < 100 || status >= 600 {
			span.SetStatus(codes.Error, fmt.Sprintf("Invalid HTTP status code %d", status))
		} else if status >= 500 {
			span.SetStatus(codes.Error, "")
		}
		span.SetAttributes(attrs...)
	}
	span.End()
	// Cleared, the buffer keeps no request's strings alive in the pool.
	clear(*st.attrs) // the start attributes
	clear(attrs)
	*st.attrs = attrs[:0]
	attrPool.Put(st.attrs)
	st.attrs = nil

	if ctx := r2.Context(); m.duration.Enabled(ctx) {
		var d time.Duration
		if st.timed != nil {
			d = st.timed.EndTime().Sub(st.timed.StartTime())
		} else {
			d = time.Since(st.start)
		}
		elapsed := float64(d) / float64(time.Second)
		m.duration.Record(ctx, elapsed, m.recordOptions(r, st, status, rt, errorType)...)
	}
}

// recordOptions returns the cached record options carrying the metric
// attributes otelhttp records: method, scheme, server address and port,
// protocol name and version, status code and route (and error.type).
func (m *middleware) recordOptions(r *http.Request, st *state, status int, rt, errorType string) []metric.RecordOption {
	k := metricKey{
		host:     st.host,
		route:    rt,
		port:     st.port,
		status:   status,
		method:   st.method,
		proto:    protoKey(r.Proto),
		tls:      r.TLS != nil,
		panicked: errorType != "",
	}
	if opts, ok := (*m.metricOpts.Load())[k]; ok {
		return opts
	}
	protoName, protoVersion := netProtocol(r.Proto)
	attrs := make([]attribute.KeyValue, 0, 9)
	attrs = append(attrs, semconv.HTTPRequestMethodKey.String(metricMethod(k.method)), scheme(k.tls), semconv.ServerAddress(k.host))
	if k.port > 0 {
		attrs = append(attrs, semconv.ServerPort(k.port))
	}
	if protoName != "" {
		attrs = append(attrs, semconv.NetworkProtocolName(protoName))
	}
	if protoVersion != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(protoVersion))
	}
	if status > 0 {
		attrs = append(attrs, semconv.HTTPResponseStatusCode(status))
	}
	if rt != "" {
		attrs = append(attrs, semconv.HTTPRoute(rt))
	}
	if errorType != "" {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorType))
	}
	opts := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(attrs...))}
	if k.proto == 0 {
		return opts // the key does not hold the protocol
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := *m.metricOpts.Load(); len(old) < maxCachedSets {
		next := make(map[metricKey][]metric.RecordOption, len(old)+1)
		maps.Copy(next, old)
		next[k] = opts
		m.metricOpts.Store(&next)
	}
	return opts
}

// serverAddr returns server.address and server.port (-1 when it is the
// scheme's default or unknown), as otelhttp does.
func (m *middleware) serverAddr(r *http.Request) (string, int) {
	var host string
	var port int
	if m.hasServerName {
		host, port = m.serverHost, m.serverPort
		if port < 0 {
			_, port = splitHostPort(r.Host)
		}
	} else {
		host, port = splitHostPort(r.Host)
	}
	return host, requiredPort(r.TLS != nil, port)
}

// requestAttrs appends the span attributes known before the handler runs.
func (m *middleware) requestAttrs(attrs []attribute.KeyValue, r *http.Request, st *state) []attribute.KeyValue {
	host, port, rt := st.host, st.port, st.startRoute
	methodAttr, methodOriginal := methodAttrs(r.Method, st.method, st.exact)
	attrs = append(attrs, semconv.ServerAddress(host), methodAttr, scheme(r.TLS != nil))
	if port > 0 {
		attrs = append(attrs, semconv.ServerPort(port))
	}
	if methodOriginal.Valid() {
		attrs = append(attrs, methodOriginal)
	}
	peer, peerPort := splitHostPort(r.RemoteAddr)
	if peer != "" {
		attrs = append(attrs, semconv.NetworkPeerAddress(peer))
		if peerPort > 0 {
			attrs = append(attrs, semconv.NetworkPeerPort(peerPort))
		}
	}
	if ua := header(r.Header, "User-Agent"); ua != "" {
		attrs = append(attrs, semconv.UserAgentOriginal(ua))
	}
	clientIP := forwardedFor(header(r.Header, "X-Forwarded-For"))
	if clientIP == "" {
		clientIP = peer
	}
	if clientIP != "" {
		attrs = append(attrs, semconv.ClientAddress(clientIP))
	}
	if r.URL != nil && r.URL.Path != "" {
		attrs = append(attrs, semconv.URLPath(r.URL.Path))
	}
	protoName, protoVersion := netProtocol(r.Proto)
	if protoName != "" && protoName != "http" {
		attrs = append(attrs, semconv.NetworkProtocolName(protoName))
	}
	if protoVersion != "" {
		attrs = append(attrs, semconv.NetworkProtocolVersion(protoVersion))
	}
	if rt != "" {
		attrs = append(attrs, semconv.HTTPRoute(rt))
	}
	return attrs
}

// header is h.Get(key) for a key already in canonical form, without
// canonicalizing it again on every request.
func header(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}
