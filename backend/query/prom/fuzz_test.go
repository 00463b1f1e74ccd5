package prom_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/query/prom"
)

// Any query, time and step gets a JSON answer in Prometheus' envelope with
// one of the API's status codes; none panics the handler.
func FuzzQuery(f *testing.F) {
	for _, s := range []struct{ query, time, step string }{
		{`sum(rate(http_server_request_duration_seconds_count[5m])) by (http_route)`, "", "15"},
		{`histogram_quantile(0.99, sum(rate(http_server_request_duration_seconds_bucket[5m])) by (le))`, "1795342200", "1m"},
		{`app_jobs_processed_total{job=~"work.*"} offset -1m @ end()`, "2026-11-22T10:10:00Z", "0.5"},
		{`sum(rate(`, "NaN", "-1"},
		{`{__name__=~".*"}[1y:1s]`, "1e300", "1e-9"},
		{`label_replace(up, "a", "$1", "b", "(.*")`, "+Inf", "9223372036854775807"},
	} {
		f.Add(s.query, s.time, s.step)
	}
	h := prom.New(newFuzzStore(f), prom.WithClock(func() time.Time { return now }),
		prom.WithTimeout(200*time.Millisecond), prom.WithMaxSamples(100_000))
	mux := http.NewServeMux()
	h.RegisterRoutes(mux)
	f.Fuzz(func(t *testing.T, query, ts, step string) {
		for _, path := range []string{
			"/api/v1/query?" + url.Values{"query": {query}, "time": {ts}}.Encode(),
			"/api/v1/query_range?" + url.Values{"query": {query}, "start": {ts}, "end": {"1795342200"}, "step": {step}}.Encode(),
			"/api/v1/query_exemplars?" + url.Values{"query": {query}, "start": {ts}}.Encode(),
			"/api/v1/series?" + url.Values{"match[]": {query}, "end": {ts}}.Encode(),
		} {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			switch rec.Code {
			case 200, 400, 422, 503:
			default:
				t.Fatalf("%s: status %d: %s", path, rec.Code, rec.Body)
			}
			var env struct {
				Status    string `json:"status"`
				ErrorType string `json:"errorType"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
				t.Fatalf("%s: not JSON: %v: %s", path, err, rec.Body)
			}
			if (rec.Code == 200) != (env.Status == "success") || (env.Status == "error" && env.ErrorType == "") {
				t.Fatalf("%s: status %d with %s", path, rec.Code, rec.Body)
			}
		}
	})
}
