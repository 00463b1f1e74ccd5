package prom_test

import (
	"context"
	"iter"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/query/prom"
	"github.com/loupe-dev/loupe/backend/store"
)

// gatedStore holds every FindSeries until gate is closed, and tells
// entered when one starts.
type gatedStore struct {
	store.Reader
	gate    chan struct{}
	entered chan struct{}
}

func (s gatedStore) FindSeries(ctx context.Context, q store.SeriesQuery) iter.Seq2[*store.Series, error] {
	return func(yield func(*store.Series, error) bool) {
		s.entered <- struct{}{}
		select {
		case <-s.gate:
		case <-ctx.Done():
			yield(nil, ctx.Err())
			return
		}
		for v, err := range s.Reader.FindSeries(ctx, q) {
			if !yield(v, err) {
				return
			}
		}
	}
}

// startGated serves the API with a limit of one query over a gatedStore,
// until t ends.
func startGated(t *testing.T) (gatedStore, *httptest.Server) {
	st := gatedStore{Reader: newFuzzStore(t), gate: make(chan struct{}), entered: make(chan struct{}, 4)}
	mux := http.NewServeMux()
	prom.New(st, prom.WithClock(func() time.Time { return now }), prom.WithMaxConcurrent(1)).RegisterRoutes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return st, srv
}

// With one heavy query running and a limit of one, the next heavy one waits
// for its turn and, when its timeout ends first, gets a 503 timeout; the
// first one then finishes normally.
func TestMaxConcurrent(t *testing.T) {
	st, srv := startGated(t)

	first := make(chan int, 1)
	go func() {
		resp, err := http.Get(srv.URL + "/api/v1/query?" + q(`sum(count_over_time(app_jobs_processed_total[30d]))`))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	select {
	case <-st.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first query never reached the store")
	}

	code, body := get(t, srv, "/api/v1/query?"+q(`sum(count_over_time(queue_size[30d]))`, "timeout", "0.05"))
	if code != http.StatusServiceUnavailable || !strings.Contains(string(body), `"errorType":"timeout"`) || !strings.Contains(string(body), "waiting for one of 1 queries") {
		t.Errorf("second query: %d %s", code, body)
	}

	close(st.gate)
	select {
	case code := <-first:
		if code != http.StatusOK {
			t.Errorf("first query: %d", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the first query never ended")
	}
}

// A light query takes a light slot while one is free, and leaves the query
// slots to heavy ones: with a limit of one and a light query running, a
// heavy one starts at once.
func TestLightQueriesLeaveQuerySlots(t *testing.T) {
	st, srv := startGated(t)

	codes := make(chan int, 2)
	query := func(expr string) {
		resp, err := http.Get(srv.URL + "/api/v1/query?" + q(expr))
		if err != nil {
			codes <- 0
			return
		}
		resp.Body.Close()
		codes <- resp.StatusCode
	}
	for _, expr := range []string{`sum(app_jobs_processed_total)`, `sum(count_over_time(queue_size[30d]))`} {
		go query(expr)
		select {
		case <-st.entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never reached the store while the other query ran", expr)
		}
	}
	close(st.gate)
	for range 2 {
		select {
		case code := <-codes:
			if code != http.StatusOK {
				t.Errorf("query: %d", code)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a query never ended")
		}
	}
}
