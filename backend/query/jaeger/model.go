package jaeger

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/loupe-dev/loupe/backend/store"
)

// The JSON shapes of Jaeger's model/json package.

type response struct {
	Data   any        `json:"data"`
	Total  int        `json:"total"`
	Limit  int        `json:"limit"`
	Offset int        `json:"offset"`
	Errors []apiError `json:"errors"`
}

type apiError struct {
	Code    int    `json:"code,omitempty"`
	Msg     string `json:"msg"`
	TraceID string `json:"traceID,omitempty"`
}

type trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []span             `json:"spans"`
	Processes map[string]process `json:"processes"`
	Warnings  []string           `json:"warnings"`
}

type span struct {
	TraceID       string      `json:"traceID,omitempty"` // empty in a compact trace only
	SpanID        string      `json:"spanID"`
	Flags         uint32      `json:"flags,omitempty"`
	OperationName string      `json:"operationName"`
	References    []reference `json:"references"`
	StartTime     uint64      `json:"startTime"`
	Duration      uint64      `json:"duration"`
	Tags          []keyValue  `json:"tags"`
	Logs          []log       `json:"logs"`
	ProcessID     string      `json:"processID"`
	Warnings      []string    `json:"warnings"`
}

type reference struct {
	RefType string `json:"refType"`
	TraceID string `json:"traceID,omitempty"` // empty in a compact trace only
	SpanID  string `json:"spanID"`
}

type process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []keyValue `json:"tags"`
}

type log struct {
	Timestamp uint64     `json:"timestamp"`
	Fields    []keyValue `json:"fields"`
}

type keyValue struct {
	Key   string `json:"key"`
	Type  string `json:"type,omitempty"`
	Value any    `json:"value"`
}

type operation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

// traceIDString is Jaeger's form: 16 hex digits when the high half is zero,
// 32 otherwise.
func traceIDString(id store.TraceID) string {
	high := binary.BigEndian.Uint64(id[:8])
	low := binary.BigEndian.Uint64(id[8:])
	if high == 0 {
		return fmt.Sprintf("%016x", low)
	}
	return fmt.Sprintf("%016x%016x", high, low)
}

func spanIDString(id store.SpanID) string {
	return fmt.Sprintf("%016x", binary.BigEndian.Uint64(id[:]))
}

func toKeyValue(kv store.KeyValue) keyValue {
	v := kv.Value
	switch v.Type() {
	case store.ValueBool:
		return keyValue{kv.Key, "bool", v.Bool()}
	case store.ValueInt:
		return keyValue{kv.Key, "int64", v.Int()}
	case store.ValueDouble:
		return keyValue{kv.Key, "float64", v.Double()}
	case store.ValueBytes:
		return keyValue{kv.Key, "binary", []byte(v.BytesString())} // base64 in JSON, as Jaeger
	}
	return keyValue{kv.Key, "string", v.AsString()}
}

func toKeyValues(kvs []store.KeyValue, skip string) []keyValue {
	out := make([]keyValue, 0, len(kvs))
	for _, kv := range kvs {
		if kv.Key != skip {
			out = append(out, toKeyValue(kv))
		}
	}
	return out
}

func str(k, v string) keyValue { return keyValue{k, "string", v} }

func sortKeyValues(kvs []keyValue) {
	slices.SortStableFunc(kvs, func(a, b keyValue) int { return strings.Compare(a.Key, b.Key) })
}

// spanTags are a span's tags as Jaeger's OTLP translation makes them.
func spanTags(s *store.Span) []keyValue {
	tags := toKeyValues(s.Attributes, "")
	if s.Scope != nil && s.Scope.Name != "" {
		tags = append(tags, str("otel.scope.name", s.Scope.Name))
	}
	if s.Scope != nil && s.Scope.Version != "" {
		tags = append(tags, str("otel.scope.version", s.Scope.Version))
	}
	if k := store.SpanKindName(s.Kind); k != "" {
		tags = append(tags, str("span.kind", k))
	}
	if c := store.StatusCodeName(s.Status); c != "" {
		tags = append(tags, str("otel.status_code", c))
	}
	if c := store.StatusCodeName(s.Status); c == "ERROR" {
		tags = append(tags, keyValue{"error", "bool", true})
	}
	if s.StatusMessage() != "" {
		tags = append(tags, str("otel.status_description", s.StatusMessage()))
	}
	if s.TraceState() != "" {
		tags = append(tags, str("w3c.tracestate", s.TraceState()))
	}
	sortKeyValues(tags)
	return tags
}

