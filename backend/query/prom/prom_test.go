package prom_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/internal/golden"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/goleak"

	"github.com/loupe-dev/loupe/backend/query/prom"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The fixture's points are every step for steps+1 steps from base; the
// clock stands at the last point.
var (
	base  = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	step  = 15 * time.Second
	steps = 40
	now   = base.Add(time.Duration(steps) * step)
)

func ts(i int) pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(base.Add(time.Duration(i) * step))
}

var bounds = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1}

// histSeries is one stream of http.server.request.duration: per step, its
// buckets grow by inc (one count per bucket, len(bounds)+1 of them) and its
// sum by sumInc.
type histSeries struct {
	route, status string
	inc           []uint64
	sumInc        float64
}

var httpSeries = []histSeries{
	{"/cart", "200", []uint64{2, 3, 1, 0, 0, 0, 0, 0, 0}, 0.06},
	{"/pay", "500", []uint64{0, 0, 0, 0, 1, 1, 0, 0, 0}, 0.4},
	{"/pay", "200", []uint64{0, 0, 1, 1, 0, 0, 0, 0, 0}, 0.07},
}

func countOf(inc []uint64) (n uint64) {
	for _, c := range inc {
		n += c
	}
	return n
}

// jobsPerStep is what app.jobs.processed counts each step.
const jobsPerStep = 3

func withResource(rm pmetric.ResourceMetrics, service, instance string) pmetric.MetricSlice {
	rm.Resource().Attributes().PutStr("service.name", service)
	rm.Resource().Attributes().PutStr("service.instance.id", instance)
	rm.Resource().Attributes().PutStr("host.name", "host-of-"+service)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("loupe.test/metrics")
	sm.Scope().SetVersion("1.0")
	return sm.Metrics()
}

