package prom

import (
	"cmp"
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
	slots  chan struct{} // one per query running
	// lightSlots are for light queries only (slots.go), one per query.
	lightSlots chan struct{}
	parser     parser.Parser
	cfg        config
}

// The defaults of [New].
const (
	DefaultMaxSamples = 5_000_000
	DefaultTimeout    = 30 * time.Second
	DefaultMaxSeries  = 10_000
	// DefaultLookbackDelta is Prometheus' own default.
	DefaultLookbackDelta = 5 * time.Minute
	// DefaultMaxConcurrent suits the few cores of a developer's machine.
	DefaultMaxConcurrent = 4
	// maxPoints is Prometheus' limit on the points of one range-query series.
	maxPoints = 11_000
	// maxFormBytes bounds the body of a POST of form parameters.
	maxFormBytes = 1 << 20
)

type config struct {
	maxSamples int
	timeout    time.Duration
	maxSeries  int
	lookback   time.Duration
	concurrent int
	now        func() time.Time
}

// Option configures a [Handler].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMaxSamples bounds the samples one query may hold in memory at once
// (the engine's MaxSamples), and the samples it may read from the store.
// Values below 1 keep the default.
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

// WithMaxConcurrent bounds the queries that run at once; later ones wait
// for a turn within their timeout. Light queries (DefaultLightSpan) have
// half as many slots again of their own, so that heavy ones never hold
// them all. Values below 1 keep the default.
func WithMaxConcurrent(n int) Option { return optionFunc(func(c *config) { c.concurrent = n }) }

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
	if c.concurrent < 1 {
		c.concurrent = DefaultMaxConcurrent
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// New returns the Prometheus API handler of st. The defaults:
// [DefaultMaxSamples] samples in memory per query, [DefaultTimeout] per
// query, [DefaultMaxSeries] series per selector and per /api/v1/series
// answer, a [DefaultLookbackDelta] lookback, [DefaultMaxConcurrent] queries
// at once, and time.Now as the clock.
func New(st store.Reader, opts ...Option) *Handler {
	c := newConfig(opts)
	p := parser.NewParser(parser.Options{})
	return &Handler{
		cfg:    c,
		parser: p,
		slots:  make(chan struct{}, c.concurrent),
		// Light queries get half as many slots of their own.
		lightSlots: make(chan struct{}, max(1, c.concurrent/2)),
		q:          &queryable{st: st, maxSeries: c.maxSeries, scanLimit: 10 * c.maxSeries, maxSamples: c.maxSamples},
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
		mux.HandleFunc(m+" /api/v1/query", h.api(h.query))
		mux.HandleFunc(m+" /api/v1/query_range", h.api(h.queryRange))
		mux.HandleFunc(m+" /api/v1/labels", h.api(h.labelNames))
		mux.HandleFunc(m+" /api/v1/series", h.api(h.series))
		mux.HandleFunc(m+" /api/v1/query_exemplars", h.api(h.exemplars))
		mux.HandleFunc(m+" /api/v1/rate_interval", h.api(h.rateInterval))
	}
	mux.HandleFunc("GET /api/v1/label/{name}/values", h.api(h.labelValues))
	mux.HandleFunc("GET /api/v1/metadata", h.api(h.metadata))
	mux.HandleFunc("GET /api/v1/status/buildinfo", h.api(h.buildInfo))
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
	)
	switch {
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return &apiError{errTimeout, err}
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return &apiError{errCanceled, err}
	case errors.Is(err, store.ErrClosed):
		return &apiError{errUnavailable, err}
	}
	return &apiError{errExec, err} // ErrTooManySeries and ErrTooManySamples among them
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

// apiFunc answers one route: its data and warnings, or an error.
type apiFunc func(r *http.Request) (any, annotations.Annotations, *apiError)

// api reads the request's parameters (query string and, for POST, a bounded
// form body), calls f and writes its answer in Prometheus' envelope.
func (h *Handler) api(f apiFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		}
		var (
			env  envelope
			code = http.StatusOK
		)
		if err := r.ParseForm(); err != nil {
			env, code = errorEnvelope(badData("", fmt.Errorf("error parsing form values: %w", err)))
		} else if data, ws, e := f(r); e != nil {
			env, code = errorEnvelope(e)
		} else {
			env = envelope{Status: "success", Data: data}
			env.Warnings, env.Infos = ws.AsStrings("", 10, 10)
		}
		b, err := json.Marshal(env)
		if err != nil {
			env, code = errorEnvelope(&apiError{errInternal, err})
			b, _ = json.Marshal(env)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write(b)
	}
}

