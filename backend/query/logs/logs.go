package logs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/loupe-dev/loupe/backend/store"
)

// Handler serves the log search API over a store.
type Handler struct {
	store store.Reader
	now   func() time.Time
}

// New returns the logs handler of st.
func New(st store.Reader) *Handler { return &Handler{store: st, now: time.Now} }

// RegisterRoutes registers GET /api/logs on mux.
func (h *Handler) RegisterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/logs", h.search)
}

// MaxLimit bounds the records one search returns.
const MaxLimit = 10000

// Record is one log record as the API returns it.
type Record struct {
	Time           string         `json:"time"`                   // RFC 3339, nanoseconds
	ObservedTime   string         `json:"observedTime,omitempty"` // RFC 3339, nanoseconds
	TraceID        string         `json:"traceId,omitempty"`
	SpanID         string         `json:"spanId,omitempty"`
	SeverityNumber int32          `json:"severityNumber"`
	SeverityText   string         `json:"severityText,omitempty"`
	EventName      string         `json:"eventName,omitempty"`
	Body           any            `json:"body"`
	Attributes     map[string]any `json:"attributes,omitempty"`
	Service        string         `json:"service"`
	Resource       map[string]any `json:"resource,omitempty"`
	Scope          *Scope         `json:"scope,omitempty"`
}

// Scope is the instrumentation scope of a record.
type Scope struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
}

type response struct {
	Logs  []Record `json:"logs"`
	Limit int      `json:"limit"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{"httpCode": code, "message": msg}})
}

func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	q, err := h.parse(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := response{Logs: []Record{}, Limit: q.Limit}
	for rec, err := range h.store.FindLogs(r.Context(), q) {
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return
		}
		out.Logs = append(out.Logs, toRecord(rec))
	}
	writeJSON(w, http.StatusOK, out)
}

// severities maps the level names to the lowest severity number of their
// range in the OpenTelemetry log data model.
var severities = map[string]plog.SeverityNumber{
	"trace": plog.SeverityNumberTrace,
	"debug": plog.SeverityNumberDebug,
	"info":  plog.SeverityNumberInfo,
	"warn":  plog.SeverityNumberWarn,
	"error": plog.SeverityNumberError,
	"fatal": plog.SeverityNumberFatal,
}

// parse reads the search parameters:
//
//	service, trace_id, span_id           exact matches
//	severity                             minimum: trace|debug|info|warn|error|fatal or 1-24
//	q                                    text in the body or an attribute's value, or an
//	                                     attribute's key=value, without regard to case
//	start, end                           RFC 3339 times; or lookback (a Go duration) before end
//	limit                                at most this many records (default 100, max 10000)
func (h *Handler) parse(v url.Values) (store.LogQuery, error) {
	q := store.LogQuery{Service: v.Get("service"), Text: v.Get("q"), Limit: store.DefaultLimit}
	if s := v.Get("trace_id"); s != "" {
		id, err := store.ParseTraceID(s)
		if err != nil {
			return q, fmt.Errorf("trace_id %q: want up to 32 hex digits", s)
		}
		q.TraceID = id
	}
	if s := v.Get("span_id"); s != "" {
		b, err := parseHex(s, 8)
		if err != nil {
			return q, fmt.Errorf("span_id %q: want 16 hex digits", s)
		}
		copy(q.SpanID[:], b)
	}
	if s := v.Get("severity"); s != "" {
		if n, ok := severities[strings.ToLower(s)]; ok {
			q.MinSeverity = n
		} else if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= 24 {
			q.MinSeverity = plog.SeverityNumber(n)
		} else {
			return q, fmt.Errorf("severity %q: want trace, debug, info, warn, error, fatal or a number from 1 to 24", s)
		}
	}
	end := h.now()
	if s := v.Get("end"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Errorf("end %q: want an RFC 3339 time such as 2026-11-22T10:00:00Z", s)
		}
		end = t
		q.StartMax = t
	}
	if s := v.Get("start"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return q, fmt.Errorf("start %q: want an RFC 3339 time such as 2026-11-22T09:00:00Z", s)
		}
		q.StartMin = t
	} else if s := v.Get("lookback"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return q, fmt.Errorf("lookback %q: want a positive Go duration such as 15m or 2h", s)
		}
		q.StartMin = end.Add(-d)
	}
	if !q.StartMin.IsZero() && !q.StartMax.IsZero() && q.StartMax.Before(q.StartMin) {
		return q, fmt.Errorf("end %s is before start %s", q.StartMax.Format(time.RFC3339Nano), q.StartMin.Format(time.RFC3339Nano))
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, fmt.Errorf("limit %q: want a number from 1 to %d", s, MaxLimit)
		}
		q.Limit = n
	}
	return q, nil
}

func parseHex(s string, n int) ([]byte, error) {
	if len(s) != 2*n {
		return nil, strconv.ErrSyntax
	}
	b := make([]byte, n)
	for i := range b {
		v, err := strconv.ParseUint(s[2*i:2*i+2], 16, 8)
		if err != nil {
			return nil, err
		}
		b[i] = byte(v)
	}
	return b, nil
}

func timeText(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

func toRecord(r *store.LogRecord) Record {
	out := Record{
		Time:           timeText(r.Time),
		ObservedTime:   timeText(r.ObservedTime),
		SeverityNumber: int32(r.Severity),
		SeverityText:   r.SeverityText,
		EventName:      r.EventName,
		Body:           value(r.Body),
		Attributes:     attrs(r.Attributes),
	}
	if out.Time == "" {
		out.Time = out.ObservedTime
	}
	if !r.TraceID.IsEmpty() {
		out.TraceID = r.TraceID.String()
	}
	if !r.SpanID.IsEmpty() {
		out.SpanID = r.SpanID.String()
	}
	if r.Resource != nil {
		out.Service = r.Resource.ServiceName
		out.Resource = attrs(r.Resource.Attributes)
	}
	if r.Scope != nil && (r.Scope.Name != "" || r.Scope.Version != "") {
		out.Scope = &Scope{Name: r.Scope.Name, Version: r.Scope.Version}
	}
	return out
}

func attrs(kvs []store.KeyValue) map[string]any {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]any, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = value(kv.Value)
	}
	return m
}

// value renders a stored value as JSON: strings, booleans and numbers as
// such, bytes as their text, and slices and maps as the structures the store
// kept as JSON.
func value(v store.Value) any {
	switch v.Type() {
	case store.ValueStr:
		return v.Str()
	case store.ValueBool:
		return v.Bool()
	case store.ValueInt:
		return v.Int()
	case store.ValueDouble:
		return v.Double()
	case store.ValueSlice, store.ValueMap:
		var raw any
		if json.Unmarshal([]byte(v.Str()), &raw) == nil {
			return raw
		}
		return v.Str()
	case store.ValueEmpty:
		return nil
	}
	return v.AsString()
}
