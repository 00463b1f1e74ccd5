package prom_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/loupe-dev/loupe/backend/query/prom"
	"github.com/loupe-dev/loupe/internal/exporttest"
)

// process is one run of a service's OpenTelemetry SDK whose exports Loupe
// receives at chosen times, with a job counter and a request duration
// histogram.
type process struct {
	*exporttest.Process
	jobs metric.Int64Counter
	dur  metric.Float64Histogram
}

func newProcess(t *testing.T, srv *httptest.Server, start time.Time, attrs ...attribute.KeyValue) *process {
	t.Helper()
	p := exporttest.NewProcess(t, srv.URL+"/v1/metrics", start, attrs...)
	return &process{
		Process: p,
		jobs:    must(p.Meter.Int64Counter("jobs.started", metric.WithUnit("{job}"))),
		dur: must(p.Meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
			metric.WithExplicitBucketBoundaries(0.05, 0.1, 0.25, 0.5, 1))),
	}
}

// export records n jobs and n requests of 0.2 s, then exports what the SDK
// holds as of at.
func (p *process) export(at time.Time, n int) {
	ctx := context.Background()
	p.jobs.Add(ctx, int64(n))
	for range n {
		p.dur.Record(ctx, 0.2, metric.WithAttributes(attribute.String("http.route", "/work")))
	}
	p.Export(at)
}

// rateIntervalOf asks /api/v1/rate_interval.
func rateIntervalOf(t *testing.T, srv *httptest.Server, query string, start, end time.Time, step time.Duration) (sample float64, window string, series int) {
	t.Helper()
	code, body := get(t, srv, "/api/v1/rate_interval?"+q(query, "start", unixString(start), "end", unixString(end), "step", step.String()))
	var r struct {
		Status string
		Data   struct {
			SampleInterval float64
			RateInterval   string
			Series         int
		}
	}
	if err := json.Unmarshal(body, &r); code != 200 || err != nil || r.Status != "success" {
		t.Fatalf("rate_interval %s: %d %v %s", query, code, err, body)
	}
	return r.Data.SampleInterval, r.Data.RateInterval, r.Data.Series
}

// rangeValues runs a range query and returns the values of its one series
// (none when the result is empty).
func rangeValues(t *testing.T, srv *httptest.Server, query string, start, end time.Time, step time.Duration) []float64 {
	t.Helper()
	code, body := get(t, srv, "/api/v1/query_range?"+q(query, "start", unixString(start), "end", unixString(end), "step", step.String()))
	var r struct {
		Data struct {
			Result []struct{ Values [][2]any }
		}
	}
	if err := json.Unmarshal(body, &r); code != 200 || err != nil || len(r.Data.Result) > 1 {
		t.Fatalf("%s: %d %v %s", query, code, err, body)
	}
	var out []float64
	for _, rs := range r.Data.Result {
		for _, v := range rs.Values {
			out = append(out, must(strconv.ParseFloat(v[1].(string), 64)))
		}
	}
	return out
}