func spanLogs(s *store.Span) []log {
	logs := make([]log, 0, len(s.Events()))
	for _, e := range s.Events() {
		fields := toKeyValues(e.Attributes, "")
		sortKeyValues(fields)
		if e.Name != "" {
			fields = append([]keyValue{str("event", e.Name)}, fields...)
		}
		logs = append(logs, log{Timestamp: micros(e.Time), Fields: fields})
	}
	return logs
}

func micros(ns int64) uint64 {
	if ns < 0 {
		return 0
	}
	return uint64(ns / 1000)
}

// references converts the parent and the links as Jaeger's OTLP translator
// does: the parent comes first as CHILD_OF; a link is FOLLOWS_FROM unless its
// opentracing.ref_type attribute says child_of; a link to the parent itself
// only sets the parent reference's type (checked against Jaeger in
// backend/peer).
func references(s *store.Span) []reference {
	refs := make([]reference, 0, len(s.Links())+1)
	hasParent := !s.ParentSpanID.IsEmpty()
	if hasParent {
		refs = append(refs, reference{"CHILD_OF", traceIDString(s.TraceID), spanIDString(s.ParentSpanID)})
	}
	for _, l := range s.Links() {
		refType := "FOLLOWS_FROM"
		if v, ok := store.Lookup(l.Attributes, "opentracing.ref_type"); ok && v.Str() == "child_of" {
			refType = "CHILD_OF"
		}
		if hasParent && l.TraceID == s.TraceID && l.SpanID == s.ParentSpanID {
			refs[0].RefType = refType
			continue
		}
		refs = append(refs, reference{refType, traceIDString(l.TraceID), spanIDString(l.SpanID)})
	}
	return refs
}

// toTrace converts a stored trace. Identical processes share one id.
func toTrace(t store.Trace) trace {
	out := trace{TraceID: traceIDString(t.ID), Spans: make([]span, 0, len(t.Spans)), Processes: map[string]process{}}
	byResource := map[*store.Resource]string{} // fast path: spans of one request share a Resource
	byContent := map[string]string{}
	for _, s := range t.Spans {
		pid, ok := byResource[s.Resource]
		if !ok {
			p := process{ServiceName: s.Resource.ServiceName, Tags: toKeyValues(s.Resource.Attributes, "service.name")}
			sortKeyValues(p.Tags)
			key := processKey(p)
			if pid, ok = byContent[key]; !ok {
				pid = fmt.Sprintf("p%d", len(out.Processes)+1)
				byContent[key] = pid
				out.Processes[pid] = p
			}
			byResource[s.Resource] = pid
		}
		out.Spans = append(out.Spans, span{
			TraceID:       out.TraceID,
			SpanID:        spanIDString(s.SpanID),
			OperationName: s.Name,
			References:    references(s),
			StartTime:     micros(s.Start),
			Duration:      uint64(s.Duration().Microseconds()),
			Tags:          spanTags(s),
			Logs:          spanLogs(s),
			ProcessID:     pid,
		})
	}
	return out
}

// compact leaves out of t what its spans repeat, for clients that know
// (the Loupe UI asks with compact=true): each span's traceID, a
// reference's when it is t's, and the types of tags and log fields (their
// JSON values carry them, but for binary values, base64 strings either
// way). On the UI test's trace of 10,000 spans it is 27% fewer bytes
// to send and parse (3.2 MB, not 4.4 MB).
func compact(t *trace) {
	untype := func(kvs []keyValue) {
		for i := range kvs {
			kvs[i].Type = ""
		}
	}
	for i := range t.Spans {
		sp := &t.Spans[i]
		sp.TraceID = ""
		for j := range sp.References {
			if sp.References[j].TraceID == t.TraceID {
				sp.References[j].TraceID = ""
			}
		}
		untype(sp.Tags)
		for j := range sp.Logs {
			untype(sp.Logs[j].Fields)
		}
	}
	for _, p := range t.Processes {
		untype(p.Tags)
	}
}

func processKey(p process) string {
	var b strings.Builder
	b.WriteString(p.ServiceName)
	for _, t := range p.Tags {
		fmt.Fprintf(&b, "\x00%s\x00%s\x00%v", t.Key, t.Type, t.Value)
	}
	return b.String()
}

func operationsOf(ops []store.Operation) []operation {
	out := make([]operation, 0, len(ops))
	for _, o := range ops {
		out = append(out, operation{Name: o.Name, SpanKind: store.SpanKindName(o.Kind)})
	}
	slices.SortFunc(out, func(a, b operation) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.SpanKind, b.SpanKind))
	})
	return out
}
