//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
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
		now := fillMetrics(b, p)
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

// flood makes 100 concurrent 16 MiB OTLP/gRPC calls to p and returns how
// many got each error, and the time they took.
func flood(b testing.TB, p *process) (map[string]int, time.Duration) {
	payload := bytes.Repeat([]byte{0xff}, 16<<20-64) // malformed from the first byte
	cc, err := grpc.NewClient(p.addrs["otlp-grpc"], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	start := time.Now()
	for range 100 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := cc.Invoke(ctx, "/opentelemetry.proto.collector.trace.v1.TraceService/Export", &rawMsg{payload}, &rawMsg{},
				grpc.ForceCodecV2(rawMsgCodec{}), grpc.MaxCallSendMsgSize(32<<20))
			mu.Lock()
			codes[strings.SplitN(fmt.Sprint(err), " desc", 2)[0]]++
			mu.Unlock()
		})
	}
	wg.Wait()
	return codes, time.Since(start)
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

type process struct {
	b     testing.TB
	pid   int
	addrs map[string]string
}

// startProcess runs `loupe serve` on ephemeral loopback ports with args;
// it is killed when b ends.
func startProcess(b testing.TB, bin string, args ...string) *process {
	cmd := exec.Command(bin, append([]string{"serve", "--otlp-grpc", "127.0.0.1:0", "--otlp-http", "127.0.0.1:0", "--http", "127.0.0.1:0"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p := &process{b: b, pid: cmd.Process.Pid, addrs: map[string]string{}}
	sc := bufio.NewScanner(out)
	for len(p.addrs) < 3 && sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && !strings.Contains(f[1], "[") {
			p.addrs[f[0]] = f[1]
		}
	}
	if len(p.addrs) < 3 {
		b.Fatalf("loupe serve printed no addresses")
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	time.Sleep(500 * time.Millisecond) // settle
	return p
}

// mem is a field of /proc/<pid>/status in bytes.
func (p *process) mem(field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		p.b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if strings.HasPrefix(line, field+":") {
			kb, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return kb << 10
		}
	}
	p.b.Fatalf("no %s", field)
	return 0
}

// resetPeak resets VmHWM to the current RSS.
func (p *process) resetPeak() {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.pid), []byte("5"), 0); err != nil {
		p.b.Fatal(err)
	}
}

func postOTLP(b testing.TB, u string, body []byte) {
	resp, err := http.Post(u, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: %d", u, resp.StatusCode)
	}
}

// fillTraces sends traces of ten spans, 1,000 spans a request, until
// twice maxSize bytes of OTLP have gone, so that the store is full; it
// returns the bytes sent.
func fillTraces(b testing.TB, p *process, maxSize int64) int64 {
	var sent int64
	base := time.Now().Add(-time.Hour)
	for n := 0; sent < 2*maxSize; n++ {
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "fill")
		spans := rs.ScopeSpans().AppendEmpty().Spans()
		for i := range 1000 {
			sp := spans.AppendEmpty()
			id := n*1000 + i
			sp.SetTraceID(pcommon.TraceID{0: 1, 8: byte(id >> 24), 9: byte(id >> 16), 10: byte(id >> 8), 11: byte(id / 10)})
			sp.SetSpanID(pcommon.SpanID{0: 1, 4: byte(id >> 24), 5: byte(id >> 16), 6: byte(id >> 8), 7: byte(id)})
			sp.SetName("GET /items/{id}")
			start := base.Add(time.Duration(id) * time.Millisecond)
			sp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
			sp.SetEndTimestamp(pcommon.NewTimestampFromTime(start.Add(3 * time.Millisecond)))
			sp.Attributes().PutStr("http.route", "/items/{id}")
			sp.Attributes().PutInt("http.response.status_code", 200)
			sp.Attributes().PutStr("note", strings.Repeat("x", 64))
		}
		body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			b.Fatal(err)
		}
		postOTLP(b, "http://"+p.addrs["otlp-http"]+"/v1/traces", body)
		sent += int64(len(body))
	}
	return sent
}

// fillMetrics sends a day of 20 gauge series, a point every 10 s, and
// returns the time of the last.
func fillMetrics(b *testing.B, p *process) time.Time {
	now := time.Now().Truncate(time.Minute)
	start := now.Add(-24 * time.Hour)
	const perRequest = 360 // an hour of points per series
	for h := range 24 {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "fill")
		m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
		m.SetName("fill_gauge")
		pts := m.SetEmptyGauge().DataPoints()
		for s := range 20 {
			for i := range perRequest {
				pt := pts.AppendEmpty()
				pt.Attributes().PutInt("series", int64(s))
				pt.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(h*perRequest+i) * 10 * time.Second)))
				pt.SetDoubleValue(float64(i))
			}
		}
		body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
		if err != nil {
			b.Fatal(err)
		}
		postOTLP(b, "http://"+p.addrs["otlp-http"]+"/v1/metrics", body)
	}
	return now
}

// rawMsg is a gRPC message sent as it is.
type rawMsg struct{ b []byte }

type rawMsgCodec struct{}

func (rawMsgCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.(*rawMsg).b)}, nil
}

func (rawMsgCodec) Unmarshal(data mem.BufferSlice, v any) error {
	v.(*rawMsg).b = data.Materialize()
	return nil
}

func (rawMsgCodec) Name() string { return "proto" }