// fixture builds the metrics of two services: checkout reports cumulative
// data, worker delta data, and worker-cumulative the same counts as worker
// but cumulative.
func fixture() pmetric.Metrics {
	md := pmetric.NewMetrics()

	checkout := withResource(md.ResourceMetrics().AppendEmpty(), "checkout", "i-1")
	h := checkout.AppendEmpty()
	h.SetName("http.server.request.duration")
	h.SetUnit("s")
	h.SetDescription("Duration of HTTP server requests.")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for si, s := range httpSeries {
		for i := 0; i <= steps; i++ {
			p := hist.DataPoints().AppendEmpty()
			p.Attributes().PutStr("http.request.method", "GET")
			p.Attributes().PutStr("http.route", s.route)
			p.Attributes().PutInt("http.response.status_code", int64(must(strconv.Atoi(s.status))))
			p.SetStartTimestamp(ts(0))
			p.SetTimestamp(ts(i))
			p.ExplicitBounds().FromRaw(bounds)
			n := uint64(i + 1)
			for _, c := range s.inc {
				p.BucketCounts().Append(c * n)
			}
			p.SetCount(countOf(s.inc) * n)
			p.SetSum(s.sumInc * float64(n))
			if si == 0 {
				// A new exemplar every 10 steps, repeated on every point
				// until then, as the SDK's cumulative exports repeat it.
				k := i - i%10
				e := p.Exemplars().AppendEmpty()
				e.SetDoubleValue(0.003)
				e.SetTimestamp(ts(k))
				e.SetTraceID(pcommon.TraceID{15: byte(k + 1)})
				e.SetSpanID(pcommon.SpanID{7: byte(k + 1)})
				e.FilteredAttributes().PutStr("user.id", "u1")
			}
		}
	}

	g := checkout.AppendEmpty()
	g.SetName("system.memory.usage")
	g.SetUnit("By")
	gauge := g.SetEmptyGauge()
	for i := 0; i <= steps; i += 10 {
		p := gauge.DataPoints().AppendEmpty()
		p.SetTimestamp(ts(i))
		p.SetIntValue(int64(1000 + i))
	}

	q := checkout.AppendEmpty()
	q.SetName("queue.size")
	q.SetUnit("{item}")
	qs := q.SetEmptySum()
	qs.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	qs.SetIsMonotonic(false)
	for i := 0; i <= steps; i += 10 {
		p := qs.DataPoints().AppendEmpty()
		p.SetTimestamp(ts(i))
		p.SetIntValue(int64(i % 7))
	}

	for _, svc := range []struct {
		name string
		temp pmetric.AggregationTemporality
	}{
		{"worker", pmetric.AggregationTemporalityDelta},
		{"worker-cumulative", pmetric.AggregationTemporalityCumulative},
	} {
		ms := withResource(md.ResourceMetrics().AppendEmpty(), svc.name, "w-1")
		c := ms.AppendEmpty()
		c.SetName("app.jobs.processed")
		c.SetUnit("{job}")
		sum := c.SetEmptySum()
		sum.SetIsMonotonic(true)
		sum.SetAggregationTemporality(svc.temp)
		d := ms.AppendEmpty()
		d.SetName("rpc.client.duration")
		d.SetUnit("ms")
		dh := d.SetEmptyHistogram()
		dh.SetAggregationTemporality(svc.temp)
		for i := 0; i <= steps; i++ {
			p := sum.DataPoints().AppendEmpty()
			p.SetTimestamp(ts(i))
			hp := dh.DataPoints().AppendEmpty()
			hp.SetTimestamp(ts(i))
			hp.ExplicitBounds().FromRaw([]float64{10, 100})
			n := uint64(1)
			if svc.temp == pmetric.AggregationTemporalityDelta {
				p.SetStartTimestamp(ts(i - 1))
				hp.SetStartTimestamp(ts(i - 1))
			} else {
				p.SetStartTimestamp(ts(-1))
				hp.SetStartTimestamp(ts(-1))
				n = uint64(i + 1)
			}
			p.SetIntValue(int64(jobsPerStep * n))
			hp.BucketCounts().FromRaw([]uint64{1 * n, 2 * n, 1 * n})
			hp.SetCount(4 * n)
			hp.SetSum(150 * float64(n))
		}
	}
	return md
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// newFuzzStore is a store holding the fixture, written through the store's
// own WriteMetrics.
func newFuzzStore(t testing.TB) *memstore.Store {
	t.Helper()
	st := memstore.New(memstore.WithClock(func() time.Time { return now }))
	t.Cleanup(func() { _ = st.Close() })
	res, err := st.WriteMetrics(context.Background(), fixture())
	if err != nil || res.Rejected != 0 {
		t.Fatalf("write: %v %+v", err, res)
	}
	return st
}

// newServer serves the fixture through the handler built with opts.
func newServer(t testing.TB, opts ...prom.Option) *httptest.Server {
	t.Helper()
	st := newFuzzStore(t)
	mux := http.NewServeMux()
	prom.New(st, append([]prom.Option{prom.WithClock(func() time.Time { return now })}, opts...)...).RegisterRoutes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t testing.TB, srv *httptest.Server, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: content type %q", path, ct)
	}
	return resp.StatusCode, body
}

func q(query string, params ...string) string {
	v := url.Values{"query": {query}}
	for i := 0; i+1 < len(params); i += 2 {
		v.Add(params[i], params[i+1])
	}
	return v.Encode()
}

var (
	nowS   = unixString(now)
	startS = unixString(now.Add(-2 * time.Minute))
)

func unixString(t time.Time) string { return json.Number(must(json.Marshal(t.Unix()))).String() }

