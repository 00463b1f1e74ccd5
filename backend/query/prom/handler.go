package prom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/loupe-dev/loupe/backend/store"
)

// Handler serves a subset of the Prometheus HTTP API over a store.
type Handler struct {
	q      *queryable
	engine *promql.Engine
	parser parser.Parser
	cfg    config
}

// The defaults of [New].
const (
	DefaultMaxSamples = 5_000_000
	DefaultTimeout    = 30 * time.Second
	DefaultMaxSeries  = 10_000
	// DefaultLookbackDelta is Prometheus' own default.
	DefaultLookbackDelta = 5 * time.Minute
	// maxPoints is Prometheus' limit on the points of one range-query series.
	maxPoints = 11_000
	// maxFormBytes bounds a POST body of form parameters.
	maxFormBytes = 1 << 20
)

type config struct {
	maxSamples int
	timeout    time.Duration
	maxSeries  int
	lookback   time.Duration
	now        func() time.Time
}

// Option configures a [Handler].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMaxSamples bounds the samples one query may hold in memory at once
// (the engine's MaxSamples). Values below 1 keep the default.
func WithMaxSamples(n int) Option { return optionFunc(func(c *config) { c.maxSamples = n }) }

// WithTimeout bounds the time one query may run. A request's own "timeout"
// parameter may only shorten it. Values below 1 keep the default.
func WithTimeout(d time.Duration) Option { return optionFunc(func(c *config) { c.timeout = d }) }

// WithMaxSeries bounds the series one selector of a query may match, and the
// series /api/v1/series returns; a query that would read more than ten times
// as many stored series fails too. Values below 1 keep the default.
func WithMaxSeries(n int) Option { return optionFunc(func(c *config) { c.maxSeries = n }) }

// WithLookbackDelta sets how far back an instant selector looks for a
// sample. Values below 1 keep the default.
func WithLookbackDelta(d time.Duration) Option { return optionFunc(func(c *config) { c.lookback = d }) }

