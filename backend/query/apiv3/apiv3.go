package apiv3

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/loupe-dev/loupe/backend/store"
)

// Handler serves the api_v3 routes over a store.
type Handler struct {
	store store.Reader
}

// New returns the api_v3 handler of st.
func New(st store.Reader) *Handler { return &Handler{store: st} }

// RegisterRoutes registers the api_v3 routes on mux.
func (h *Handler) RegisterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v3/services", h.services)
	mux.HandleFunc("GET /api/v3/operations", h.operations)
	mux.HandleFunc("GET /api/v3/traces", h.findTraces)
	mux.HandleFunc("GET /api/v3/traces/{trace_id}", h.trace)
	mux.HandleFunc("GET /api/v3/trace-summaries", h.summaries)
}

// Query parameters, as Jaeger's HTTP gateway names them.
const (
	paramServiceName   = "query.service_name"
	paramOperationName = "query.operation_name"
	paramTimeMin       = "query.start_time_min"
	paramTimeMax       = "query.start_time_max"
	paramSearchDepth   = "query.search_depth"
	paramNumTraces     = "query.num_traces" // older name of search_depth
	paramDurationMin   = "query.duration_min"
	paramDurationMax   = "query.duration_max"
	paramAttributes    = "query.attributes" // a JSON object of string values; Loupe's extension
)

// writeError answers in the gRPC-gateway error shape Jaeger uses:
// {"error":{"httpCode":400,"message":"…"}}.
func writeError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"httpCode": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (h *Handler) services(w http.ResponseWriter, r *http.Request) {
	svcs, err := h.store.Services(r.Context())
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if svcs == nil {
		svcs = []string{}
	}
	writeJSON(w, map[string]any{"services": svcs})
}

type operation struct {
	Name     string `json:"name"`
	SpanKind string `json:"spanKind"`
}

// spanKinds maps the span kinds to the lower-case names api_v3 uses.
var spanKinds = map[ptrace.SpanKind]string{
	ptrace.SpanKindUnspecified: "",
	ptrace.SpanKindInternal:    "internal",
	ptrace.SpanKindServer:      "server",
	ptrace.SpanKindClient:      "client",
	ptrace.SpanKindProducer:    "producer",
	ptrace.SpanKindConsumer:    "consumer",
}

func (h *Handler) operations(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	oq := store.OperationQuery{Service: q.Get("service")}
	if k := q.Get("span_kind"); k != "" {
		kind, ok := kindByName(k)
		if !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("malformed parameter span_kind: %q is not one of internal, server, client, producer, consumer", k))
			return
		}
		oq.Kind = kind
	}
	ops, err := h.store.Operations(r.Context(), oq)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]operation, 0, len(ops))
	for _, op := range ops {
		kind := spanKinds[op.Kind]
		if kind == "" {
			kind = "internal" // as Jaeger reports spans without a kind
		}
		out = append(out, operation{Name: op.Name, SpanKind: kind})
	}
	writeJSON(w, map[string]any{"operations": out})
}

func kindByName(name string) (ptrace.SpanKind, bool) {
	for k, n := range spanKinds {
		if n != "" && n == strings.ToLower(name) {
			return k, true
		}
	}
	return ptrace.SpanKindUnspecified, false
}

func (h *Handler) trace(w http.ResponseWriter, r *http.Request) {
	raw := r.PathValue("trace_id")
	id, err := store.ParseTraceID(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("malformed parameter trace_id: %q is not a hex trace id", raw))
		return
	}
	t, err := h.store.Trace(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "trace not found")
		return
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeTraces(w, []store.Trace{t})
}