func errorEnvelope(e *apiError) (envelope, int) {
	return envelope{Status: "error", ErrorType: e.typ, Error: e.err.Error()}, statusOf(e.typ)
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

// timeParam parses the time parameter name; def is its value when absent,
// or, when def is zero, the parameter is required.
func timeParam(r *http.Request, name string, def time.Time) (time.Time, *apiError) {
	s := r.Form.Get(name)
	if s == "" {
		if def.IsZero() {
			return def, badData(name, errors.New("missing"))
		}
		return def, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, badData(name, err)
	}
	return t, nil
}

// timeRange parses the start and end parameters.
func timeRange(r *http.Request, defStart, defEnd time.Time) (start, end time.Time, e *apiError) {
	if start, e = timeParam(r, "start", defStart); e != nil {
		return start, end, e
	}
	if end, e = timeParam(r, "end", defEnd); e != nil {
		return start, end, e
	}
	if end.Before(start) {
		return start, end, badData("end", errors.New("end timestamp must not be before start time"))
	}
	return start, end, nil
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

// queryData is the data of a query or query_range answer.
type queryData struct {
	ResultType parser.ValueType `json:"resultType"`
	// Result is the value in JSON, rendered before the query is closed:
	// Close hands its points back to the engine's pools, where the next
	// query reuses them.
	Result json.RawMessage `json:"result"`
}

func (h *Handler) query(r *http.Request) (any, annotations.Annotations, *apiError) {
	ts, e := timeParam(r, "time", h.cfg.now())
	if e != nil {
		return nil, nil, e
	}
	return h.run(r, func(ctx context.Context) (promql.Query, error) {
		return h.engine.NewInstantQuery(ctx, h.q, nil, r.Form.Get("query"), ts)
	})
}

func (h *Handler) queryRange(r *http.Request) (any, annotations.Annotations, *apiError) {
	start, end, e := timeRange(r, time.Time{}, time.Time{})
	if e != nil {
		return nil, nil, e
	}
	step, err := parseDuration(r.Form.Get("step"))
	if err != nil {
		return nil, nil, badData("step", err)
	}
	if step <= 0 {
		return nil, nil, badData("step", errors.New("zero or negative query resolution step widths are not accepted. Try a positive integer"))
	}
	if end.Sub(start)/step > maxPoints {
		return nil, nil, badData("", errors.New("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"))
	}
	return h.run(r, func(ctx context.Context) (promql.Query, error) {
		return h.engine.NewRangeQuery(ctx, h.q, nil, r.Form.Get("query"), start, end, step)
	})
}

// run builds a query with newQuery and runs it, bounded by the request's
// timeout parameter when it is shorter than the engine's own timeout.
func (h *Handler) run(r *http.Request, newQuery func(context.Context) (promql.Query, error)) (any, annotations.Annotations, *apiError) {
	ctx := r.Context()
	if s := r.Form.Get("timeout"); s != "" {
		d, err := parseDuration(s)
		if err == nil && d <= 0 {
			err = errors.New("timeout must be positive")
		}
		if err != nil {
			return nil, nil, badData("timeout", err)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, min(d, h.cfg.timeout))
		defer cancel()
	}
	qry, err := newQuery(ctx)
	if err != nil {
		return nil, nil, badData("query", err)
	}
	defer qry.Close()
	// The engine's timeout starts with Exec; the wait for a turn is bounded
	// by the same duration.
	wait, cancel := context.WithTimeout(ctx, h.cfg.timeout)
	defer cancel()
	release, e := h.turn(wait, qry)
	if e != nil {
		return nil, nil, e
	}
	defer release()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, nil, engineError(res.Err)
	}
	result, err := json.Marshal(res.Value)
	if err != nil {
		return nil, nil, &apiError{errInternal, err}
	}
	return queryData{ResultType: res.Value.Type(), Result: result}, res.Warnings, nil
}

// selection is what labels, label values and series share: matchers, a time
// range and a limit.
type selection struct {
	sets  [][]*labels.Matcher
	q     *querier
	limit int
}

func (h *Handler) parseSelection(r *http.Request) (selection, *apiError) {
	var sel selection
	start, end, e := timeRange(r, minTime, maxTime)
	if e != nil {
		return sel, e
	}
	sel.q = h.q.querier(rangeMillis(start, math.MinInt64), rangeMillis(end, math.MaxInt64))
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

// rangeMillis is t in milliseconds, or open when t is one of the API's
// bounds (the querier then does not filter by time on that side).
func rangeMillis(t time.Time, open int64) int64 {
	if t.Equal(minTime) || t.Equal(maxTime) {
		return open
	}
	return t.UnixMilli()
}

// errTruncated is the warning Prometheus gives when a limit cut the results.
var errTruncated = errors.New("results truncated due to limit")

// limited cuts s to limit elements, with Prometheus' warning when it did.
func limited[T any](s []T, limit int, ws annotations.Annotations) ([]T, annotations.Annotations) {
	if len(s) > limit {
		return s[:limit], ws.Add(errTruncated)
	}
	return s, ws
}

func (h *Handler) labelNames(r *http.Request) (any, annotations.Annotations, *apiError) {
	return h.labels(r, "")
}

func (h *Handler) labelValues(r *http.Request) (any, annotations.Annotations, *apiError) {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.UTF8Validation.IsValidLabelName(name) {
		return nil, nil, badData("", fmt.Errorf("invalid label name: %q", name))
	}
	return h.labels(r, name)
}

// labels answers /api/v1/labels (name empty) and /api/v1/label/{name}/values.
func (h *Handler) labels(r *http.Request, name string) (any, annotations.Annotations, *apiError) {
	sel, e := h.parseSelection(r)
	if e != nil {
		return nil, nil, e
	}
	var out []string
	if name == model.MetricNameLabel && namesOnly(sel.sets) {
		names, err := sel.q.namesMatching(r.Context(), sel.sets...)
		if err != nil {
			return nil, nil, engineError(err)
		}
		out = names
	} else {
		found, err := sel.q.labelsMatching(r.Context(), sel.sets...)
		if err != nil {
			return nil, nil, engineError(err)
		}
		if name == "" {
			out = labelNames(found)
		} else {
			out = labelValues(found, name)
		}
	}
	out, ws := limited(out, sel.limit, sel.q.warn)
	return out, ws, nil
}

func (h *Handler) series(r *http.Request) (any, annotations.Annotations, *apiError) {
	sel, e := h.parseSelection(r)
	if e != nil {
		return nil, nil, e
	}
	if len(sel.sets) == 0 {
		return nil, nil, badData("", errors.New("no match[] parameter provided"))
	}
	found, err := sel.q.labelsMatching(r.Context(), sel.sets...)
	if err != nil {
		return nil, nil, engineError(err)
	}
	if found == nil {
		found = []labels.Labels{}
	}
	found, ws := limited(found, sel.limit, sel.q.warn)
	return found, ws, nil
}

func (h *Handler) metadata(r *http.Request) (any, annotations.Annotations, *apiError) {
	limit := math.MaxInt
	if s := r.Form.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, nil, badData("limit", errors.New("limit must be a number"))
		}
		if n > 0 {
			limit = n
		}
	}
	q := h.q.querier(math.MinInt64, math.MaxInt64)
	if err := q.load(r.Context()); err != nil {
		return nil, nil, engineError(err)
	}
	metric := r.Form.Get("metric")
	var names []string
	for n := range q.families {
		if metric == "" || n == metric {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	names, _ = limited(names, limit, nil)
	out := make(map[string][]family, len(names))
	for _, n := range names {
		out[n] = []family{q.families[n]}
	}
	return out, q.warn, nil
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

func (h *Handler) exemplars(r *http.Request) (any, annotations.Annotations, *apiError) {
	start, end, e := timeRange(r, minTime, maxTime)
	if e != nil {
		return nil, nil, e
	}
	expr, err := h.parser.ParseExpr(r.Form.Get("query"))
	if err != nil {
		return nil, nil, badData("query", err)
	}
	out := []exemplarSeries{}
	sets := parser.ExtractSelectors(expr)
	if len(sets) == 0 {
		return out, nil, nil
	}
	q := h.q.querier(rangeMillis(start, math.MinInt64), rangeMillis(end, math.MaxInt64))
	found, err := q.seriesMatching(r.Context(), sets...)
	if err != nil {
		return nil, nil, engineError(err)
	}
	mint, maxt := start.UnixMilli(), end.UnixMilli()
	for _, s := range found {
		var in []promExemplar
		for _, x := range s.exemplars {
			if x.t >= mint && x.t <= maxt {
				in = append(in, x)
			}
		}
		if len(in) == 0 {
			continue
		}
		// In time order, as Prometheus' exemplar storage keeps them (a
		// point's exemplars come by bucket, not by time).
		slices.SortStableFunc(in, func(a, b promExemplar) int { return cmp.Compare(a.t, b.t) })
		es := make([]exemplarJSON, len(in))
		for i, x := range in {
			es[i] = exemplarJSON{
				Labels:    x.lset,
				Value:     strconv.FormatFloat(x.v, 'f', -1, 64),
				Timestamp: json.Number(strconv.FormatFloat(float64(x.t)/1000, 'f', -1, 64)),
			}
		}
		out = append(out, exemplarSeries{SeriesLabels: s.lset, Exemplars: es})
	}
	out, ws := limited(out, h.cfg.maxSeries, q.warn)
	return out, ws, nil
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

func (h *Handler) buildInfo(*http.Request) (any, annotations.Annotations, *apiError) {
	return map[string]string{
		"version":   PrometheusVersion,
		"revision":  "loupe",
		"branch":    "",
		"buildUser": "",
		"buildDate": "",
		"goVersion": runtime.Version(),
	}, nil, nil
}