// WithClock sets the clock that gives the time of a query that names none
// (time.Now by default); tests pass a fixed one.
func WithClock(now func() time.Time) Option { return optionFunc(func(c *config) { c.now = now }) }

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	if c.maxSamples < 1 {
		c.maxSamples = DefaultMaxSamples
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxSeries < 1 {
		c.maxSeries = DefaultMaxSeries
	}
	if c.lookback <= 0 {
		c.lookback = DefaultLookbackDelta
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// New returns the Prometheus API handler of st. The defaults:
// [DefaultMaxSamples] samples in memory per query, [DefaultTimeout] per
// query, [DefaultMaxSeries] series per selector and per /api/v1/series
// answer, a [DefaultLookbackDelta] lookback, and time.Now as the clock.
func New(st store.Reader, opts ...Option) *Handler {
	c := newConfig(opts)
	p := parser.NewParser(parser.Options{})
	return &Handler{
		cfg:    c,
		parser: p,
		q:      &queryable{st: st, maxSeries: c.maxSeries, scanLimit: 10 * c.maxSeries},
		engine: promql.NewEngine(promql.EngineOpts{
			MaxSamples:           c.maxSamples,
			Timeout:              c.timeout,
			LookbackDelta:        c.lookback,
			EnableAtModifier:     true,
			EnableNegativeOffset: true,
			Parser:               p,
		}),
	}
}

// Queryable returns the store as a Prometheus [storage.Queryable], with
// every series under its Prometheus name and labels.
func (h *Handler) Queryable() storage.Queryable { return h.q }

// RegisterRoutes registers the Prometheus API routes on mux.
func (h *Handler) RegisterRoutes(mux *http.ServeMux) {
	for _, m := range []string{"GET", "POST"} {
		mux.HandleFunc(m+" /api/v1/query", h.query)
		mux.HandleFunc(m+" /api/v1/query_range", h.queryRange)
		mux.HandleFunc(m+" /api/v1/labels", h.labelNames)
		mux.HandleFunc(m+" /api/v1/series", h.series)
		mux.HandleFunc(m+" /api/v1/query_exemplars", h.exemplars)
	}
	mux.HandleFunc("GET /api/v1/label/{name}/values", h.labelValues)
	mux.HandleFunc("GET /api/v1/metadata", h.metadata)
	mux.HandleFunc("GET /api/v1/status/buildinfo", h.buildInfo)
}

// Error types of the Prometheus API.
const (
	errBadData     = "bad_data"
	errExec        = "execution"
	errTimeout     = "timeout"
	errCanceled    = "canceled"
	errInternal    = "internal"
	errUnavailable = "unavailable"
)

type apiError struct {
	typ string
	err error
}

func badData(param string, err error) *apiError {
	if param != "" {
		err = fmt.Errorf("invalid parameter %q: %w", param, err)
	}
	return &apiError{errBadData, err}
}

// engineError classifies an error of the engine or the store as Prometheus does.
func engineError(err error) *apiError {
	var (
		canceled promql.ErrQueryCanceled
		timeout  promql.ErrQueryTimeout
		samples  promql.ErrTooManySamples
	)
	switch {
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return &apiError{errTimeout, err}
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return &apiError{errCanceled, err}
	case errors.As(err, &samples), errors.Is(err, ErrTooManySeries):
		return &apiError{errExec, err}
	case errors.Is(err, store.ErrClosed):
		return &apiError{errUnavailable, err}
	}
	return &apiError{errExec, err}
}

func statusOf(typ string) int {
	switch typ {
	case errBadData:
		return http.StatusBadRequest
	case errExec:
		return http.StatusUnprocessableEntity
	case errTimeout, errUnavailable, errCanceled:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

type envelope struct {
	Status    string   `json:"status"`
	Data      any      `json:"data,omitempty"`
	ErrorType string   `json:"errorType,omitempty"`
	Error     string   `json:"error,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
	Infos     []string `json:"infos,omitempty"`
}

func writeJSON(w http.ResponseWriter, code int, v envelope) {
	b, err := json.Marshal(v)
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(envelope{Status: "error", ErrorType: errInternal, Error: err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, statusOf(e.typ), envelope{Status: "error", ErrorType: e.typ, Error: e.err.Error()})
}

func writeData(w http.ResponseWriter, data any, ws annotations.Annotations) {
	warns, infos := ws.AsStrings("", 10, 10)
	writeJSON(w, http.StatusOK, envelope{Status: "success", Data: data, Warnings: warns, Infos: infos})
}

// parseForm reads the query string and, for POST, a bounded form body.
func parseForm(w http.ResponseWriter, r *http.Request) *apiError {
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	}
	if err := r.ParseForm(); err != nil {
		return badData("", fmt.Errorf("error parsing form values: %w", err))
	}
	return nil
}

// The bounds of the times a request may name, as Prometheus' API sets them.
var (
	minTime = time.Unix(math.MinInt64/1000+62135596801, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC()
)

// parseTime parses a Unix time in (fractional) seconds or RFC 3339.
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || f < float64(minTime.Unix()) || f > float64(maxTime.Unix()) {
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1000)/1000*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

func timeParam(r *http.Request, name string, def time.Time) (time.Time, *apiError) {
	s := r.Form.Get(name)
	if s == "" {
		return def, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, badData(name, err)
	}
	return t, nil
}

// parseDuration parses seconds or a Prometheus duration such as 5m.
func parseDuration(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		ns := f * float64(time.Second)
		if math.IsNaN(ns) || ns >= math.MaxInt64 || ns < math.MinInt64 {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(ns), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}

// queryContext bounds a query by the request's timeout parameter, when it
// is shorter than the engine's own timeout.
func (h *Handler) queryContext(r *http.Request) (context.Context, context.CancelFunc, *apiError) {
	s := r.Form.Get("timeout")
	if s == "" {
		ctx, cancel := context.WithCancel(r.Context())
		return ctx, cancel, nil
	}
	d, err := parseDuration(s)
	if err != nil || d <= 0 {
		if err == nil {
			err = errors.New("timeout must be positive")
		}
		return nil, nil, badData("timeout", err)
	}
	ctx, cancel := context.WithTimeout(r.Context(), min(d, h.cfg.timeout))
	return ctx, cancel, nil
}

// queryData is the data of a query or query_range answer.
type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	Result     parser.Value     `json:"result"`
}

func (h *Handler) query(w http.ResponseWriter, r *http.Request) {
	if e := parseForm(w, r); e != nil {
		writeError(w, e)
		return
	}
	ts, e := timeParam(r, "time", h.cfg.now())
	if e != nil {
		writeError(w, e)
		return
	}
	ctx, cancel, e := h.queryContext(r)
	if e != nil {
		writeError(w, e)
		return
	}
	defer cancel()
	qry, err := h.engine.NewInstantQuery(ctx, h.q, nil, r.Form.Get("query"), ts)
	h.run(ctx, w, qry, err)
}

func (h *Handler) queryRange(w http.ResponseWriter, r *http.Request) {
	if e := parseForm(w, r); e != nil {
		writeError(w, e)
		return
	}
	var start, end time.Time
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"start", &start}, {"end", &end}} {
		s := r.Form.Get(p.name)
		if s == "" {
			writeError(w, badData(p.name, errors.New("missing")))
			return
		}
		t, err := parseTime(s)
		if err != nil {
			writeError(w, badData(p.name, err))
			return
		}
		*p.t = t
	}
	if end.Before(start) {
		writeError(w, badData("end", errors.New("end timestamp must not be before start time")))
		return
	}
	step, err := parseDuration(r.Form.Get("step"))
	if err != nil {
		writeError(w, badData("step", err))
		return
	}
	if step <= 0 {
		writeError(w, badData("step", errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer")))
		return
	}
	if end.Sub(start)/step > maxPoints {
		writeError(w, badData("", errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")))
		return
	}
	ctx, cancel, e := h.queryContext(r)
	if e != nil {
		writeError(w, e)
		return
	}
	defer cancel()
	qry, err := h.engine.NewRangeQuery(ctx, h.q, nil, r.Form.Get("query"), start, end, step)
	h.run(ctx, w, qry, err)
}

// run executes a query built by the engine, or reports why it could not be built.
func (h *Handler) run(ctx context.Context, w http.ResponseWriter, qry promql.Query, err error) {
	if err != nil {
		writeError(w, badData("query", err))
		return
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		writeError(w, engineError(res.Err))
		return
	}
	writeData(w, queryData{ResultType: res.Value.Type(), Result: res.Value}, res.Warnings)
}

// selection is what labels, label values and series share: matchers, a time
// range and a limit.
type selection struct {
	sets       [][]*labels.Matcher
	start, end time.Time
	limit      int
}

func (h *Handler) parseSelection(r *http.Request) (selection, *apiError) {
	var sel selection
	var e *apiError
	if sel.start, e = timeParam(r, "start", minTime); e != nil {
		return sel, e
	}
	if sel.end, e = timeParam(r, "end", maxTime); e != nil {
		return sel, e
	}
	if sel.end.Before(sel.start) {
		return sel, badData("end", errors.New("end timestamp must not be before start time"))
	}
	for _, m := range r.Form["match[]"] {
		ms, err := h.parser.ParseMetricSelector(m)
		if err != nil {
			return sel, badData("match[]", err)
		}
		sel.sets = append(sel.sets, ms)
	}
	sel.limit = h.cfg.maxSeries
	if s := r.Form.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return sel, badData("limit", errors.New("limit must be a non-negative number"))
		}
		if n > 0 && n < sel.limit {
			sel.limit = n
		}
	}
	return sel, nil
}

// querier returns a querier over the selection's range.
func (h *Handler) querier(sel selection) *querier {
	return &querier{q: h.q, mint: rangeMillis(sel.start, math.MinInt64), maxt: rangeMillis(sel.end, math.MaxInt64)}
}

// rangeMillis is t in milliseconds, or open when t is one of the API's
// bounds (the querier then does not filter by time on that side).
func rangeMillis(t time.Time, open int64) int64 {
	if t.Equal(minTime) || t.Equal(maxTime) {
		return open
	}
	return t.UnixMilli()
}

// forSets calls f for the series matching any of the sets (every series
// when there are none), each series once, in label order.
func forSets(ctx context.Context, q *querier, sets [][]*labels.Matcher) ([]*promSeries, error) {
	if err := q.load(ctx); err != nil {
		return nil, err
	}
	var out []*promSeries
	for _, s := range q.series {
		if len(sets) == 0 || slices.ContainsFunc(sets, func(ms []*labels.Matcher) bool { return matches(s.lset, ms) }) {
			out = append(out, s)
		}
	}
	return out, nil
}

// errTruncated is the warning Prometheus gives when a limit cut the results.
var errTruncated = errors.New("results truncated due to limit")

func (h *Handler) labelNames(w http.ResponseWriter, r *http.Request) {
	h.labels(w, r, "")
}

func (h *Handler) labelValues(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		writeError(w, badData("", fmt.Errorf("invalid label name: %q", name)))
		return
	}
	h.labels(w, r, name)
}

// labels answers /api/v1/labels (name empty) and /api/v1/label/{name}/values.
func (h *Handler) labels(w http.ResponseWriter, r *http.Request, name string) {
	if e := parseForm(w, r); e != nil {
		writeError(w, e)
		return
	}
	sel, e := h.parseSelection(r)
	if e != nil {
		writeError(w, e)
		return
	}
	q := h.querier(sel)
	found, err := forSets(r.Context(), q, sel.sets)
	if err != nil {
		writeError(w, engineError(err))
		return
	}
	seen := map[string]bool{}
	for _, s := range found {
		if name == "" {
			s.lset.Range(func(l labels.Label) { seen[l.Name] = true })
		} else if v := s.lset.Get(name); v != "" {
			seen[v] = true
		}
	}
	out := sortedKeys(seen)
	ws := q.warn
	if len(out) > sel.limit {
		out = out[:sel.limit]
		ws = ws.Add(errTruncated)
	}
	writeData(w, out, ws)
}

func (h *Handler) series(w http.ResponseWriter, r *http.Request) {
	if e := parseForm(w, r); e != nil {
		writeError(w, e)
		return
	}
	sel, e := h.parseSelection(r)
	if e != nil {
		writeError(w, e)
		return
	}
	if len(sel.sets) == 0 {
		writeError(w, badData("", errors.New("no match[] parameter provided")))
		return
	}
	q := h.querier(sel)
	found, err := forSets(r.Context(), q, sel.sets)
	if err != nil {
		writeError(w, engineError(err))
		return
	}
	ws := q.warn
	if len(found) > sel.limit {
		found = found[:sel.limit]
		ws = ws.Add(errTruncated)
	}
	out := make([]labels.Labels, len(found))
	for i, s := range found {
		out[i] = s.lset
	}
	writeData(w, out, ws)
}

func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	if e := parseForm(w, r); e != nil {
		writeError(w, e)
		return
	}
	limit := -1
	if s := r.Form.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			writeError(w, badData("limit", errors.New("limit must be a number")))
			return
		}
		if n > 0 {
			limit = n
		}
	}
	q := &querier{q: h.q, mint: math.MinInt64, maxt: math.MaxInt64}
	if err := q.load(r.Context()); err != nil {
		writeError(w, engineError(err))
		return
	}
	metric := r.Form.Get("metric")
	names := make([]string, 0, len(q.families))
	for n := range q.families {
		if metric == "" || n == metric {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	if limit >= 0 && len(names) > limit {
		names = names[:limit]
	}
	out := make(map[string][]family, len(names))
	for _, n := range names {
		out[n] = []family{q.families[n]}
	}
	writeData(w, out, q.warn)
}

// exemplarJSON is one exemplar as Prometheus shows it.
type exemplarJSON struct {
	Labels    labels.Labels `json:"labels"`
	Value     string        `json:"value"`
	Timestamp json.Number   `json:"timestamp"`
}

type exemplarSeries struct {
	SeriesLabels labels.Labels  `json:"seriesLabels"`
	Exemplars    []exemplarJSON `json:"exemplars"`
}

func (h *Handler) exemplars(w http.ResponseWriter, r *http.Request) {
	if e := parseForm(w, r); e != nil {
		writeError(w, e)
		return
	}
	start, e := timeParam(r, "start", minTime)
	if e != nil {
		writeError(w, e)
		return
	}
	end, e := timeParam(r, "end", maxTime)
	if e != nil {
		writeError(w, e)
		return
	}
	if end.Before(start) {
		writeError(w, badData("end", errors.New("end timestamp must not be before start time")))
		return
	}
	expr, err := h.parser.ParseExpr(r.Form.Get("query"))
	if err != nil {
		writeError(w, badData("query", err))
		return
	}
	sets := parser.ExtractSelectors(expr)
	if len(sets) == 0 {
		writeData(w, []exemplarSeries{}, nil)
		return
	}
	q := h.querier(selection{start: start, end: end})
	found, err := forSets(r.Context(), q, sets)
	if err != nil {
		writeError(w, engineError(err))
		return
	}
	mint, maxt := start.UnixMilli(), end.UnixMilli()
	out := []exemplarSeries{}
	for _, s := range found {
		var es []exemplarJSON
		for _, x := range s.exemplars {
			if x.t < mint || x.t > maxt {
				continue
			}
			es = append(es, exemplarJSON{
				Labels:    x.lset,
				Value:     strconv.FormatFloat(x.v, 'f', -1, 64),
				Timestamp: json.Number(strconv.FormatFloat(float64(x.t)/1000, 'f', -1, 64)),
			})
		}
		if len(es) > 0 {
			out = append(out, exemplarSeries{SeriesLabels: s.lset, Exemplars: es})
		}
		if len(out) >= h.cfg.maxSeries {
			break
		}
	}
	writeData(w, out, q.warn)
}

// PrometheusVersion is the Prometheus release whose engine answers queries,
// as /api/v1/status/buildinfo reports it (Grafana reads it to know which
// features it may use).
var PrometheusVersion = prometheusVersion()

// prometheusVersion maps the Go module version v0.3XY.Z of
// github.com/prometheus/prometheus to the release 3.XY.Z.
func prometheusVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path != "github.com/prometheus/prometheus" {
				continue
			}
			var minor, patch int
			if _, err := fmt.Sscanf(m.Version, "v0.%d.%d", &minor, &patch); err == nil && minor >= 300 {
				return fmt.Sprintf("%d.%d.%d", minor/100, minor%100, patch)
			}
		}
	}
	return prometheusRelease
}

// prometheusRelease is the release of the module version in go.mod, for
// binaries built without module information (test binaries among them).
const prometheusRelease = "3.16.0"

func (h *Handler) buildInfo(w http.ResponseWriter, _ *http.Request) {
	writeData(w, map[string]string{
		"version":   PrometheusVersion,
		"revision":  "loupe",
		"branch":    "",
		"buildUser": "",
		"buildDate": "",
		"goVersion": runtime.Version(),
	}, nil)
}
