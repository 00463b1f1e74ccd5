package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/internal/servertest"
)

// TestMetricSpikeToTraceToLogs runs the quickstart against a real `loupe
// serve` backend over OTLP/HTTP and follows Loupe's headline jump through
// the query APIs: a histogram's exemplar gives a trace id and span id, the
// Jaeger API returns that trace with that span, and the log search returns
// that span's logs.
func TestMetricSpikeToTraceToLogs(t *testing.T) {
	srv := servertest.Start(t, server.Config{OTLPHTTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
	otlp, api := srv.Addrs("otlp-http")[0].String(), servertest.URL(srv, "http")

	bin := filepath.Join(t.TempDir(), "quickstart")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	start := time.Now()
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "OTEL_EXPORTER_OTLP_ENDPOINT=http://" + otlp}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}

	get := func(path string, v any) {
		t.Helper()
		resp, err := http.Get(api + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, body)
		}
	}

	// 1. The latency histogram's exemplars.
	var ex struct {
		Data []struct {
			Exemplars []struct {
				Labels map[string]string `json:"labels"`
			} `json:"exemplars"`
		} `json:"data"`
	}
	get(fmt.Sprintf("/api/v1/query_exemplars?query=jobs_fetch_duration_seconds_bucket&start=%d&end=%d",
		start.Add(-time.Minute).Unix(), time.Now().Add(time.Minute).Unix()), &ex)
	var traceID, spanID string
	for _, d := range ex.Data {
		for _, e := range d.Exemplars {
			traceID, spanID = e.Labels["trace_id"], e.Labels["span_id"]
		}
	}
	if traceID == "" || spanID == "" {
		t.Fatalf("no exemplar with trace and span ids: %+v", ex)
	}

	// 2. The exemplar's trace, with its span.
	var tr struct {
		Data []struct {
			Spans []struct {
				SpanID        string `json:"spanID"`
				OperationName string `json:"operationName"`
			} `json:"spans"`
		} `json:"data"`
	}
	get("/api/traces/"+traceID, &tr)
	var op string
	for _, d := range tr.Data {
		for _, s := range d.Spans {
			if s.SpanID == spanID {
				op = s.OperationName
			}
		}
	}
	if op != "process_job" {
		t.Fatalf("trace %s has no process_job span %s: %+v", traceID, spanID, tr)
	}

	// 3. That span's logs.
	var logs struct {
		Logs []struct {
			Body    any    `json:"body"`
			TraceID string `json:"traceId"`
			SpanID  string `json:"spanId"`
		} `json:"logs"`
	}
	get("/api/logs?trace_id="+traceID+"&span_id="+spanID, &logs)
	var bodies []string
	for _, l := range logs.Logs {
		if l.TraceID != traceID || l.SpanID != spanID {
			t.Errorf("log search returned a record of another span: %+v", l)
		}
		bodies = append(bodies, fmt.Sprint(l.Body))
	}
	if !strings.Contains(strings.Join(bodies, "|"), "processing started") {
		t.Errorf("span %s's logs %q lack 'processing started'", spanID, bodies)
	}
}
