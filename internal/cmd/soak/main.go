// Command soak runs issue 10's hostile probes against real `loupe serve`
// processes (127.0.0.1, ephemeral ports, temporary data directories) and
// prints a line of figures for each; it exits 1 when a target of the issue
// is missed, and says which. Every probe is bounded in time. It reads
// memory from /proc (Linux): VmRSS, and VmHWM, the peak since a reset.
//
//	scripts/soak           # a few minutes; full sizes (a 256 MiB store)
//	scripts/soak -quick    # well under a minute; small sizes
//
// It is not run by CI (it measures; BENCHMARKS.md, RELIABILITY, has a
// run's figures).
package main

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loupe-dev/loupe/internal/probe"
)

func main() {
	quick := flag.Bool("quick", false, "small sizes, well under a minute")
	bin := flag.String("bin", "", "the loupe binary to run (default: build cmd/loupe with CGO_ENABLED=0)")
	only := flag.String("run", "", "run only the probes whose names contain this")
	flag.Parse()
	os.Exit(run(*quick, *bin, *only))
}

// limits bound the whole soak: a probe stuck past them ends the run.
const (
	quickLimit = 2 * time.Minute
	fullLimit  = 10 * time.Minute
)

func run(quick bool, bin, only string) int {
	tmp, err := os.MkdirTemp("", "loupe-soak-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		if bin, err = probe.Build(tmp); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	s := &soak{bin: bin, tmp: tmp, quick: quick}
	limit := fullLimit
	if quick {
		limit = quickLimit
	}
	watchdog := time.AfterFunc(limit, func() {
		fmt.Printf("soak: still running after %v; stopping\n", limit)
		s.killAll()
		os.Exit(2)
	})
	defer watchdog.Stop()
	defer s.killAll()

	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("loupe soak (quick=%v), %s; load average %s\n", quick, time.Now().UTC().Format(time.RFC3339), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	tokenFile := filepath.Join(tmp, "token")
	if err := os.WriteFile(tokenFile, []byte("t0ken\n"), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	start := time.Now()
	// The idle connections wait for the server's idle bound (2 min) in
	// their own process while the others run.
	var idle func() string
	if strings.Contains("idle-grpc", only) {
		idle = s.idleConnections(s.start("idle-grpc", memory))
	}
	for _, pr := range []struct {
		name string
		args []string // of its loupe serve; nil: it starts its own
		run  func(*probe.Process) string
	}{
		{"deep-nesting", s.deepArgs(), s.deepNesting},
		{"slow-bodies", memory, s.slowBodies},
		{"host-header", memory, s.hostHeader},
		{"grpc-unauthenticated", []string{"--token-file", tokenFile, "--data-dir", ""}, s.unauthenticated},
		{"trace-searches", nil, s.traceSearches},
		{"promql", memory, s.promQL},
		{"kill-9", nil, s.kill9},
	} {
		if !strings.Contains(pr.name, only) {
			continue
		}
		t := time.Now()
		figures := "did not start"
		if p := s.start(pr.name, pr.args); pr.args == nil || p != nil {
			if p != nil {
				settle()
			}
			figures = pr.run(p)
			if p != nil {
				_ = p.Kill()
			}
		}
		fmt.Printf("%-21s %s (%.1f s)\n", pr.name, figures, time.Since(t).Seconds())
	}
	if idle != nil {
		fmt.Printf("%-21s %s\n", "idle-grpc", idle())
	}
	load, _ = os.ReadFile("/proc/loadavg")
	fmt.Printf("took %.0f s; load average %s\n", time.Since(start).Seconds(), strings.Join(strings.Fields(string(load))[:min(3, len(strings.Fields(string(load))))], " "))
	if len(s.missed) > 0 {
		fmt.Println("MISSED:")
		for _, m := range s.missed {
			fmt.Println("  " + m)
		}
		return 1
	}
	fmt.Println("every target met")
	return 0
}

type soak struct {
	bin, tmp string
	quick    bool

	mu     sync.Mutex
	procs  []*probe.Process
	missed []string
}

// target records a missed target of probe unless ok.
func (s *soak) target(probe string, ok bool, format string, args ...any) {
	if ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.missed = append(s.missed, probe+": "+fmt.Sprintf(format, args...))
}

// memory are the arguments of a loupe serve that keeps its data in memory.
var memory = []string{"--data-dir", ""}

// start starts a loupe serve with args; a failure to start is a missed
// target of probe and returns nil, as nil args do.
func (s *soak) start(probeName string, args []string) *probe.Process {
	if args == nil {
		return nil
	}
	p, err := probe.Start(s.bin, nil, args...)
	s.target(probeName, err == nil, "loupe serve did not start: %v", err)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p
}

func (s *soak) killAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		_ = p.Kill()
	}
}

// mem is p's field of /proc/<pid>/status in MiB (-1 when unreadable).
func mem(p *probe.Process, field string) float64 {
	n, err := p.Mem(field)
	if err != nil {
		return -1
	}
	return float64(n) / (1 << 20)
}

// get GETs u (with Host host when not empty) and returns the status and
// body; status 0 is an error, in the body.
func get(client *http.Client, u, host string) (int, []byte) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return 0, []byte(err.Error())
	}
	if host != "" {
		req.Host = host
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// spansOf is the number of spans of trace id in p (-1: not found).
func spansOf(client *http.Client, p *probe.Process, id []byte) int {
	code, body := get(client, p.URL("http")+"/api/traces/"+hex.EncodeToString(id), "")
	if code != http.StatusOK {
		return -1
	}
	var answer struct {
		Data []struct{ Spans []json.RawMessage }
	}
	if json.Unmarshal(body, &answer) != nil || len(answer.Data) == 0 {
		return -1
	}
	return len(answer.Data[0].Spans)
}

// settle waits for a started process's CPU and memory to settle.
func settle() { time.Sleep(500 * time.Millisecond) }

var client = &http.Client{Timeout: time.Minute}

// ms formats d in milliseconds.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

// sec formats d in seconds.
func sec(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + " s" }

// query is a URL query of the key-value pairs kv.
func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// dirSize is the bytes of the files in dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// counter is a concurrent count.
type counter struct{ atomic.Int64 }
