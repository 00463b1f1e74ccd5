package prom_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/loupe-dev/loupe/backend/query/prom"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

// platformMetrics is five minutes of a platform like `loupe demo`'s at a
// 5 s export interval: five services, each with histograms (15 bounds,
// the SDK's default), counters and gauges, each over a few attribute sets;
// 2,650 Prometheus series in all, one of which is the HTTP server duration
// histogram the Services home reads.
func platformMetrics(end time.Time) pmetric.Metrics {
	const (
		points     = 60
		interval   = 5 * time.Second
		histograms = 6
		sums       = 24
		gauges     = 10
		attrSets   = 4
	)
	bounds := []float64{0, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}
	start := end.Add(-points * interval)
	at := func(i int) pcommon.Timestamp {
		return pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * interval))
	}
	md := pmetric.NewMetrics()
	for _, svc := range []string{"gateway", "orchestrator", "llm", "tts", "worker"} {
		ms := withResource(md.ResourceMetrics().AppendEmpty(), svc, svc+"-1")
		for h := range histograms {
			m := ms.AppendEmpty()
			m.SetName("http.server.request.duration")
			if h > 0 {
				m.SetName(fmt.Sprintf("app.stage%d.duration", h))
			}
			m.SetUnit("s")
			hist := m.SetEmptyHistogram()
			hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for a := range attrSets {
				for i := range points {
					p := hist.DataPoints().AppendEmpty()
					p.Attributes().PutStr("http.request.method", "POST")
					p.Attributes().PutStr("http.route", fmt.Sprintf("/v1/op%d", a/2))
					p.Attributes().PutInt("http.response.status_code", int64(200+300*(a%2)))
					p.SetStartTimestamp(at(0))
					p.SetTimestamp(at(i))
					p.ExplicitBounds().FromRaw(bounds)
					n := uint64(i + 1)
					for b := range len(bounds) + 1 {
						p.BucketCounts().Append(n * uint64((b+a)%4))
					}
					var count uint64
					for _, c := range p.BucketCounts().AsRaw() {
						count += c
					}
					p.SetCount(count)
					p.SetSum(0.2 * float64(count))
				}
			}
		}
		for c := range sums {
			m := ms.AppendEmpty()
			m.SetName(fmt.Sprintf("app.counter%d", c))
			sum := m.SetEmptySum()
			sum.SetIsMonotonic(true)
			sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			for a := range attrSets {
				for i := range points {
					p := sum.DataPoints().AppendEmpty()
					p.Attributes().PutStr("outcome", strconv.Itoa(a))
					p.SetStartTimestamp(at(0))
					p.SetTimestamp(at(i))
					p.SetIntValue(int64(3 * (i + 1)))
				}
			}
		}
		for g := range gauges {
			m := ms.AppendEmpty()
			m.SetName(fmt.Sprintf("app.gauge%d", g))
			gauge := m.SetEmptyGauge()
			for i := range points {
				p := gauge.DataPoints().AppendEmpty()
				p.SetTimestamp(at(i))
				p.SetDoubleValue(float64(i % 7))
			}
		}
	}
	return md
}

// BenchmarkHomeQueries times the requests of the UI's Services home to
// this handler (instant queries, the metric names, the metadata, the rate
// interval), one by one, on platformMetrics; "one" is the handler's and
// engine's own cost (the query 1), the floor of any query.
//
//	go test ./backend/query/prom -run '^$' -bench HomeQueries -benchmem -count=6
func BenchmarkHomeQueries(b *testing.B) {
	end := time.Now().Truncate(time.Second)
	st := memstore.New(memstore.WithClock(func() time.Time { return end }))
	b.Cleanup(func() { _ = st.Close() })
	if res, err := st.WriteMetrics(context.Background(), platformMetrics(end)); err != nil || res.Rejected != 0 {
		b.Fatalf("write: %v %+v", err, res)
	}
	mux := http.NewServeMux()
	prom.New(st, prom.WithClock(func() time.Time { return end })).RegisterRoutes(mux)
	const f = "http_server_request_duration_seconds"
	at := strconv.FormatInt(end.Unix(), 10)
	query := func(expr string) string { return "/api/v1/query?" + q(expr, "time", at) }
	for _, c := range []struct{ name, path string }{
		{"one", query("1")},
		{"total", query("sum by (job) (increase(" + f + "_count[1h]))")},
		{"errors", query(`sum by (job) (increase(` + f + `_count{http_response_status_code=~"5.."}[1h]))`)},
		{"first", query("min by (job) (min_over_time(timestamp(" + f + "_count)[1h:5s]))")},
		{"p95", query("histogram_quantile(0.95, sum by (job, le) (increase(" + f + "_bucket[1h])))")},
		{"buckets", query("sum by (job, le) (increase(" + f + "_bucket[1h]))")},
		// The Services home's one query for errors, first sample and
		// quantiles (services.js, statsQuery).
		{"stats", query(`label_replace(sum by (job) (increase(` + f + `_count{http_response_status_code=~"5.."}[1h])), "stat", "errors", "", "")` +
			` or label_replace(min by (job) (min_over_time(timestamp(` + f + `_count)[1h:5s])), "stat", "first", "", "")` +
			` or label_replace(histogram_quantile(0.5, sum by (job, le) (increase(` + f + `_bucket[1h]))), "stat", "p0.5", "", "")` +
			` or label_replace(histogram_quantile(0.95, sum by (job, le) (increase(` + f + `_bucket[1h]))), "stat", "p0.95", "", "")` +
			` or label_replace(histogram_quantile(0.99, sum by (job, le) (increase(` + f + `_bucket[1h]))), "stat", "p0.99", "", "")`)},
		{"names", "/api/v1/label/__name__/values"},
		{"metadata", "/api/v1/metadata"},
		{"rate_interval", "/api/v1/rate_interval?" + q(f+"_count", "start", strconv.FormatInt(end.Add(-time.Hour).Unix(), 10), "end", at, "step", "15")},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, c.path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", c.path, rec.Code, rec.Body)
				}
			}
		})
	}
}
