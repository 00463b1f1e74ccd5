//go:build linux

package main

import (
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Issue 10's memory probes as tests, against a real `loupe serve` process
// (BenchmarkReliability gives the figures at full size).

// 100 concurrent unauthenticated 16 MiB OTLP/gRPC calls are refused before
// their messages are read: the server's peak RSS stays within twice idle.
func TestProbeUnauthenticatedGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	p := startProcess(t, buildLoupe(t), "--token", "t0ken", "--data-dir", "")
	idle := p.mem("VmRSS")
	p.resetPeak()
	codes, took := flood(t, p)
	peak := p.mem("VmHWM")
	t.Logf("%v in %v; RSS idle %d MiB, peak %d MiB", codes, took, idle>>20, peak>>20)
	if codes["Unauthenticated"] != 100 {
		t.Errorf("answers %v, want 100 Unauthenticated", codes)
	}
	if peak > 2*idle {
		t.Errorf("peak RSS %d MiB, above twice idle (%d MiB)", peak>>20, idle>>20)
	}
}

// Four searches of 10,000 traces on a full store all answer, with data or
// (two run at once; the others wait 10 s, which a loaded machine under
// -race can exceed) a clear 503, and add little to the memory the store
// holds (at full size in BENCHMARKS.md).
func TestProbeTraceSearches(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const maxSize = 16 << 20
	p := startProcess(t, buildLoupe(t), "--data-dir", "", "--max-size", "16MiB")
	fillTraces(t, p, maxSize)
	full := p.mem("VmRSS")
	p.resetPeak()
	var wg sync.WaitGroup
	var answered atomic.Int32
	for i := range 4 {
		wg.Go(func() {
			client := &http.Client{Timeout: time.Minute}
			resp, err := client.Get("http://" + p.addrs["http"] + "/api/traces?service=fill&limit=10000&lookback=720h")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var answer struct {
				Data   []json.RawMessage
				Errors []any
			}
			err = json.NewDecoder(resp.Body).Decode(&answer)
			switch {
			case resp.StatusCode == http.StatusOK && err == nil && len(answer.Data) > 0:
				answered.Add(1)
			case resp.StatusCode == http.StatusServiceUnavailable && err == nil && len(answer.Errors) > 0:
				t.Logf("search %d: 503 %v", i, answer.Errors)
			default:
				t.Errorf("search %d: %d, %d traces, %v", i, resp.StatusCode, len(answer.Data), err)
			}
		})
	}
	wg.Wait()
	if answered.Load() < 2 { // two run at once
		t.Errorf("%d of four searches answered with data, want two at least", answered.Load())
	}
	peak := p.mem("VmHWM")
	t.Logf("RSS full %d MiB, peak under four searches %d MiB", full>>20, peak>>20)
	if peak > full*3/2 {
		t.Errorf("peak RSS %d MiB under four searches, above 1.5x the full store's %d MiB", peak>>20, full>>20)
	}
}
