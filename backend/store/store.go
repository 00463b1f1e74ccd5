package store

import (
	"context"
	"errors"
	"iter"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Store is the storage interface every backend implementation provides.
type Store interface {
	Writer
	Reader
	// Close releases the store's resources. Calls after Close return ErrClosed.
	Close() error
}

// Writer stores what the receiver decoded.
//
// A write either stores every accepted item or returns an error and stores
// nothing. Items that are invalid on their own (a span without a trace or
// span id, a metric without a name or data) are counted in the
// [WriteResult] and skipped; the rest of the request is stored.
//
// A writer keeps nothing of what it is given once the call returns (copy
// what must outlive it): the receiver then hands the request's messages
// back to pdata's pools for the next request. Strings read from it may be
// kept; pdata never changes a string's bytes.
type Writer interface {
	WriteTraces(context.Context, ptrace.Traces) (WriteResult, error)
	WriteLogs(context.Context, plog.Logs) (WriteResult, error)
	WriteMetrics(context.Context, pmetric.Metrics) (WriteResult, error)
}

// WriteResult reports the items a write skipped and the values it kept
// truncated, in the terms of OTLP's partial success.
type WriteResult struct {
	Rejected int64
	Message  string // why, when Rejected > 0
	// Truncated counts the values stored cut at MaxValueDepth. Their items
	// are stored: OTLP reports this as a warning (a partial success with
	// nothing rejected).
	Truncated int64
}

// MaxValueDepth bounds how deeply maps and arrays nest in a stored value
// (an attribute's or a log body): a map or an array inside MaxValueDepth
// others is stored as [TruncatedValue] and counted in
// [WriteResult.Truncated]; what it held is dropped.
//
// OpenTelemetry's attribute APIs nest nothing (a value is a scalar or an
// array of scalars); maps and arrays come from log bodies and from
// structured attributes such as a parsed JSON document, a few levels deep.
// 64 leaves room for any of them, while every walk of a value, whether
// pdata's decoding, copying and encoding or the JSON rendering of the query
// APIs, stays within a few hundred stack frames. Without the bound one
// 16 MiB request could nest a million levels and overflow the stack of
// whatever walks it.
const MaxValueDepth = 64

// TruncatedValue is the string that stands for a map or an array nested
// deeper than MaxValueDepth.
const TruncatedValue = "[truncated: nested deeper than 64 levels]"

// Reader queries the store. Iterators yield results computed when the
// iteration starts; they never hold a lock while the caller's loop runs.
type Reader interface {
	// Trace returns the spans of one trace, or ErrNotFound.
	Trace(ctx context.Context, id TraceID) (Trace, error)
	// FindTraces yields the traces having at least one span that matches q,
	// most recent trace start first, at most q.Limit of them.
	FindTraces(ctx context.Context, q TraceQuery) iter.Seq2[Trace, error]
	// Services lists the service names of stored spans, sorted.
	Services(ctx context.Context) ([]string, error)
	// Operations lists the span names (with their kinds) of a service,
	// sorted by name then kind. An empty q.Service lists every service's.
	Operations(ctx context.Context, q OperationQuery) ([]Operation, error)
	// FindLogs yields the log records matching q, newest first.
	FindLogs(ctx context.Context, q LogQuery) iter.Seq2[*LogRecord, error]
	// FindSeries yields the metric series matching q, by name then labels,
	// each with its points inside q's time range.
	FindSeries(ctx context.Context, q SeriesQuery) iter.Seq2[*Series, error]
	// MetricNames lists the stored metric names, sorted.
	MetricNames(ctx context.Context) ([]string, error)
}

// Errors returned by stores.
var (
	ErrNotFound = errors.New("not found")
	ErrClosed   = errors.New("store closed")
	// ErrTooLarge is returned by a write that alone exceeds the store's size bound.
	ErrTooLarge = errors.New("write larger than the store's size bound")
	// ErrUnavailable is returned, wrapped with the reason, by a write the
	// store cannot take now but may take later (its disk is full or
	// failing, or it is still replaying its data): nothing of the write was
	// stored, and the client should retry it.
	ErrUnavailable = errors.New("store temporarily unavailable")
)

// TraceQuery selects traces. Zero fields do not filter. A trace matches when
// one of its spans satisfies every condition at once, as in Jaeger.
type TraceQuery struct {
	Service   string
	Operation string
	// Attributes must all match, each against the span's attributes, its
	// resource's, its events', or the pseudo attributes Jaeger shows as tags:
	// "span.kind", "error", "otel.status_code", "otel.status_description",
	// "otel.scope.name", "otel.scope.version". Values compare as text.
	Attributes               map[string]string
	StartMin, StartMax       time.Time // span start time range, inclusive
	DurationMin, DurationMax time.Duration
	Limit                    int // at most this many traces; 0 means DefaultLimit
}

// DefaultLimit is the number of results when a query sets no limit.
const DefaultLimit = 100

// OperationQuery selects operations.
type OperationQuery struct {
	Service string
	// Kind filters by span kind when it is not ptrace.SpanKindUnspecified.
	Kind ptrace.SpanKind
}

// Operation is a span name and kind seen for a service.
type Operation struct {
	Name string
	Kind ptrace.SpanKind
}

// LogQuery selects log records. Zero fields do not filter.
type LogQuery struct {
	Service            string
	TraceID            TraceID
	SpanID             SpanID
	StartMin, StartMax time.Time // on the record's time (observed time when unset)
	MinSeverity        plog.SeverityNumber
	// Text matches, without regard to case, text in the body or in an
	// attribute's value, or an attribute given as key=value (see [LogText]).
	Text  string
	Limit int // 0 means DefaultLimit
}

// SeriesQuery selects metric series. Zero fields do not filter.
type SeriesQuery struct {
	Name string
	// Labels must all equal, each against the point's attributes or its
	// resource's (service.name included). Values compare as text.
	Labels             map[string]string
	StartMin, StartMax time.Time // on point time; series with no point inside are skipped
	Limit              int       // at most this many series; 0 means DefaultLimit
}
