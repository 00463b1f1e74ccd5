package store

import (
	"math"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

func sortKVs(kvs []KeyValue) {
	slices.SortFunc(kvs, func(a, b KeyValue) int { return strings.Compare(a.Key, b.Key) })
}

// SpanKindName is the lower-case name Jaeger shows in the "span.kind" tag
// ("" for an unspecified kind).
func SpanKindName(k ptrace.SpanKind) string {
	switch k {
	case ptrace.SpanKindServer:
		return "server"
	case ptrace.SpanKindClient:
		return "client"
	case ptrace.SpanKindProducer:
		return "producer"
	case ptrace.SpanKindConsumer:
		return "consumer"
	case ptrace.SpanKindInternal:
		return "internal"
	}
	return ""
}

// ParseSpanKind is the inverse of SpanKindName; ok is false for unknown names.
func ParseSpanKind(s string) (k ptrace.SpanKind, ok bool) {
	switch strings.ToLower(s) {
	case "":
		return ptrace.SpanKindUnspecified, true
	case "server":
		return ptrace.SpanKindServer, true
	case "client":
		return ptrace.SpanKindClient, true
	case "producer":
		return ptrace.SpanKindProducer, true
	case "consumer":
		return ptrace.SpanKindConsumer, true
	case "internal":
		return ptrace.SpanKindInternal, true
	}
	return 0, false
}

// StatusCodeName is "OK", "ERROR" or "" (unset), as the otel.status_code tag.
func StatusCodeName(c ptrace.StatusCode) string {
	switch c {
	case ptrace.StatusCodeOk:
		return "OK"
	case ptrace.StatusCodeError:
		return "ERROR"
	}
	return ""
}

// pseudoAttribute returns the tags Jaeger derives from span fields.
func pseudoAttribute(s *Span, key string) (string, bool) {
	switch key {
	case "span.kind":
		v := SpanKindName(s.Kind)
		return v, v != ""
	case "error":
		return "true", s.Status == ptrace.StatusCodeError
	case "otel.status_code":
		v := StatusCodeName(s.Status)
		return v, v != ""
	case "otel.status_description":
		return s.StatusMessage(), s.StatusMessage() != ""
	case "otel.scope.name":
		if s.Scope != nil && s.Scope.Name != "" {
			return s.Scope.Name, true
		}
	case "otel.scope.version":
		if s.Scope != nil && s.Scope.Version != "" {
			return s.Scope.Version, true
		}
	}
	return "", false
}

func hasAttr(kvs []KeyValue, key, want string) bool {
	for _, kv := range kvs {
		if kv.Key == key && kv.Value.AsString() == want {
			return true
		}
	}
	return false
}

// MatchSpan reports whether s satisfies every condition of q (Limit aside).
func MatchSpan(s *Span, q *TraceQuery) bool {
	if q.Service != "" && s.Resource.ServiceName != q.Service {
		return false
	}
	if q.Operation != "" && s.Name != q.Operation {
		return false
	}
	if !q.StartMin.IsZero() && s.Start < q.StartMin.UnixNano() {
		return false
	}
	if !q.StartMax.IsZero() && s.Start > q.StartMax.UnixNano() {
		return false
	}
	d := s.Duration()
	if q.DurationMin > 0 && d < q.DurationMin {
		return false
	}
	if q.DurationMax > 0 && d > q.DurationMax {
		return false
	}
	for k, want := range q.Attributes {
		if !spanHasAttr(s, k, want) {
			return false
		}
	}
	return true
}

func spanHasAttr(s *Span, key, want string) bool {
	if hasAttr(s.Attributes, key, want) || hasAttr(s.Resource.Attributes, key, want) {
		return true
	}
	if v, ok := pseudoAttribute(s, key); ok && v == want {
		return true
	}
	for _, e := range s.Events() {
		if hasAttr(e.Attributes, key, want) {
			return true
		}
	}
	return false
}

// MatchLog reports whether r satisfies every condition of q (Limit aside).
// text is NewLogText(q.Text), prepared once by the caller.
func MatchLog(r *LogRecord, q *LogQuery, text *LogText) bool {
	if q.Service != "" && r.Resource.ServiceName != q.Service {
		return false
	}
	if !q.TraceID.IsEmpty() && r.TraceID != q.TraceID {
		return false
	}
	if !q.SpanID.IsEmpty() && r.SpanID != q.SpanID {
		return false
	}
	if !q.StartMin.IsZero() && r.Time < q.StartMin.UnixNano() {
		return false
	}
	if !q.StartMax.IsZero() && r.Time > q.StartMax.UnixNano() {
		return false
	}
	if q.MinSeverity != 0 && r.Severity < q.MinSeverity {
		return false
	}
	return text.Match(r)
}

// MatchSeries reports whether s's name and labels satisfy q.
func MatchSeries(s *Series, q *SeriesQuery) bool {
	if q.Name != "" && s.Name != q.Name {
		return false
	}
	for k, want := range q.Labels {
		if hasAttr(s.Attributes, k, want) || hasAttr(s.Resource.Attributes, k, want) {
			continue
		}
		if k == "service.name" && s.Resource.ServiceName == want {
			continue
		}
		return false
	}
	return true
}

// NanoBounds are [minT, maxT] in Unix nanoseconds, a zero bound open
// (math.MinInt64, math.MaxInt64): a point is in the range when its Time
// lies between them, inclusive.
func NanoBounds(minT, maxT time.Time) (lo, hi int64) {
	lo, hi = math.MinInt64, math.MaxInt64
	if !minT.IsZero() {
		lo = minT.UnixNano()
	}
	if !maxT.IsZero() {
		hi = maxT.UnixNano()
	}
	return lo, hi
}
