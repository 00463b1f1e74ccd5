package ui_test

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/loupe-dev/loupe/internal/exporttest"
	"github.com/loupe-dev/loupe/internal/servertest"
)

// TestBrowserSixtySecondExports: the metrics view on a service exported at
// the SDK's default interval of 60 s and restarted once, as a first-time
// user's `go run` twice makes it. Fifty minutes of exports are sent at once
// with past timestamps through the SDK's OTLP exporter. The p95 and the
// rate the view suggests use the window /api/v1/rate_interval measures (a
// [1m] one held one sample and drew nothing) and draw a line, and after
// the restart, whose service.instance.id is new and every other label the
// same, the line is the new process's.
func TestBrowserSixtySecondExports(t *testing.T) {
	browser := newBrowser(t)
	srv := startServer(t, "")
	api := servertest.URL(srv, "http")
	base := time.Now().Add(-50 * time.Minute).Truncate(time.Minute)
	run := func(instance string, from time.Time, minutes, perMinute int, latency float64) {
		p := exporttest.NewProcess(t, servertest.URL(srv, "otlp-http")+"/v1/metrics", from,
			semconv.ServiceName("api"), semconv.ServiceInstanceID(instance))
		dur, err := p.Meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
			metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10))
		if err != nil {
			t.Fatal(err)
		}
		attrs := metric.WithAttributes(attribute.String("http.request.method", "GET"), attribute.String("http.route", "/work"),
			attribute.Int("http.response.status_code", 200))
		for i := 1; i <= minutes; i++ {
			for range perMinute {
				dur.Record(context.Background(), latency, attrs)
			}
			p.Export(from.Add(time.Duration(i) * time.Minute))
		}
	}
	run("run-1", base, 20, 30, 0.2)                     // exports at 1m..20m: 0.5 requests/s of 0.2 s
	run("run-2", base.Add(22*time.Minute), 26, 60, 0.8) // restarted: 23m..48m, 1/s of 0.8 s
	after, restarted := base.Add(15*time.Minute), base.Add(47*time.Minute)

	tb := newTab(t, browser, api)
	window := regexp.MustCompile(`\[(\w+)\]`)
	for _, tc := range []struct {
		name, metric, chip string
		before, then       func(float64) bool // the value at 15m and at 47m
	}{
		{"p95", serverName + "_bucket", "",
			func(v float64) bool { return v > 0.1 && v <= 0.25 }, func(v float64) bool { return v > 0.75 && v <= 1 }},
		{"rate", serverName + "_count", `sum(rate(`,
			func(v float64) bool { return math.Abs(v-0.5) < 0.05 }, func(v float64) bool { return math.Abs(v-1) < 0.05 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb.T = t
			tb.Open("#/metrics?range=1h&metric=" + tc.metric)
			if tc.chip != "" {
				tb.WaitFor("the suggestions", `document.querySelector('.suggestions a[title^="`+tc.chip+`"]')`)
				tb.Do(chromedp.Click(chromedp.CSS(`.suggestions a[title^="` + tc.chip + `"]`)))
			}
			tb.WaitFor("the chart's line", `document.getElementById('query-input')?.value.includes('`+tc.metric+`[') && document.querySelector('svg.chart g.series path')?.getAttribute('d')`)
			q := tb.Str(`document.getElementById('query-input').value`)
			m := window.FindStringSubmatch(q)
			if m == nil || m[1] != "4m" {
				t.Errorf("query %q: want the window of 60 s samples, 4m", q)
			}
			// A line: points joined, not dots.
			var lines, moves int
			tb.Eval(`(document.querySelector('svg.chart g.series path').getAttribute('d').match(/L/g) || []).length`, &lines)
			tb.Eval(`(document.querySelector('svg.chart g.series path').getAttribute('d').match(/M/g) || []).length`, &moves)
			if lines < 100 || moves > 2 {
				t.Errorf("the chart's path has %d segments in %d pieces: want a line over most of the 240 steps", lines, moves)
			}
			if got := tb.Str(`document.getElementById('no-samples')?.textContent`); got != "" {
				t.Errorf("the view says %q", got)
			}
			// The query the view runs, before and after the restart.
			if v := instantValue(t, api, q, after); !tc.before(v) {
				t.Errorf("%s at 15m, before the restart: %v", q, v)
			}
			if v := instantValue(t, api, q, restarted); !tc.then(v) {
				t.Errorf("%s at 47m, after the restart: %v, want the new process's", q, v)
			}
			tb.Screenshot("sixty-seconds-" + tc.name)
			tb.NoErrors()
		})
	}
}

// instantValue runs an instant query that returns one series and returns
// its value.
func instantValue(t *testing.T, api, query string, at time.Time) float64 {
	t.Helper()
	resp, err := http.Get(api + "/api/v1/query?" + url.Values{"query": {query}, "time": {strconv.FormatInt(at.Unix(), 10)}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Result []struct{ Value [2]any }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 || len(r.Data.Result) != 1 {
		t.Fatalf("%s: %d %v %+v", query, resp.StatusCode, err, r)
	}
	s, _ := r.Data.Result[0].Value[1].(string)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%s: value %q", query, s)
	}
	return v
}
