//go:build unix

package main

import (
	"bufio"
	"context"
	"io"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/examples/demo"
)

// benchRate is the traffic of BenchmarkDemoCost, in requests per second:
// enough to make the services' CPU per request stand out from their idle
// background (runtime metrics, pools), well below what 2 cores sustain.
const benchRate = 40

// BenchmarkDemoCost measures what observability costs the demo platform:
// the same traffic at a fixed rate (benchRate, without the scheduled
// failures or the model's random hangs, which would set the p99 alone) with
// telemetry on — every span sampled, every signal exported over OTLP to a
// `loupe serve` in a process of its own — and with OTEL_SDK_DISABLED=true.
// b.N is the number of requests of a run (use -benchtime=1200x); each run
// starts the five services afresh. It reports each service's CPU time per
// request answered, the backend's, and the end-to-end p50 and p99 over all
// endpoints. Compare the two with benchstat (see BENCHMARKS.md).
func BenchmarkDemoCost(b *testing.B) {
	bin := buildLoupe(b)
	for _, mode := range []string{"on", "off"} {
		b.Run("telemetry="+mode, func(b *testing.B) {
			serve, otlp := startBenchBackend(b, bin)
			b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+otlp)
			b.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
			b.Setenv("OTEL_TRACES_SAMPLER", "always_on")
			b.Setenv("LLM_HANG_RATE", "0")
			if mode == "off" {
				b.Setenv("OTEL_SDK_DISABLED", "true")
			}
			// At least a second of traffic: the testing package runs b.N=1
			// first, which at benchRate ended before the first request.
			requests := max(b.N, benchRate)
			f := &demoFlags{exe: bin, backend: "none", rate: benchRate, noFailures: true,
				duration: time.Duration(float64(requests) / benchRate * float64(time.Second))}
			b.ResetTimer()
			res, err := launch(context.Background(), f, io.Discard, io.Discard)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			backendCPU := stopBenchBackend(b, serve)

			var all []time.Duration
			answered := 0
			for e, codes := range res.Traffic.Requests {
				for _, n := range codes {
					answered += n
				}
				all = append(all, res.Traffic.Latencies[e]...)
			}
			if answered == 0 {
				b.Fatal("no request answered")
			}
			slices.Sort(all)
			perRequest := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(answered) }
			var services time.Duration
			for _, s := range demo.Names() {
				b.ReportMetric(perRequest(res.CPU[s]), s+"-cpu-µs/req")
				services += res.CPU[s]
			}
			b.ReportMetric(perRequest(services), "services-cpu-µs/req")
			b.ReportMetric(perRequest(backendCPU), "backend-cpu-µs/req")
			b.ReportMetric(float64(demo.Quantile(all, 0.5).Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(demo.Quantile(all, 0.99).Microseconds())/1000, "p99-ms")
		})
	}
}

// startBenchBackend starts `loupe serve` in memory on loopback and returns
// it and its OTLP/HTTP address.
func startBenchBackend(b *testing.B, bin string) (*exec.Cmd, string) {
	cmd := exec.Command(bin, "serve", "--data-dir", "", "--otlp-grpc", "", "--otlp-http", "127.0.0.1:0", "--http", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "otlp-http" {
				select {
				case addr <- f[1]:
				default: // a second address of the same listener
				}
			}
		}
	}()
	select {
	case a := <-addr:
		return cmd, a
	case <-time.After(30 * time.Second):
		b.Fatal("loupe serve printed no otlp-http address within 30 s")
	}
	return nil, ""
}

// stopBenchBackend stops the backend and returns the CPU time it used.
func stopBenchBackend(b *testing.B, cmd *exec.Cmd) time.Duration {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("loupe serve: %v", err)
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}