// With the SDK's default export interval of 60 s, a [1m] rate holds one
// sample and draws nothing; the window /api/v1/rate_interval measures from
// the samples draws the rate and the quantiles at every step after the
// first few exports.
func TestSixtySecondExports(t *testing.T) {
	base := time.Now().Add(-20 * time.Minute).Truncate(time.Minute)
	end := base.Add(10 * time.Minute)
	srv, _ := loupeServer(t, end)
	p := newProcess(t, srv, base, attribute.String("service.name", "api"), attribute.String("service.instance.id", "i-1"))
	for i := 1; i <= 10; i++ {
		p.export(base.Add(time.Duration(i)*time.Minute), 30) // 0.5 per second
	}
	start, step := base, 15*time.Second

	if got := rangeValues(t, srv, `sum(rate(jobs_started_total[1m]))`, start, end, step); len(got) != 0 {
		t.Errorf("[1m] over 60 s samples: %d values, want none (or the test shows nothing)", len(got))
	}
	sample, window, series := rateIntervalOf(t, srv, `histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket[5m])))`, start, end, step)
	if sample != 60 || window != "4m" || series != 6 { // 5 bounds and +Inf
		t.Fatalf("rate_interval: sample interval %v s, window %q, %d series; want 60 s, 4m, 6", sample, window, series)
	}
	rates := rangeValues(t, srv, `sum(rate(jobs_started_total[`+window+`]))`, start, end, step)
	// Every step from the first export (t = 1m) on has two samples in 4m:
	// the export and the zero at the process's start time.
	want := int((end.Sub(base)-time.Minute)/step) + 1
	if len(rates) != want {
		t.Fatalf("rate over %s: %d values, want %d", window, len(rates), want)
	}
	// Once the window holds only exports (from t = 5m), the rate is exact;
	// before, rate() extrapolates less than a whole window.
	for _, v := range rates[len(rates)-int(5*time.Minute/step)-1:] {
		if math.Abs(v-0.5) > 1e-9 {
			t.Errorf("rate %v, want 0.5/s", v)
			break
		}
	}
	p95 := rangeValues(t, srv, `histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket[`+window+`])))`, start, end, step)
	if len(p95) < len(rates) {
		t.Errorf("p95 over %s: %d values, want %d", window, len(p95), len(rates))
	}
	for _, v := range p95 {
		if v <= 0.1 || v > 0.25 { // 0.2 lies in the bucket (0.1, 0.25]
			t.Errorf("p95 %v, want within the bucket of 0.2 s", v)
			break
		}
	}

	// A range too short for two samples assumes the SDKs' default interval.
	if sample, window, _ := rateIntervalOf(t, srv, `jobs_started_total`, end.Add(-30*time.Second), end, time.Second); sample != 0 || window != "4m" {
		t.Errorf("one sample: %v s, %q; want 0 and the window of 60 s", sample, window)
	}
	// Long steps widen the window.
	if got := prom.RateInterval(time.Minute, 5*time.Minute); got != 6*time.Minute {
		t.Errorf("RateInterval(1m, 5m) = %v, want 6m", got)
	}
	if got := prom.RateInterval(10*time.Second+300*time.Millisecond, time.Second); got != 42*time.Second {
		t.Errorf("RateInterval(10.3s, 1s) = %v, want 42s", got)
	}
}

// A service restarted without a service.instance.id (here its two runs
// differ only in process.pid, which gives no label) makes two store series
// with the same Prometheus labels: they are one series, the second run's
// counter a reset of the first's, as Prometheus holds them. With distinct
// instance ids they are two series, summed by sum().
func TestRestart(t *testing.T) {
	base := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	end := base.Add(12 * time.Minute)
	for _, tc := range []struct {
		name        string
		first, then string // service.instance.id, none when empty
		series      int
	}{
		{"no instance id", "", "", 1},
		{"same instance id", "i-1", "i-1", 1},
		{"new instance id", "i-1", "i-2", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := loupeServer(t, end)
			run := func(pid int, id string, from time.Time, minutes int) {
				attrs := []attribute.KeyValue{attribute.String("service.name", "worker"), attribute.Int("process.pid", pid)}
				if id != "" {
					attrs = append(attrs, attribute.String("service.instance.id", id))
				}
				p := newProcess(t, srv, from, attrs...)
				for i := 1; i <= minutes; i++ {
					p.export(from.Add(time.Duration(i)*time.Minute), 60) // 1 per second
				}
			}
			run(100, tc.first, base, 5)                   // exports at 1m..5m
			run(200, tc.then, base.Add(6*time.Minute), 6) // restarted: exports at 7m..12m

			if got := instant(t, srv, `count(count_over_time(jobs_started_total[20m]))`, ""); got[""] != float64(tc.series) {
				t.Errorf("series: %v, want %d", got, tc.series)
			}
			if got := instant(t, srv, `sum(count_over_time(jobs_started_total[20m]))`, ""); got[""] != 13 {
				t.Errorf("samples: %v, want the 11 exports of both runs and a zero at each run's start", got)
			}
			// The new run's rate at the end, 1/s; the old run's data hid it.
			if got := instant(t, srv, `sum(rate(jobs_started_total[4m]))`, ""); math.Abs(got[""]-1) > 0.01 {
				t.Errorf("rate at the end: %v, want 1/s", got)
			}
			// Over both runs: 5 and 6 minutes of 60 a minute, the first
			// minute of each included (it counts from the run's start time);
			// increase() extrapolates within 5%.
			if got := instant(t, srv, `sum(increase(jobs_started_total[20m]))`, ""); math.Abs(got[""]-660) > 33 {
				t.Errorf("increase over both runs: %v, want 660 ± 5%%", got)
			}
			sample, window, _ := rateIntervalOf(t, srv, `jobs_started_total`, base, end, 15*time.Second)
			if sample != 60 || window != "4m" {
				t.Errorf("rate_interval across the restart gap: %v s, %q; want 60 s, 4m", sample, window)
			}
			// The histogram's buckets merge the same way.
			if got := instant(t, srv, `sum(http_server_request_duration_seconds_count)`, ""); got[""] != 360 && tc.series == 1 {
				t.Errorf("request count at the end: %v, want the new run's 360", got)
			}
		})
	}
}
