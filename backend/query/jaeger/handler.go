package jaeger

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/backend/store"
)

// Defaults of the search, as Jaeger's.
const (
	DefaultLimit    = 100
	DefaultLookback = 48 * time.Hour
	// MaxLimit bounds the number of traces one search returns.
	MaxLimit = 10000
)

type config struct {
	now        func() time.Time
	searches   int
	searchWait time.Duration
	maxAnswer  int
}

// Option configures a Handler.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithClock replaces time.Now (used for the default search window), for tests.
func WithClock(now func() time.Time) Option { return optionFunc(func(c *config) { c.now = now }) }

// Handler serves the Jaeger query API v1.
type Handler struct {
	r        store.Reader
	cfg      config
	searches chan struct{} // one per search running
}

// New returns a handler reading from r. Defaults: time.Now,
// DefaultMaxConcurrentSearches, DefaultSearchWait, DefaultMaxAnswerBytes.
func New(r store.Reader, opts ...Option) *Handler {
	cfg := config{now: time.Now}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.searches < 1 {
		cfg.searches = DefaultMaxConcurrentSearches
	}
	if cfg.searchWait <= 0 {
		cfg.searchWait = DefaultSearchWait
	}
	if cfg.maxAnswer < 1 {
		cfg.maxAnswer = DefaultMaxAnswerBytes
	}
	return &Handler{r: r, cfg: cfg, searches: make(chan struct{}, cfg.searches)}
}

// RegisterRoutes registers the API's routes on mux.
func (h *Handler) RegisterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/services", h.services)
	mux.HandleFunc("GET /api/services/{service}/operations", h.serviceOperations)
	mux.HandleFunc("GET /api/operations", h.operations)
	mux.HandleFunc("GET /api/traces", h.search)
	mux.HandleFunc("GET /api/traces/{traceID}", h.trace)
	mux.HandleFunc("GET /api/dependencies", h.dependencies)
}

func writeJSON(w http.ResponseWriter, r *http.Request, status int, resp *response) {
	var body []byte
	var err error
	if pp := r.FormValue("prettyPrint"); pp == "true" {
		body, err = json.MarshalIndent(resp, "", "    ")
	} else {
		body, err = json.Marshal(resp)
	}
	if err != nil {
		status = http.StatusInternalServerError
		body, _ = json.Marshal(&response{Errors: []apiError{{Code: status, Msg: err.Error()}}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, r *http.Request, status int, err error) {
	writeJSON(w, r, status, &response{Errors: []apiError{{Code: status, Msg: err.Error()}}})
}

// storeError answers a store failure: 503 while shutting down, else 500.
func storeError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	if errors.Is(err, store.ErrClosed) {
		status = http.StatusServiceUnavailable
	}
	writeError(w, r, status, err)
}

func (h *Handler) services(w http.ResponseWriter, r *http.Request) {
	svcs, err := h.r.Services(r.Context())
	if err != nil {
		storeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, &response{Data: svcs, Total: len(svcs)})
}

func (h *Handler) serviceOperations(w http.ResponseWriter, r *http.Request) {
	ops, err := h.r.Operations(r.Context(), store.OperationQuery{Service: r.PathValue("service")})
	if err != nil {
		storeError(w, r, err)
		return
	}
	names := make([]string, 0, len(ops))
	for _, o := range ops {
		names = append(names, o.Name)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	writeJSON(w, r, http.StatusOK, &response{Data: names, Total: len(names)})
}

var errServiceRequired = errors.New("parameter 'service' is required")

func (h *Handler) operations(w http.ResponseWriter, r *http.Request) {
	service := r.FormValue("service")
	if service == "" {
		writeError(w, r, http.StatusBadRequest, errServiceRequired)
		return
	}
	kind, ok := store.ParseSpanKind(r.FormValue("spanKind"))
	if !ok {
		writeError(w, r, http.StatusBadRequest, fmt.Errorf("unsupported span kind: '%s'", r.FormValue("spanKind")))
		return
	}
	ops, err := h.r.Operations(r.Context(), store.OperationQuery{Service: service, Kind: kind})
	if err != nil {
		storeError(w, r, err)
		return
	}
	data := operationsOf(ops)
	writeJSON(w, r, http.StatusOK, &response{Data: data, Total: len(data)})
}

// parseTraceID accepts Jaeger's forms: up to 32 hex digits.
func parseTraceID(s string) (store.TraceID, error) {
	if len(s) > 32 {
		return store.TraceID{}, fmt.Errorf("TraceID cannot be longer than 32 hex characters: %s", s)
	}
	id, err := store.ParseTraceID(s)
	if err != nil {
		return id, fmt.Errorf("invalid trace id %q: %w", s, err)
	}
	return id, nil
}

func (h *Handler) trace(w http.ResponseWriter, r *http.Request) {
	id, err := parseTraceID(r.PathValue("traceID"))
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err)
		return
	}
	t, err := h.r.Trace(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, http.StatusNotFound, errors.New("trace not found"))
		return
	}
	if err != nil {
		storeError(w, r, err)
		return
	}
	writeJSON(w, r, http.StatusOK, &response{Data: []trace{renderOptions(r).trace(t)}})
}

