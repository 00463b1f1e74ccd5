package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", nil, ""},
		{"all set", map[string]string{"GATEWAY_URL": "http://gateway:8080", "TRAFFIC_RATE": "2.5", "TRAFFIC_FAILURES": "false"}, ""},
		{"bad rate", map[string]string{"TRAFFIC_RATE": "fast"}, "TRAFFIC_RATE"},
		{"zero rate", map[string]string{"TRAFFIC_RATE": "0"}, "TRAFFIC_RATE"},
		{"bad failures", map[string]string{"TRAFFIC_FAILURES": "sometimes"}, "TRAFFIC_FAILURES"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := config(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.env == nil && (tr.GatewayURL != "http://127.0.0.1:8080" || tr.Rate != 5 || tr.NoFailures) {
				t.Errorf("defaults = %+v", tr)
			}
			if tc.env != nil && (tr.GatewayURL != "http://gateway:8080" || tr.Rate != 2.5 || !tr.NoFailures) {
				t.Errorf("config = %+v", tr)
			}
		})
	}
}

// TestRunSendsTraffic runs the command against a stand-in gateway until
// its context ends.
func TestRunSendsTraffic(t *testing.T) {
	var requests atomic.Int64
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	defer gw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	env := map[string]string{"GATEWAY_URL": gw.URL, "TRAFFIC_RATE": "20"}
	if err := run(ctx, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatal(err)
	}
	if n := requests.Load(); n < 10 {
		t.Errorf("the gateway got %d requests in 1.5 s at 20/s", n)
	}
	if !strings.Contains(out.String(), "requests/s to "+gw.URL) {
		t.Errorf("output does not say where the traffic goes:\n%s", out.String())
	}
}
