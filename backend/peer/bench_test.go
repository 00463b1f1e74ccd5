package peer_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/store/storetest"
	"github.com/loupe-dev/loupe/internal/peertest"
)

// The benchmarks here measure Loupe's backend side by side with Jaeger v2's
// memory store in the same run, both as separate processes fed over
// OTLP/HTTP by a load client that replays pre-encoded 512-span batches and
// waits for each answer (telemetrygen is CPU-bound on 2 cores). Server CPU
// comes from /proc/<pid>/stat, memory from /proc/<pid>/status. See
// BENCHMARKS.md for the command and the figures.

const (
	batchSpans = storetest.LoadBatchSpans
	services   = storetest.LoadServices
	operations = storetest.LoadOperations
)

// batches pre-encodes n OTLP/protobuf export requests of the benchmark load
// (storetest.LoadTraces), every trace id unique across all of them.
func batches(tb testing.TB, n int, start time.Time) [][]byte {
	tb.Helper()
	out, err := storetest.LoadRequests(n, start)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// target is a running backend process under load.
type target struct {
	name     string
	pid      int
	otlpHTTP string // host:port
	query    string // base URL of the Jaeger query API
}

func startJaegerTarget(tb testing.TB) target {
	jq, jg, jotlp, jhttp := peertest.FreeAddr(tb), peertest.FreeAddr(tb), peertest.FreeAddr(tb), peertest.FreeAddr(tb)
	cfg := strings.Replace(peertest.Fill(peertest.JaegerConfig, map[string]string{"QUERY_HTTP": jq, "QUERY_GRPC": jg, "OTLP_GRPC": jotlp}),
		"      grpc:\n        endpoint: "+jotlp, "      grpc:\n        endpoint: "+jotlp+"\n      http:\n        endpoint: "+jhttp, 1)
	cfg = strings.Replace(cfg, "max_traces: 100000", "max_traces: 10000000", 1)
	pid := peertest.Start(tb, "jaeger", peertest.Binary(tb, "jaeger"), nil, "--config", peertest.WriteFile(tb, "jaeger.yaml", cfg))
	t := target{name: "jaeger", pid: pid, otlpHTTP: jhttp, query: "http://" + jq}
	waitReady(tb, t)
	return t
}

func startLoupeTarget(tb testing.TB, name, dataDir string, env ...string) target {
	otlp, api := peertest.FreeAddr(tb), peertest.FreeAddr(tb)
	pid := peertest.Start(tb, name, peertest.BuildLoupe(tb), env, "serve", "--otlp-grpc", "", "--otlp-http", otlp, "--http", api,
		"--data-dir", dataDir, "--max-size", "16GiB", "--retention", "24h")
	t := target{name: name, pid: pid, otlpHTTP: otlp, query: "http://" + api}
	waitReady(tb, t)
	return t
}

func waitReady(tb testing.TB, t target) {
	peertest.WaitFor(tb, 90*time.Second, t.name+"'s query API", func() bool {
		code, _, err := peertest.Get(t.query + "/api/services")
		return err == nil && code == http.StatusOK
	})
}

// send posts every batch, one at a time per client, waiting for each answer
// and reading it to the end, as OTLP exporters do: a response body closed
// unread makes net/http drop the connection, and every request would then
// pay for a new one on both sides.
func send(tb testing.TB, t target, data [][]byte, clients int) {
	tb.Helper()
	c := &http.Client{Timeout: time.Minute}
	url := "http://" + t.otlpHTTP + "/v1/traces"
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(data); i += clients {
				resp, err := c.Post(url, "application/x-protobuf", bytes.NewReader(data[i]))
				if err != nil {
					errs <- err
					return
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil {
					errs <- err
					return
				}
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("%s answered %d", t.name, resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(tb testing.TB, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

func rss(tb testing.TB, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

func targets() map[string]func(testing.TB) target {
	return map[string]func(testing.TB) target{
		"jaeger":     startJaegerTarget,
		"loupe-mem":  func(tb testing.TB) target { return startLoupeTarget(tb, "loupe-mem", "") },
		"loupe-disk": func(tb testing.TB) target { return startLoupeTarget(tb, "loupe-disk", tb.TempDir()) },
	}
}

// target starts the target impl: a name of targets(), or for A/B
// comparisons in one run loupe-mem or loupe-disk followed by environment
// variables for the server, each after a "+" (loupe-mem+GOGC=100,
// loupe-mem+LOUPE_PDATA_POOLING=0).
func startTarget(tb testing.TB, impl string) target {
	name, env, _ := strings.Cut(impl, "+")
	if env != "" {
		vars := strings.Split(env, "+")
		switch name {
		case "loupe-mem":
			return startLoupeTarget(tb, impl, "", vars...)
		case "loupe-disk":
			return startLoupeTarget(tb, impl, tb.TempDir(), vars...)
		}
	} else if start, ok := targets()[name]; ok {
		return start(tb)
	}
	tb.Fatalf("unknown target %q", impl)
	return target{}
}

// ingestImpls are the targets of BenchmarkIngest and BenchmarkMillionSpans: jaeger, loupe-mem and
// loupe-disk, or the comma-separated list in $LOUPE_BENCH_IMPLS (see
// startTarget).
func ingestImpls() []string {
	if v := os.Getenv("LOUPE_BENCH_IMPLS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"jaeger", "loupe-mem", "loupe-disk"}
}

// ingestBatches is how many distinct batches BenchmarkIngest prepares: 400,
// or $LOUPE_BENCH_BATCHES (with -benchtime=Nx for N up to it, no batch is
// sent twice).
func ingestBatches(b *testing.B) int {
	if v := os.Getenv("LOUPE_BENCH_BATCHES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("LOUPE_BENCH_BATCHES=%q", v)
		}
		return n
	}
	return 400
}

// BenchmarkIngest: spans per second and server CPU per span, with two
// clients each waiting for its answers.
func BenchmarkIngest(b *testing.B) {
	data := batches(b, ingestBatches(b), time.Now())
	for _, impl := range ingestImpls() {
		b.Run("impl="+impl, func(b *testing.B) {
			t := startTarget(b, impl)
			send(b, t, data[:20], 2) // warm up
			cpu0 := cpuTime(b, t.pid)
			b.ResetTimer()
			start := time.Now()
			batchesToSend := make([][]byte, b.N)
			for i := range batchesToSend {
				batchesToSend[i] = data[i%len(data)]
			}
			send(b, t, batchesToSend, 2)
			elapsed := time.Since(start)
			b.StopTimer()
			spans := float64(b.N * batchSpans)
			b.ReportMetric(spans/elapsed.Seconds(), "spans/s")
			b.ReportMetric(float64(cpuTime(b, t.pid)-cpu0)/spans, "cpu-ns/span")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkMillionSpans loads 1,000,000 spans into each backend, then
// reports RSS per stored span and the p50/p99 latency of a trace by id and a
// service+operation search over the last hour; for loupe-disk also the time
// a restarted server takes to answer again.
func BenchmarkMillionSpans(b *testing.B) {
	const total = 1_000_000
	data := batches(b, (total+batchSpans-1)/batchSpans, time.Now())
	for _, impl := range ingestImpls() {
		b.Run("impl="+impl, func(b *testing.B) {
			dir := b.TempDir()
			var t target
			if impl == "loupe-disk" {
				t = startLoupeTarget(b, "loupe-disk", dir)
			} else {
				t = startTarget(b, impl)
			}
			base := rss(b, t.pid)
			send(b, t, data, 2)
			runtime.GC()
			time.Sleep(2 * time.Second) // let the server settle
			rssPerSpan := float64(rss(b, t.pid)-base) / total

			ids := traceIDs(b, t, 200)
			byID := latencies(b, len(ids)*2, func(i int) string { return t.query + "/api/traces/" + ids[i%len(ids)] })
			search := latencies(b, 100, func(i int) string {
				return fmt.Sprintf("%s/api/traces?service=svc-%d&operation=op-%d&lookback=1h&limit=20", t.query, i%services, i%operations)
			})
			b.ReportMetric(rssPerSpan, "rss-B/span")
			b.ReportMetric(pct(byID, 50), "byid-p50-ms")
			b.ReportMetric(pct(byID, 99), "byid-p99-ms")
			b.ReportMetric(pct(search, 50), "search-p50-ms")
			b.ReportMetric(pct(search, 99), "search-p99-ms")
			b.ReportMetric(0, "ns/op")

			if impl == "loupe-disk" {
				restart := startLoupeAfter(b, dir)
				b.ReportMetric(restart.Seconds(), "restart-s")
			}
		})
	}
}

// startLoupeAfter stops nothing (the first server is still running on its
// own ports, sharing no listener); it measures how long a second server on
// a copy of the data directory takes until the API answers.
func startLoupeAfter(b *testing.B, dir string) time.Duration {
	cp := b.TempDir()
	if out, err := exec.Command("cp", "-a", dir+"/.", cp).CombinedOutput(); err != nil {
		b.Fatalf("copy data dir: %v %s", err, out)
	}
	start := time.Now()
	startLoupeTarget(b, "loupe-restart", cp)
	return time.Since(start)
}

func traceIDs(b *testing.B, t target, n int) []string {
	var ids []string
	for s := 0; s < services && len(ids) < n; s++ {
		code, body, err := peertest.Get(fmt.Sprintf("%s/api/traces?service=svc-%d&lookback=1h&limit=%d", t.query, s, n/services))
		if err != nil || code != http.StatusOK {
			b.Fatalf("search: %d %v", code, err)
		}
		var res struct{ Data []struct{ TraceID string } }
		if err := json.Unmarshal(body, &res); err != nil {
			b.Fatal(err)
		}
		for _, d := range res.Data {
			ids = append(ids, d.TraceID)
		}
	}
	if len(ids) == 0 {
		b.Fatalf("%s found no traces", t.name)
	}
	return ids
}

func latencies(b *testing.B, n int, url func(int) string) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		start := time.Now()
		code, _, err := peertest.Get(url(i))
		out[i] = time.Since(start)
		if err != nil || code != http.StatusOK {
			b.Fatalf("GET %s: %d %v", url(i), code, err)
		}
	}
	return out
}

func pct(d []time.Duration, p int) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[(len(s)-1)*p/100]) / float64(time.Millisecond)
}