// parseQuery reads the trace search parameters. Like Jaeger, it requires
// the time range.
func parseQuery(q url.Values) (store.TraceQuery, error) {
	tq := store.TraceQuery{Service: q.Get(paramServiceName), Operation: q.Get(paramOperationName)}
	minRaw, maxRaw := q.Get(paramTimeMin), q.Get(paramTimeMax)
	if minRaw == "" || maxRaw == "" {
		return tq, fmt.Errorf("%s and %s are required (RFC 3339 times)", paramTimeMin, paramTimeMax)
	}
	var err error
	if tq.StartMin, err = time.Parse(time.RFC3339Nano, minRaw); err != nil {
		return tq, fmt.Errorf("malformed parameter %s: %w", paramTimeMin, err)
	}
	if tq.StartMax, err = time.Parse(time.RFC3339Nano, maxRaw); err != nil {
		return tq, fmt.Errorf("malformed parameter %s: %w", paramTimeMax, err)
	}
	if err := errors.Join(store.CheckTime(paramTimeMin, tq.StartMin), store.CheckTime(paramTimeMax, tq.StartMax)); err != nil {
		return tq, err
	}
	depthParam, depth := paramSearchDepth, q.Get(paramSearchDepth)
	if depth == "" {
		depthParam, depth = paramNumTraces, q.Get(paramNumTraces)
	}
	if depth != "" {
		n, err := strconv.Atoi(depth)
		if err != nil || n < 0 {
			return tq, fmt.Errorf("malformed parameter %s: %q is not a non-negative number", depthParam, depth)
		}
		tq.Limit = n
	}
	for param, dst := range map[string]*time.Duration{paramDurationMin: &tq.DurationMin, paramDurationMax: &tq.DurationMax} {
		if v := q.Get(param); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				return tq, fmt.Errorf("malformed parameter %s: %w", param, err)
			}
			*dst = d
		}
	}
	if v := q.Get(paramAttributes); v != "" {
		if err := json.Unmarshal([]byte(v), &tq.Attributes); err != nil {
			return tq, fmt.Errorf(`malformed parameter %s: want a JSON object of strings such as {"http.response.status_code":"500"}: %w`, paramAttributes, err)
		}
	}
	return tq, nil
}

func (h *Handler) find(w http.ResponseWriter, r *http.Request) ([]store.Trace, bool) {
	tq, err := parseQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return nil, false
	}
	var traces []store.Trace
	for t, err := range h.store.FindTraces(r.Context(), tq) {
		if err != nil {
			writeError(w, http.StatusInternalServerError, err.Error())
			return nil, false
		}
		traces = append(traces, t)
	}
	return traces, true
}

func (h *Handler) findTraces(w http.ResponseWriter, r *http.Request) {
	traces, ok := h.find(w, r)
	if !ok {
		return
	}
	if len(traces) == 0 {
		writeError(w, http.StatusNotFound, "No traces found")
		return
	}
	writeTraces(w, traces)
}

