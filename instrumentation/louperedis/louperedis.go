package louperedis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/redis/go-redis/extra/rediscmd/v9"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName names this package. Spans and metrics report redisotel's scope,
// which produces them.
const ScopeName = "github.com/loupe-dev/loupe/instrumentation/louperedis"

// Version is this package's version.
const Version = "0.1.0"

// Option configures [Instrument].
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	queryText      bool
	noMetrics      bool
	skip           map[string]bool // command names, lower case
}

// WithTracerProvider sets the tracer provider (default: the global one).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.tracerProvider = tp })
}

// WithMeterProvider sets the meter provider (default: the global one).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.meterProvider = mp })
}

// WithQueryText records each command with its arguments as db.query.text.
// Off by default: keys and values may hold personal data.
func WithQueryText(on bool) Option {
	return optionFunc(func(c *config) { c.queryText = on })
}

// WithoutMetrics leaves out the pool metrics (tracing only).
func WithoutMetrics() Option {
	return optionFunc(func(c *config) { c.noMetrics = true })
}

// WithoutCommands leaves the named commands (such as "brpop", the idle poll
// of a queue consumer) untraced, alone or in a pipeline. Names are
// case-insensitive.
func WithoutCommands(names ...string) Option {
	return optionFunc(func(c *config) {
		if c.skip == nil {
			c.skip = make(map[string]bool, len(names))
		}
		for _, n := range names {
			c.skip[strings.ToLower(n)] = true
		}
	})
}

// Instrument adds tracing and metrics to rdb, a *redis.Client, a
// *redis.ClusterClient or a *redis.Ring (for the last two, each node as it
// is created). Call it once per client, before use.
func Instrument(rdb redis.UniversalClient, opts ...Option) error {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.tracerProvider == nil {
		c.tracerProvider = otel.GetTracerProvider()
	}
	if c.meterProvider == nil {
		c.meterProvider = otel.GetMeterProvider()
	}
	f := filter{skip: c.skip}
	tracing := []redisotel.TracingOption{
		redisotel.WithTracerProvider(c.tracerProvider),
		redisotel.WithDBStatement(false), // values never go out in the legacy db.statement
		redisotel.WithCallerEnabled(false),
		// Dials and the connection handshake run outside any request (go-redis
		// dials with its own context): they would make a trace per new
		// connection, with an error span wherever the server predates CLIENT
		// SETINFO (Redis < 7.2). The pool metrics cover them.
		redisotel.WithDialFilter(true),
		redisotel.WithCommandFilter(f.command),
		redisotel.WithCommandsFilter(f.pipeline),
	}
	// The semantic-convention hook must run inside redisotel's: registered
	// after it, per node.
	add := func(node *redis.Client) {
		node.AddHook(newHook(node.Options(), c.queryText, f))
	}
	switch rdb := rdb.(type) {
	case *redis.Client:
		if err := redisotel.InstrumentTracing(rdb, tracing...); err != nil {
			return err
		}
		add(rdb)
	case *redis.ClusterClient, *redis.Ring:
		if err := redisotel.InstrumentTracing(rdb, tracing...); err != nil {
			return err
		}
		if cc, ok := rdb.(*redis.ClusterClient); ok {
			cc.OnNewNode(add)
		} else {
			rdb.(*redis.Ring).OnNewNode(add)
		}
	default:
		return fmt.Errorf("louperedis: %T not supported", rdb)
	}
	if c.noMetrics {
		return nil
	}
	return redisotel.InstrumentMetrics(rdb,
		redisotel.WithMeterProvider(c.meterProvider),
		redisotel.WithSemConvCompliantMetrics(true))
}

// hook adds the v1.43.0 attributes to the span redisotel started.
type hook struct {
	base      []attribute.KeyValue
	queryText bool
	filter    filter
}

func newHook(o *redis.Options, queryText bool, f filter) *hook {
	base := []attribute.KeyValue{semconv.DBSystemNameRedis, semconv.DBNamespace(strconv.Itoa(o.DB))}
	if host, port, err := net.SplitHostPort(o.Addr); err == nil {
		base = append(base, semconv.ServerAddress(host))
		if p, err := strconv.Atoi(port); err == nil {
			base = append(base, semconv.ServerPort(p))
		}
	}
	return &hook{base: base, queryText: queryText, filter: f}
}

