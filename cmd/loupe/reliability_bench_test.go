//go:build linux

package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/internal/probe"
)

// BenchmarkReliability runs the probes of issue 10 against a real `loupe
// serve` process and reports its memory (VmRSS, and VmHWM, the peak, reset
// before each probe through /proc/<pid>/clear_refs) and answer times.
// See BENCHMARKS.md, RELIABILITY. Run it once:
//
//	go test -run '^$' -bench Reliability -benchtime 1x -timeout 20m ./cmd/loupe
func BenchmarkReliability(b *testing.B) {
	bin := buildLoupe(b)
	for name, args := range map[string][]string{
		"grpc-unauthenticated": {"--token", "t0ken", "--data-dir", ""},
		"grpc-no-token":        {"--data-dir", ""}, // each call is read, then refused as malformed
	} {
		b.Run(name, func(b *testing.B) {
			p := startProcess(b, bin, args...)
			idle := p.mem("VmRSS")
			p.resetPeak()
			codes, took := flood(b, p)
			peak := p.mem("VmHWM")
			b.ReportMetric(float64(idle>>20), "idle-MiB")
			b.ReportMetric(float64(peak>>20), "peak-MiB")
			b.ReportMetric(float64(peak)/float64(idle), "peak/idle")
			b.Logf("100 concurrent 16 MiB calls in %v: %v; RSS idle %d MiB, peak %d MiB", took.Round(time.Millisecond), codes, idle>>20, peak>>20)
		})
	}
	for name, env := range map[string]string{"traces-limit-10000": "", "traces-limit-10000-GOMEMLIMIT=512MiB": "GOMEMLIMIT=512MiB"} {
		b.Run(name, func(b *testing.B) {
			const maxSize = 256 << 20
			if env != "" {
				b.Setenv(strings.Split(env, "=")[0], strings.Split(env, "=")[1])
			}
			p := startProcess(b, bin, "--data-dir", "", "--max-size", "256MiB")
			sent := fillTraces(b, p, maxSize)
			full := p.mem("VmRSS")
			p.resetPeak()
			var wg sync.WaitGroup
			for i := range 4 {
				wg.Go(func() {
					start := time.Now()
					resp, err := http.Get("http://" + p.addrs["http"] + "/api/traces?service=fill&limit=10000&lookback=720h")
					if err != nil {
						b.Error(err)
						return
					}
					n, _ := io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					b.Logf("query %d: %d, %d MiB in %v", i, resp.StatusCode, n>>20, time.Since(start).Round(time.Millisecond))
				})
			}
			wg.Wait()
			peak := p.mem("VmHWM")
			b.ReportMetric(float64(full>>20), "full-MiB")
			b.ReportMetric(float64(peak>>20), "peak-MiB")
			b.ReportMetric(float64(peak)/maxSize, "peak/max-size")
			b.Logf("store filled with %d MiB of OTLP; RSS full %d MiB, peak under 4 queries %d MiB (--max-size 256 MiB)", sent>>20, full>>20, peak>>20)
		})
	}
	b.Run("promql-light-under-heavy", func(b *testing.B) {
		p := startProcess(b, bin, "--data-dir", "", "--max-size", "256MiB")
		now, err := probe.FillMetrics(p.URL("otlp-http"), 24)
		if err != nil {
			b.Fatal(err)
		}
		heavy := url.Values{"query": {`sum(quantile_over_time(0.9, fill_gauge[1d]))`}, "start": {fmt.Sprint(now.Add(-24 * time.Hour).Unix())},
			"end": {fmt.Sprint(now.Unix())}, "step": {"120"}}
		light := url.Values{"query": {"1+1"}, "time": {fmt.Sprint(now.Unix())}}
		api := "http://" + p.addrs["http"]
		alone := timeGet(b, api+"/api/v1/query_range?"+heavy.Encode())
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				// Four on two cores may reach the engine's 30 s timeout: a 503.
				d := timeGet(b, api+"/api/v1/query_range?"+heavy.Encode(), http.StatusServiceUnavailable)
				b.Logf("heavy query %d: %v", i, d.Round(time.Millisecond))
			})
		}
		time.Sleep(alone / 4)
		var worst time.Duration
		for range 5 {
			worst = max(worst, timeGet(b, api+"/api/v1/query?"+light.Encode()))
		}
		wg.Wait()
		b.ReportMetric(float64(alone.Milliseconds()), "heavy-ms")
		b.ReportMetric(float64(worst.Milliseconds()), "light-worst-ms")
		b.Logf("one heavy query alone %v; worst of five 1+1 while four heavy run: %v", alone.Round(time.Millisecond), worst.Round(time.Millisecond))
	})
}

// timeGet GETs u and returns the time of the answer; statuses other than
// 200 and also fail b.
func timeGet(b *testing.B, u string, also ...int) time.Duration {
	start := time.Now()
	resp, err := http.Get(u)
	if err != nil {
		b.Error(err)
		return 0
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && !slices.Contains(also, resp.StatusCode) {
		b.Errorf("%s: %d %.200s", u, resp.StatusCode, body)
	}
	return time.Since(start)
}

// process is a probe.Process whose failures fail b.
type process struct {
	*probe.Process
	b     testing.TB
	addrs map[string]string
}

// startProcess runs `loupe serve` on ephemeral loopback ports with args;
// it is killed when b ends.
func startProcess(b testing.TB, bin string, args ...string) *process {
	p, err := probe.Start(bin, nil, args...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = p.Kill() })
	time.Sleep(500 * time.Millisecond) // settle
	return &process{Process: p, b: b, addrs: p.Addrs}
}

// mem is a field of /proc/<pid>/status in bytes.
func (p *process) mem(field string) int64 {
	n, err := p.Mem(field)
	if err != nil {
		p.b.Fatal(err)
	}
	return n
}

// resetPeak resets VmHWM to the current RSS.
func (p *process) resetPeak() {
	if err := p.ResetPeak(); err != nil {
		p.b.Fatal(err)
	}
}

// flood makes 100 concurrent 16 MiB OTLP/gRPC calls to p (probe.Flood).
func flood(b testing.TB, p *process) (map[string]int, time.Duration) {
	codes, took, err := probe.Flood(p.addrs["otlp-grpc"], 100, 16<<20-64)
	if err != nil {
		b.Fatal(err)
	}
	return codes, took
}

// fillTraces fills p's store of bound maxSize (probe.FillTraces).
func fillTraces(b testing.TB, p *process, maxSize int64) int64 {
	sent, err := probe.FillTraces(p.URL("otlp-http"), 2*maxSize)
	if err != nil {
		b.Fatal(err)
	}
	return sent
}
