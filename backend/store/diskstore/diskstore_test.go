package diskstore_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/goleak"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/diskstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		runChild()
		return
	}
	if os.Getenv(fullEnv) != "" {
		runFullChild()
		return
	}
	goleak.VerifyTestMain(m)
}

var quiet = diskstore.WithLogger(slog.New(slog.DiscardHandler))

func TestStore(t *testing.T) {
	storetest.RunAll(t, func(t *testing.T, cfg storetest.Config) store.Store {
		opts := []diskstore.Option{quiet, diskstore.WithMaxBytes(cfg.MaxBytes), diskstore.WithRetention(cfg.Retention)}
		if cfg.Now != nil {
			opts = append(opts, diskstore.WithClock(cfg.Now))
		}
		s, err := diskstore.Open(t.TempDir(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func openQuiet(dir string) (*diskstore.Store, error) { return diskstore.Open(dir, quiet) }

func open(t *testing.T, dir string, opts ...diskstore.Option) *diskstore.Store {
	t.Helper()
	s, err := diskstore.Open(dir, append([]diskstore.Option{quiet}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeShop(t *testing.T, s store.Store, trace byte) {
	t.Helper()
	if err := writeShopErr(s, trace); err != nil {
		t.Fatal(err)
	}
}

// writeShopErr writes trace n's two spans, one log and three metrics, in
// three writes.
func writeShopErr(s store.Store, trace byte) error {
	ctx := context.Background()
	if _, err := s.WriteTraces(ctx, storetest.Traces(
		storetest.SpanSpec{Service: "api", Trace: trace, ID: 1, Name: "GET /", Dur: time.Millisecond, Attrs: map[string]any{"n": int(trace)}},
		storetest.SpanSpec{Service: "db", Trace: trace, ID: 2, Parent: 1, Name: "query", Dur: time.Millisecond},
	)); err != nil {
		return err
	}
	if _, err := s.WriteLogs(ctx, storetest.Logs(storetest.LogSpec{Service: "api", Trace: trace, Span: 1, Body: "log", Severity: plog.SeverityNumberInfo})); err != nil {
		return err
	}
	_, err := s.WriteMetrics(ctx, storetest.Metrics("api", "/", time.Duration(trace)*time.Second, float64(trace), trace))
	return err
}

// present reports which of traces 1..n are stored, and checks that each
// present one is whole (2 spans, its log).
func present(t *testing.T, s store.Store, n int) []bool {
	t.Helper()
	ctx := context.Background()
	out := make([]bool, n+1)
	for i := 1; i <= n; i++ {
		tr, err := s.Trace(ctx, storetest.TID(byte(i)))
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(tr.Spans) != 2 {
			t.Errorf("trace %d has %d spans", i, len(tr.Spans))
		}
		logs := 0
		for _, err := range s.FindLogs(ctx, store.LogQuery{TraceID: storetest.TID(byte(i))}) {
			if err != nil {
				t.Fatal(err)
			}
			logs++
		}
		if logs != 1 {
			t.Errorf("trace %d: %d logs", i, logs)
		}
		out[i] = true
	}
	return out
}

func TestReopenRestoresEverything(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, diskstore.WithSegmentBytes(1024)) // several segments
	for i := 1; i <= 10; i++ {
		writeShop(t, s, byte(i))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.loupe"))
	if len(segs) < 3 {
		t.Errorf("%d segments, want several with 4 KiB segments", len(segs))
	}
	s = open(t, dir)
	defer s.Close()
	for i, ok := range present(t, s, 10)[1:] {
		if !ok {
			t.Errorf("trace %d lost across a restart", i+1)
		}
	}
	if r := s.Recovery(); r.Records != 30 || len(r.Problems) != 0 {
		t.Errorf("recovery %+v, want 30 records and no problems", r)
	}
	names, _ := s.MetricNames(context.Background())
	if len(names) != 3 {
		t.Errorf("metric names after restart: %v", names)
	}
	var pts int
	for sr, err := range s.FindSeries(context.Background(), store.SeriesQuery{Name: "requests"}) {
		if err != nil {
			t.Fatal(err)
		}
		pts += len(sr.Points)
	}
	if pts != 10 {
		t.Errorf("requests: %d points after restart, want 10", pts)
	}
}

func TestRestartKeepsTheSameEvictions(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, diskstore.WithMaxBytes(40<<10), diskstore.WithSegmentBytes(1<<20))
	for i := 1; i <= 40; i++ {
		writeShop(t, s, byte(i))
	}
	before := present(t, s, 40)
	_ = s.Close()
	s = open(t, dir, diskstore.WithMaxBytes(40<<10))
	defer s.Close()
	after := present(t, s, 40)
	if before[1] || !before[40] {
		t.Fatalf("size bound not applied before the restart: %v", before)
	}
	for i := range before {
		if before[i] != after[i] {
			t.Fatalf("trace %d: present %v before the restart, %v after", i, before[i], after[i])
		}
	}
}

func TestDiskStaysBounded(t *testing.T) {
	dir := t.TempDir()
	const maxBytes, segBytes = 64 << 10, 8 << 10
	s := open(t, dir, diskstore.WithMaxBytes(maxBytes), diskstore.WithSegmentBytes(segBytes))
	defer s.Close()
	for i := 1; i <= 200; i++ {
		writeShop(t, s, byte(i))
	}
	var total int64
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.loupe"))
	for _, p := range segs {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	if total > maxBytes+2*segBytes {
		t.Errorf("%d bytes in %d segments on disk, bound %d", total, len(segs), maxBytes)
	}
}

func TestRetentionDropsSegments(t *testing.T) {
	dir := t.TempDir()
	now := storetest.Base
	clock := func() time.Time { return now }
	s := open(t, dir, diskstore.WithClock(clock), diskstore.WithRetention(time.Hour), diskstore.WithSegmentBytes(256)) // a segment a write
	writeShop(t, s, 1)
	writeShop(t, s, 2)
	now = now.Add(2 * time.Hour)
	writeShop(t, s, 3)
	writeShop(t, s, 4)
	_ = s.Close()
	s = open(t, dir, diskstore.WithClock(clock), diskstore.WithRetention(time.Hour))
	defer s.Close()
	got := present(t, s, 4)
	if got[1] || got[2] || !got[3] || !got[4] {
		t.Errorf("after retention: %v, want only 3 and 4", got[1:])
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.loupe"))
	for _, p := range segs {
		data, _ := os.ReadFile(p)
		if tid := storetest.TID(1); bytes.Contains(data, tid[:]) {
			t.Errorf("%s still holds expired trace 1", filepath.Base(p))
		}
	}
}

func lastSegmentWithData(t *testing.T, dir string) string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.loupe"))
	for i := len(segs) - 1; i >= 0; i-- {
		if fi, _ := os.Stat(segs[i]); fi.Size() > 16 {
			return segs[i]
		}
	}
	t.Fatal("no segment with data")
	return ""
}

func TestCorruptionIsDetectedAndNotServed(t *testing.T) {
	for _, damage := range []string{"flipped byte", "cut short", "garbage appended"} {
		t.Run(damage, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			for i := 1; i <= 3; i++ {
				writeShop(t, s, byte(i))
			}
			_ = s.Close()
			path := lastSegmentWithData(t, dir)
			data, _ := os.ReadFile(path)
			switch damage {
			case "flipped byte": // inside the last record (trace 3's metrics)
				data[len(data)-10] ^= 0xff
			case "cut short":
				data = data[:len(data)-7]
			case "garbage appended":
				data = append(data, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			s = open(t, dir)
			r := s.Recovery()
			if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], filepath.Base(path)) {
				t.Fatalf("problems %q, want one naming %s", r.Problems, filepath.Base(path))
			}
			if _, err := os.Stat(path + ".corrupt"); err != nil {
				t.Errorf("corrupt bytes not kept aside: %v", err)
			}
			got := present(t, s, 3)
			if !got[1] || !got[2] || !got[3] {
				t.Errorf("valid records lost: %v", got[1:])
			}
			var pts int
			for sr, err := range s.FindSeries(context.Background(), store.SeriesQuery{Name: "requests"}) {
				if err != nil {
					t.Fatal(err)
				}
				pts += len(sr.Points)
			}
			want := 3
			if damage != "garbage appended" {
				want = 2 // the damaged record (trace 3's metrics) is not served
			}
			if pts != want {
				t.Errorf("%d metric points served, want %d", pts, want)
			}
			// The segment was truncated to its valid records: a second open is clean.
			_ = s.Close()
			s = open(t, dir)
			defer s.Close()
			if r := s.Recovery(); len(r.Problems) != 0 {
				t.Errorf("second open still finds problems: %q", r.Problems)
			}
		})
	}
}

func TestForeignAndFutureFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "seg-00000000000000000001.loupe"), []byte("hello, not a segment"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir)
	if r := s.Recovery(); len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "bad magic") {
		t.Errorf("problems %q", r.Problems)
	}
	writeShop(t, s, 1)
	_ = s.Close()

	future := append([]byte("LOUPESEG"), 99, 0, 0, 0, 0, 0, 0, 0)
	if err := os.WriteFile(filepath.Join(dir, "seg-00000000000000000009.loupe"), future, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := diskstore.Open(dir, quiet); err == nil || !strings.Contains(err.Error(), "newer format") {
		t.Errorf("open with a future segment: %v", err)
	}
}

func TestDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	if s2, err := diskstore.Open(dir, quiet); err == nil {
		_ = s2.Close()
		t.Fatal("a second Open of the same directory succeeded")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Errorf("error %v does not say the directory is in use", err)
	}
}

func TestIdleRestartsLeaveNoEmptySegments(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	writeShop(t, s, 1)
	_ = s.Close()
	for range 5 {
		_ = open(t, dir).Close()
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.loupe"))
	if len(segs) != 1 {
		t.Errorf("%d segments after idle restarts, want 1: %v", len(segs), segs)
	}
	s = open(t, dir)
	defer s.Close()
	if !present(t, s, 1)[1] {
		t.Error("data lost")
	}
}