// Every response shape, against golden files in testdata/.
func TestGolden(t *testing.T) {
	srv := newServer(t)
	small := newServer(t, prom.WithMaxSeries(2))
	tiny := newServer(t, prom.WithMaxSamples(10))
	for _, tc := range []struct {
		name string
		srv  *httptest.Server
		path string
		code int
	}{
		{"query-vector", srv, "/api/v1/query?" + q(`sum(rate(http_server_request_duration_seconds_count[5m])) by (http_route)`), 200},
		{"query-error-rate", srv, "/api/v1/query?" + q(`sum(rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m])) / sum(rate(http_server_request_duration_seconds_count[5m]))`), 200},
		{"query-quantile", srv, "/api/v1/query?" + q(`histogram_quantile(0.99, sum(rate(http_server_request_duration_seconds_bucket[5m])) by (le))`), 200},
		{"query-delta", srv, "/api/v1/query?" + q(`sum(rate(app_jobs_processed_total[5m])) by (job)`), 200},
		{"query-target-info", srv, "/api/v1/query?" + q(`sum by (job, instance) (rate(app_jobs_processed_total[5m])) * on (job, instance) group_left (host_name) target_info`), 200},
		{"query-gauge", srv, "/api/v1/query?" + q(`system_memory_usage_bytes`, "time", nowS), 200},
		{"query-scalar", srv, "/api/v1/query?" + q(`1 + 2`, "time", nowS), 200},
		{"query-string", srv, "/api/v1/query?" + q(`"loupe"`, "time", nowS), 200},
		{"query-range", srv, "/api/v1/query_range?" + q(`sum(rate(http_server_request_duration_seconds_count[1m])) by (http_route)`, "start", startS, "end", nowS, "step", "60"), 200},
		{"query-range-delta-histogram", srv, "/api/v1/query_range?" + q(`rpc_client_duration_milliseconds_bucket{job="worker"}`, "start", startS, "end", nowS, "step", "1m"), 200},
		{"labels", srv, "/api/v1/labels", 200},
		{"labels-match", srv, "/api/v1/labels?" + url.Values{"match[]": {"app_jobs_processed_total"}}.Encode(), 200},
		{"label-names", srv, "/api/v1/label/__name__/values", 200},
		{"label-route", srv, "/api/v1/label/http_route/values?start=" + startS + "&end=" + nowS, 200},
		{"series", srv, "/api/v1/series?" + url.Values{"match[]": {`{__name__=~"http_.*_count"}`, `queue_size`}}.Encode(), 200},
		{"series-limit", srv, "/api/v1/series?" + url.Values{"match[]": {`{job="worker"}`}, "limit": {"2"}}.Encode(), 200},
		{"metadata", srv, "/api/v1/metadata", 200},
		{"metadata-one", srv, "/api/v1/metadata?metric=app_jobs_processed_total", 200},
		{"exemplars", srv, "/api/v1/query_exemplars?" + q(`histogram_quantile(0.99, sum(rate(http_server_request_duration_seconds_bucket[5m])) by (le))`, "start", unixString(base), "end", nowS), 200},
		{"exemplars-none", srv, "/api/v1/query_exemplars?" + q(`queue_size`), 200},
		{"buildinfo", srv, "/api/v1/status/buildinfo", 200},

		{"bad-promql", srv, "/api/v1/query?" + q(`sum(rate(http_server_request_duration_seconds_count[5m]) by (http_route)`), 400},
		{"bad-time", srv, "/api/v1/query?" + q(`up`, "time", "yesterday"), 400},
		{"bad-timeout", srv, "/api/v1/query?" + q(`up`, "timeout", "-1s"), 400},
		{"range-no-step", srv, "/api/v1/query_range?" + q(`up`, "start", startS, "end", nowS), 400},
		{"range-backwards", srv, "/api/v1/query_range?" + q(`up`, "start", nowS, "end", startS, "step", "15"), 400},
		{"range-too-many-points", srv, "/api/v1/query_range?" + q(`up`, "start", "0", "end", nowS, "step", "1"), 400},
		{"series-no-match", srv, "/api/v1/series", 400},
		{"series-bad-match", srv, "/api/v1/series?match[]=" + url.QueryEscape(`{job=}`), 400},
		{"exemplars-bad-query", srv, "/api/v1/query_exemplars?" + q(`rate(`), 400},
		{"label-bad-name", srv, "/api/v1/label/" + url.PathEscape("a\xffb") + "/values", 400},
		{"too-many-series", small, "/api/v1/query?" + q(`http_server_request_duration_seconds_count`), 422},
		{"too-many-samples", tiny, "/api/v1/query?" + q(`sum(rate(app_jobs_processed_total{job="worker"}[5m]))`), 422},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, tc.srv, tc.path)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, body)
			}
			// The Go version is the only part that varies between builds.
			body = bytes.ReplaceAll(body, []byte(runtime.Version()), []byte("GO_VERSION"))
			golden.JSON(t, tc.name, body)
		})
	}
}

