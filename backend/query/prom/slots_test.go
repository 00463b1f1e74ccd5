package prom_test

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/query/prom"
	"github.com/loupe-dev/loupe/backend/store"
)

// heavyGate holds the FindSeries of queries reading more than a day back
// until gate is closed, and tells entered when one starts.
type heavyGate struct {
	store.Reader
	gate    chan struct{}
	entered chan struct{}
}

func (s heavyGate) FindSeries(ctx context.Context, q store.SeriesQuery) iter.Seq2[*store.Series, error] {
	if q.StartMin.IsZero() || q.StartMin.After(now.Add(-48*time.Hour)) {
		return s.Reader.FindSeries(ctx, q)
	}
	return gatedStore(s).FindSeries(ctx, q)
}

// Four heavy queries holding every query slot leave light ones (no
// selector, or a short window) answering at once; a fifth heavy one waits
// and times out.
func TestLightQueriesNotStarved(t *testing.T) {
	st := heavyGate{Reader: newFuzzStore(t), gate: make(chan struct{}), entered: make(chan struct{}, 8)}
	mux := http.NewServeMux()
	prom.New(st, prom.WithClock(func() time.Time { return now }), prom.WithMaxConcurrent(4)).RegisterRoutes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	const heavy = 4
	codes := make(chan int, heavy)
	for range heavy {
		go func() {
			resp, err := http.Get(srv.URL + "/api/v1/query?" + q(`sum(count_over_time(app_jobs_processed_total[30d]))`))
			if err != nil {
				codes <- 0
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for range heavy {
		select {
		case <-st.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the heavy queries never reached the store")
		}
	}
	for _, light := range []string{`1+1`, `sum(queue_size)`, `sum(rate(app_jobs_processed_total[5m]))`} {
		start := time.Now()
		code, body := get(t, srv, "/api/v1/query?"+q(light))
		if d := time.Since(start); code != http.StatusOK || d > time.Second {
			t.Errorf("%s while %d heavy queries run: %d in %v, want 200 under 1 s: %s", light, heavy, code, d, body)
		}
	}
	code, body := get(t, srv, "/api/v1/query?"+q(`count_over_time(queue_size[10d])`, "timeout", "0.1"))
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), "waiting for one of 4 queries") {
		t.Errorf("a fifth heavy query: %d %s, want 503 waiting", code, body)
	}
	close(st.gate)
	for range heavy {
		if code := <-codes; code != http.StatusOK {
			t.Errorf("heavy query: %d", code)
		}
	}
}

// Queries answered at once do not share points: each answer is rendered
// before its query hands its points back to the engine (a data race under
// -race, and wrong numbers, before).
func TestConcurrentAnswers(t *testing.T) {
	mux := http.NewServeMux()
	prom.New(newFuzzStore(t), prom.WithClock(func() time.Time { return now })).RegisterRoutes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	path := "/api/v1/query_range?" + q(`sum by (job) (rate(app_jobs_processed_total[5m]))`,
		"start", strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), "end", strconv.FormatInt(now.Unix(), 10), "step", "60")
	_, want := get(t, srv, path)
	done := make(chan string, 6)
	for range 6 {
		go func() {
			for range 10 {
				if code, body := get(t, srv, path); code != http.StatusOK || string(body) != string(want) {
					done <- fmt.Sprintf("%d %.200s", code, body)
					return
				}
			}
			done <- ""
		}()
	}
	for range 6 {
		if d := <-done; d != "" {
			t.Errorf("a concurrent answer differs: %s", d)
		}
	}
}