// filter decides which commands go untraced.
type filter struct {
	skip map[string]bool // WithoutCommands
}

// command leaves out what redisotel's default filter does (AUTH, HELLO with
// credentials), the handshake commands and those of WithoutCommands.
func (f filter) command(cmd redis.Cmder) bool {
	return redisotel.DefaultCommandFilter(cmd) || handshake(cmd) || f.skip[cmd.Name()]
}

// pipeline leaves out pipelines holding a filtered command and the
// handshake's own pipelines.
func (f filter) pipeline(cmds []redis.Cmder) bool {
	all := len(cmds) > 0
	for _, cmd := range cmds {
		if redisotel.DefaultCommandFilter(cmd) || f.skip[cmd.Name()] {
			return true
		}
		all = all && (handshake(cmd) || cmd.Name() == "select")
	}
	return all
}

// handshake reports the commands go-redis sends to set a new connection up.
func handshake(cmd redis.Cmder) bool {
	switch cmd.Name() {
	case "hello":
		return true
	case "client":
		args := cmd.Args()
		if len(args) > 1 {
			sub, _ := args[1].(string)
			switch strings.ToLower(sub) {
			case "setinfo", "setname", "maint_notifications":
				return true
			}
		}
	}
	return false
}

func (h *hook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		// redisotel starts no span for the commands the filter skips: leave
		// the caller's span alone then.
		if h.filter.command(cmd) {
			return next(ctx, cmd)
		}
		span := trace.SpanFromContext(ctx)
		if span.IsRecording() {
			attrs := append(h.base[:len(h.base):len(h.base)], semconv.DBOperationName(cmd.FullName()))
			if h.queryText {
				attrs = append(attrs, semconv.DBQueryText(rediscmd.CmdString(cmd)))
			}
			span.SetAttributes(attrs...)
		}
		err := next(ctx, cmd)
		if err != nil && span.IsRecording() {
			span.SetAttributes(errorAttrs(err)...)
		}
		return err
	}
}

func (h *hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.filter.pipeline(cmds) {
			return next(ctx, cmds)
		}
		span := trace.SpanFromContext(ctx)
		if span.IsRecording() {
			op := batchName(cmds)
			span.SetName(op)
			attrs := append(h.base[:len(h.base):len(h.base)],
				semconv.DBOperationName(op), semconv.DBOperationBatchSize(len(cmds)))
			if h.queryText {
				_, text := rediscmd.CmdsString(cmds)
				attrs = append(attrs, semconv.DBQueryText(text))
			}
			span.SetAttributes(attrs...)
		}
		err := next(ctx, cmds)
		if err != nil && span.IsRecording() {
			span.SetAttributes(errorAttrs(err)...)
		}
		return err
	}
}

// batchName is "BATCH {command}" when every command is the same, as the
// conventions say, and "PIPELINE" otherwise. MULTI/EXEC around a
// transaction do not count.
func batchName(cmds []redis.Cmder) string {
	name := ""
	for _, cmd := range cmds {
		n := cmd.FullName()
		if n == "multi" || n == "exec" {
			continue
		}
		if name == "" {
			name = n
		} else if name != n {
			return "PIPELINE"
		}
	}
	if name == "" {
		return "PIPELINE"
	}
	return "BATCH " + name
}

// errorAttrs describes a failed command. A reply error's first word (ERR,
// WRONGTYPE…) is its status code.
func errorAttrs(err error) []attribute.KeyValue {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		code, _, _ := strings.Cut(rerr.Error(), " ")
		return []attribute.KeyValue{semconv.ErrorTypeKey.String(code), semconv.DBResponseStatusCode(code)}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return []attribute.KeyValue{semconv.ErrorTypeKey.String("timeout")}
	case errors.Is(err, context.Canceled):
		return []attribute.KeyValue{semconv.ErrorTypeKey.String("canceled")}
	}
	return []attribute.KeyValue{semconv.ErrorType(err)}
}