// POST with a form body answers as GET does.
func TestPostForm(t *testing.T) {
	srv := newServer(t)
	query := `sum(rate(http_server_request_duration_seconds_count[5m])) by (http_route)`
	_, want := get(t, srv, "/api/v1/query?"+q(query))
	resp, err := http.PostForm(srv.URL+"/api/v1/query", url.Values{"query": {query}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !bytes.Equal(got, want) {
		t.Errorf("POST: %d %s\nGET: %s", resp.StatusCode, got, want)
	}
}

type vectorResult struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
}

// instant runs an instant query at now and returns the vector's values
// keyed by the value of label by ("" when by is empty).
func instant(t *testing.T, srv *httptest.Server, query, by string) map[string]float64 {
	t.Helper()
	code, body := get(t, srv, "/api/v1/query?"+q(query))
	if code != 200 {
		t.Fatalf("%s: %d %s", query, code, body)
	}
	var r vectorResult
	if err := json.Unmarshal(body, &r); err != nil || r.Data.ResultType != "vector" {
		t.Fatalf("%s: %v %s", query, err, body)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		v, err := strconv.ParseFloat(s.Value[1].(string), 64)
		if err != nil {
			t.Fatal(err)
		}
		out[s.Metric[by]] = v
	}
	return out
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// The three panels of a service dashboard compute what the fixture implies.
func TestDashboardQueries(t *testing.T) {
	srv := newServer(t)
	stepS := step.Seconds()

	wantRate := map[string]float64{}
	var total, errs float64
	perBucket := make([]float64, len(bounds)+1)
	for _, s := range httpSeries {
		r := float64(countOf(s.inc)) / stepS
		wantRate[s.route] += r
		total += r
		if strings.HasPrefix(s.status, "5") {
			errs += r
		}
		for i, c := range s.inc {
			perBucket[i] += float64(c) / stepS
		}
	}
	got := instant(t, srv, `sum(rate(http_server_request_duration_seconds_count[5m])) by (http_route)`, "http_route")
	if len(got) != len(wantRate) {
		t.Errorf("request rate: got %v, want %v", got, wantRate)
	}
	for route, want := range wantRate {
		if !near(got[route], want) {
			t.Errorf("request rate of %s: got %v, want %v", route, got[route], want)
		}
	}

	got = instant(t, srv, `sum(rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[5m])) / sum(rate(http_server_request_duration_seconds_count[5m]))`, "")
	if !near(got[""], errs/total) {
		t.Errorf("error rate: got %v, want %v", got[""], errs/total)
	}

	// The 0.99 quantile interpolates linearly inside the bucket that holds it.
	rank := 0.99 * total
	var below, want float64
	for i, r := range perBucket {
		if below+r >= rank {
			lower := 0.0
			if i > 0 {
				lower = bounds[i-1]
			}
			want = lower + (bounds[i]-lower)*(rank-below)/r
			break
		}
		below += r
	}
	got = instant(t, srv, `histogram_quantile(0.99, sum(rate(http_server_request_duration_seconds_bucket[5m])) by (le))`, "")
	if !near(got[""], want) {
		t.Errorf("p99: got %v, want %v", got[""], want)
	}
}

// Delta sums and histograms are accumulated: rate() and increase() give
// the same answers as for the same counts sent cumulatively.
func TestDeltaMatchesCumulative(t *testing.T) {
	srv := newServer(t)
	for _, query := range []string{
		`sum(rate(app_jobs_processed_total[5m])) by (job)`,
		`sum(increase(app_jobs_processed_total[2m])) by (job)`,
		`sum(rate(rpc_client_duration_milliseconds_count[5m])) by (job)`,
		`histogram_quantile(0.5, sum(rate(rpc_client_duration_milliseconds_bucket[5m])) by (le, job))`,
		`sum(rate(rpc_client_duration_milliseconds_sum[5m])) by (job)`,
	} {
		got := instant(t, srv, query, "job")
		if len(got) != 2 {
			t.Fatalf("%s: want the two workers, got %v", query, got)
		}
		if !near(got["worker"], got["worker-cumulative"]) || got["worker"] == 0 {
			t.Errorf("%s: delta %v, cumulative %v", query, got["worker"], got["worker-cumulative"])
		}
	}
	got := instant(t, srv, `sum(rate(app_jobs_processed_total[5m])) by (job)`, "job")
	if want := jobsPerStep / step.Seconds(); !near(got["worker"], want) {
		t.Errorf("rate of the delta counter: got %v, want %v", got["worker"], want)
	}
}

// Exemplars carry the trace and span ids of the stored exemplars, on the
// bucket that holds their value, each once however many cumulative points
// repeat it, in time order.
func TestExemplars(t *testing.T) {
	srv := newServer(t)
	code, body := get(t, srv, "/api/v1/query_exemplars?"+q(`http_server_request_duration_seconds_bucket{http_route="/cart"}`, "start", unixString(base), "end", nowS))
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var r struct {
		Data []struct {
			SeriesLabels map[string]string `json:"seriesLabels"`
			Exemplars    []struct {
				Labels    map[string]string `json:"labels"`
				Value     string            `json:"value"`
				Timestamp float64           `json:"timestamp"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Data) != 1 || r.Data[0].SeriesLabels["le"] != "0.005" {
		t.Fatalf("want the le=0.005 bucket only: %s", body)
	}
	es := r.Data[0].Exemplars
	if want := steps/10 + 1; len(es) != want {
		t.Fatalf("%d exemplars, want %d", len(es), want)
	}
	for n, e := range es {
		i := int(math.Round((e.Timestamp - float64(base.Unix())) / step.Seconds()))
		if i != n*10 {
			t.Errorf("exemplar %d is from step %d, want %d", n, i, n*10)
		}
		if want := (pcommon.TraceID{15: byte(i + 1)}).String(); e.Labels["trace_id"] != want {
			t.Errorf("trace_id %q, want %q", e.Labels["trace_id"], want)
		}
		if want := (pcommon.SpanID{7: byte(i + 1)}).String(); e.Labels["span_id"] != want {
			t.Errorf("span_id %q, want %q", e.Labels["span_id"], want)
		}
		if e.Labels["user_id"] != "u1" || e.Value != "0.003" {
			t.Errorf("exemplar %+v", e)
		}
	}
}

// The metric names, which the handler lists without working out any
// series' labels, are those of the series themselves, with and without a
// selection on the name.
func TestNameValuesMatchSeries(t *testing.T) {
	srv := newServer(t)
	for _, match := range []string{`{__name__=~".+"}`, `{__name__=~"http_.*|queue_size"}`, `{__name__!="queue_size",__name__=~".*_(bucket|count)"}`} {
		_, body := get(t, srv, "/api/v1/series?"+url.Values{"match[]": {match}}.Encode())
		var series struct{ Data []map[string]string }
		if err := json.Unmarshal(body, &series); err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, s := range series.Data {
			want = append(want, s["__name__"])
		}
		slices.Sort(want)
		want = slices.Compact(want)
		path := "/api/v1/label/__name__/values"
		if match != `{__name__=~".+"}` {
			path += "?" + url.Values{"match[]": {match}}.Encode()
		}
		_, body = get(t, srv, path)
		var names struct{ Data []string }
		if err := json.Unmarshal(body, &names); err != nil {
			t.Fatal(err)
		}
		if len(want) < 2 || !slices.Equal(names.Data, want) {
			t.Errorf("%s: names %q, the series' %q", match, names.Data, want)
		}
	}
}