// writeTraces answers {"result": <OTLP JSON TracesData>}, as Jaeger does.
func writeTraces(w http.ResponseWriter, traces []store.Trace) {
	body, err := (&ptrace.JSONMarshaler{}).MarshalTraces(ToTraces(traces))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"result":`))
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("}\n"))
}

// ToTraces rebuilds OTLP data from stored traces: one ResourceSpans per
// stored resource and one ScopeSpans per scope, in the order first seen.
func ToTraces(traces []store.Trace) ptrace.Traces {
	td := ptrace.NewTraces()
	type key struct {
		res   *store.Resource
		scope *store.Scope
	}
	resources := map[*store.Resource]ptrace.ResourceSpans{}
	scopes := map[key]ptrace.SpanSlice{}
	for _, t := range traces {
		for _, s := range t.Spans {
			rs, ok := resources[s.Resource]
			if !ok {
				rs = td.ResourceSpans().AppendEmpty()
				if s.Resource != nil {
					putAttrs(rs.Resource().Attributes(), s.Resource.Attributes)
				}
				resources[s.Resource] = rs
			}
			k := key{s.Resource, s.Scope}
			spans, ok := scopes[k]
			if !ok {
				ss := rs.ScopeSpans().AppendEmpty()
				if s.Scope != nil {
					ss.Scope().SetName(s.Scope.Name)
					ss.Scope().SetVersion(s.Scope.Version)
				}
				spans = ss.Spans()
				scopes[k] = spans
			}
			putSpan(spans.AppendEmpty(), s)
		}
	}
	return td
}

func putSpan(sp ptrace.Span, s *store.Span) {
	sp.SetTraceID(s.TraceID)
	sp.SetSpanID(s.SpanID)
	sp.SetParentSpanID(s.ParentSpanID)
	sp.SetFlags(s.Flags)
	sp.TraceState().FromRaw(s.TraceState())
	sp.SetName(s.Name)
	sp.SetKind(s.Kind)
	sp.SetStartTimestamp(pcommon.Timestamp(s.Start))
	sp.SetEndTimestamp(pcommon.Timestamp(s.End))
	sp.Status().SetCode(s.Status)
	sp.Status().SetMessage(s.StatusMessage())
	putAttrs(sp.Attributes(), s.Attributes)
	for _, e := range s.Events() {
		ev := sp.Events().AppendEmpty()
		ev.SetName(e.Name)
		ev.SetTimestamp(pcommon.Timestamp(e.Time))
		putAttrs(ev.Attributes(), e.Attributes)
	}
	for _, l := range s.Links() {
		ln := sp.Links().AppendEmpty()
		ln.SetTraceID(l.TraceID)
		ln.SetSpanID(l.SpanID)
		ln.SetFlags(l.Flags)
		ln.TraceState().FromRaw(l.TraceState)
		putAttrs(ln.Attributes(), l.Attributes)
	}
}

func putAttrs(m pcommon.Map, kvs []store.KeyValue) {
	m.EnsureCapacity(len(kvs))
	for _, kv := range kvs {
		v := kv.Value
		switch v.Type() {
		case store.ValueStr:
			m.PutStr(kv.Key, v.Str())
		case store.ValueBool:
			m.PutBool(kv.Key, v.Bool())
		case store.ValueInt:
			m.PutInt(kv.Key, v.Int())
		case store.ValueDouble:
			m.PutDouble(kv.Key, v.Double())
		case store.ValueBytes:
			m.PutEmptyBytes(kv.Key).FromRaw([]byte(v.BytesString()))
		case store.ValueSlice, store.ValueMap:
			// Kept as JSON text by the store; rebuilt as structured values.
			var raw any
			if json.Unmarshal([]byte(v.Str()), &raw) == nil && m.PutEmpty(kv.Key).FromRaw(raw) == nil {
				continue
			}
			m.PutStr(kv.Key, v.Str())
		default:
			m.PutEmpty(kv.Key)
		}
	}
}

// Summary is one trace summary, in the shape of Jaeger's
// GET /api/v3/trace-summaries (Jaeger 2.19 and later).
type Summary struct {
	TraceID              string           `json:"traceId"`
	RootServiceName      string           `json:"rootServiceName"`
	RootOperationName    string           `json:"rootOperationName"`
	MinStartTimeUnixNano string           `json:"minStartTimeUnixNano,omitempty"`
	MaxEndTimeUnixNano   string           `json:"maxEndTimeUnixNano,omitempty"`
	SpanCount            int              `json:"spanCount"`
	ErrorSpanCount       int              `json:"errorSpanCount"`
	OrphanSpanCount      int              `json:"orphanSpanCount"`
	Services             []ServiceSummary `json:"services"`
}

type ServiceSummary struct {
	Name           string `json:"name"`
	SpanCount      int    `json:"spanCount"`
	ErrorSpanCount int    `json:"errorSpanCount"`
}

func (h *Handler) summaries(w http.ResponseWriter, r *http.Request) {
	traces, ok := h.find(w, r)
	if !ok {
		return
	}
	out := make([]Summary, 0, len(traces))
	for _, t := range traces {
		out = append(out, Summarize(t))
	}
	writeJSON(w, map[string]any{"summaries": out})
}

// Summarize computes a trace's summary as Jaeger does: the root is the
// earliest-starting span without a parent; an orphan is a span whose parent
// is not in the trace; errors are spans with status Error.
func Summarize(t store.Trace) Summary {
	ids := make(map[store.SpanID]struct{}, len(t.Spans))
	for _, s := range t.Spans {
		ids[s.SpanID] = struct{}{}
	}
	sum := Summary{TraceID: t.ID.String()}
	svcs := map[string]*ServiceSummary{}
	var minStart, maxEnd, rootStart int64
	for _, s := range t.Spans {
		name := ""
		if s.Resource != nil {
			name = s.Resource.ServiceName
		}
		svc := svcs[name]
		if svc == nil {
			svc = &ServiceSummary{Name: name}
			svcs[name] = svc
		}
		svc.SpanCount++
		sum.SpanCount++
		if s.Status == ptrace.StatusCodeError {
			svc.ErrorSpanCount++
			sum.ErrorSpanCount++
		}
		if minStart == 0 || s.Start < minStart {
			minStart = s.Start
		}
		if s.End > maxEnd {
			maxEnd = s.End
		}
		if s.ParentSpanID.IsEmpty() {
			if rootStart == 0 || s.Start < rootStart {
				sum.RootServiceName, sum.RootOperationName, rootStart = name, s.Name, s.Start
			}
		} else if _, ok := ids[s.ParentSpanID]; !ok {
			sum.OrphanSpanCount++
		}
	}
	if minStart > 0 {
		sum.MinStartTimeUnixNano = strconv.FormatInt(minStart, 10)
	}
	if maxEnd > 0 {
		sum.MaxEndTimeUnixNano = strconv.FormatInt(maxEnd, 10)
	}
	sum.Services = make([]ServiceSummary, 0, len(svcs))
	for _, s := range svcs {
		sum.Services = append(sum.Services, *s)
	}
	slices.SortFunc(sum.Services, func(a, b ServiceSummary) int { return cmp.Compare(a.Name, b.Name) })
	return sum
}