func paramError(name string, err error) error {
	return fmt.Errorf("unable to parse param '%s': %w", name, err)
}

// parseSearch reads the search parameters the way Jaeger's query parser does.
func (h *Handler) parseSearch(r *http.Request) (q store.TraceQuery, ids []store.TraceID, err error) {
	now := h.cfg.now()
	q.Service = r.FormValue("service")
	q.Operation = r.FormValue("operation")
	for _, s := range r.Form["traceID"] {
		id, err := parseTraceID(s)
		if err != nil {
			return q, nil, fmt.Errorf("cannot parse traceID param: %w", err)
		}
		ids = append(ids, id)
	}
	micros := func(name string) (time.Time, bool, error) {
		v := r.FormValue(name)
		if v == "" {
			return time.Time{}, false, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, false, paramError(name, err)
		}
		t := time.UnixMicro(n)
		if err := store.CheckTime(name, t); err != nil {
			return t, false, err
		}
		return t, true, nil
	}
	var hasStart, hasEnd bool
	if q.StartMin, hasStart, err = micros("start"); err != nil {
		return q, nil, err
	}
	if q.StartMax, hasEnd, err = micros("end"); err != nil {
		return q, nil, err
	}
	if !hasEnd {
		q.StartMax = now
	}
	if !hasStart {
		lookback := DefaultLookback
		if lb := r.FormValue("lookback"); lb != "" && lb != "custom" {
			if lookback, err = time.ParseDuration(lb); err != nil || lookback <= 0 {
				return q, nil, paramError("lookback", fmt.Errorf("want a positive duration such as 1h, got %q", lb))
			}
		}
		q.StartMin = q.StartMax.Add(-lookback)
	}
	q.Limit = DefaultLimit
	if v := r.FormValue("limit"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return q, nil, paramError("limit", err)
		}
		if n > 0 {
			q.Limit = int(min(n, MaxLimit))
		}
	}
	for _, name := range []string{"minDuration", "maxDuration"} {
		v := r.FormValue(name)
		if v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return q, nil, paramError(name, err)
		}
		if name == "minDuration" {
			q.DurationMin = d
		} else {
			q.DurationMax = d
		}
	}
	if q.Attributes, err = parseTags(r.Form["tag"], r.Form["tags"]); err != nil {
		return q, nil, err
	}
	if len(ids) == 0 && q.Service == "" {
		return q, nil, errServiceRequired
	}
	if q.DurationMin != 0 && q.DurationMax != 0 && q.DurationMax < q.DurationMin {
		return q, nil, errors.New("'maxDuration' should be greater than 'minDuration'")
	}
	return q, ids, nil
}

func parseTags(simple, jsonTags []string) (map[string]string, error) {
	tags := map[string]string{}
	for _, t := range simple {
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("malformed 'tag' parameter, expecting key:value, received: %s", t)
		}
		tags[k] = v
	}
	for _, j := range jsonTags {
		var m map[string]string
		if err := json.Unmarshal([]byte(j), &m); err != nil {
			return nil, fmt.Errorf("malformed 'tags' parameter, cannot unmarshal JSON: %w", err)
		}
		for k, v := range m {
			tags[k] = v
		}
	}
	if len(tags) == 0 {
		return nil, nil
	}
	return tags, nil
}

func (h *Handler) search(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeError(w, r, http.StatusBadRequest, err)
		return
	}
	q, ids, err := h.parseSearch(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, err)
		return
	}
	if err := h.acquireSearch(r.Context()); err != nil {
		w.Header().Set("Retry-After", "1")
		writeError(w, r, http.StatusServiceUnavailable, err)
		return
	}
	defer func() { <-h.searches }()
	h.streamSearch(w, r, h.results(r.Context(), q, ids), renderOptions(r))
}

// render says how a trace of an answer is shown: spansOf keeps only the
// spans of that service (the Loupe UI's Services home derives a service's
// figures from its entry spans, and needs no other service's), compact
// as [compact] says.
type render struct {
	spansOf string
	compact bool
}

func renderOptions(r *http.Request) render {
	return render{spansOf: r.FormValue("spansOf"), compact: r.FormValue("compact") == "true"}
}

func (o render) trace(t store.Trace) trace {
	if o.spansOf != "" {
		kept := make([]*store.Span, 0, len(t.Spans))
		for _, s := range t.Spans {
			if s.Resource.ServiceName == o.spansOf {
				kept = append(kept, s)
			}
		}
		t.Spans = kept
	}
	out := toTrace(t)
	if o.compact {
		compact(&out)
	}
	return out
}
