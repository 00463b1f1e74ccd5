package apiv3_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// A time range beyond what the store can hold is a clear 400, not an
// empty answer.
func TestOverflowingRange(t *testing.T) {
	srv := server(t)
	for _, q := range []string{
		"query.start_time_min=0001-01-01T00:00:00Z&query.start_time_max=2030-01-01T00:00:00Z",
		"query.start_time_min=2020-01-01T00:00:00Z&query.start_time_max=9999-12-31T00:00:00Z",
	} {
		resp, err := http.Get(srv.URL + "/api/v3/traces?query.service_name=frontend&" + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "outside the times the store can hold") {
			t.Errorf("%s: %d %s, want 400 naming the range", q, resp.StatusCode, body)
		}
	}
}
