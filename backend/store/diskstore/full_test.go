//go:build linux

package diskstore_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/diskstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

const fullEnv = "DISKSTORE_TEST_FULL_DIR"

// setFileLimit sets the soft RLIMIT_FSIZE: a write(2) past it writes what
// fits and fails with EFBIG, as a full disk fails with ENOSPC (Go ignores
// the SIGXFSZ that comes with it).
func setFileLimit(n uint64) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &l); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	l.Cur = min(n, l.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &l); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
}

// runFullChild is the process of TestFullDiskLosesNothingAcknowledged. It
// starts with no room for a segment's header, then room for about 20
// writes, then room again, writing trace i (two spans) in each write and
// printing "ack i" or "refused i" for each. It ends without Close, as
// kill -9 would.
func runFullChild() {
	dir := os.Getenv(fullEnv)
	setFileLimit(10)
	s, err := diskstore.Open(dir, diskstore.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Printf("opened err=%v\n", s.Err())
	write := func(i int) {
		_, err := s.WriteTraces(context.Background(), storetest.Traces(
			storetest.SpanSpec{Service: "api", Trace: byte(i), ID: 1, Name: "GET /", Dur: time.Millisecond, Attrs: map[string]any{"n": i}},
			storetest.SpanSpec{Service: "db", Trace: byte(i), ID: 2, Parent: 1, Name: "query", Dur: time.Millisecond},
		))
		switch {
		case err == nil:
			fmt.Println("ack", i)
		case errors.Is(err, store.ErrUnavailable):
			fmt.Println("refused", i)
		default:
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
	write(1)
	setFileLimit(8 << 10)
	for i := 2; i <= 150; i++ {
		write(i)
	}
	setFileLimit(^uint64(0))
	for i := 151; i <= 200; i++ {
		write(i)
	}
	os.Exit(0)
}

// TestFullDiskLosesNothingAcknowledged is issue 10's 12,300 lost spans: a
// write that failed half-way left its bytes in the segment, the writes
// acknowledged after it were appended behind them, and replay stopped at
// the broken record. Here the disk is full at start (the store opens and
// refuses writes), then fills up mid-stream (writes fail half-way), then
// has room again: every acknowledged write is there after the restart,
// nothing refused is, the refusals are retryable (store.ErrUnavailable)
// and logged once, and replay finds nothing to repair.
func TestFullDiskLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fullEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v\n%s\n%s", err, out, stderr.String())
	}
	var acked, refused []int
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		line := sc.Text()
		word, num, _ := strings.Cut(line, " ")
		n, _ := strconv.Atoi(num)
		switch word {
		case "opened":
			if !strings.Contains(line, "store temporarily unavailable") || !strings.Contains(line, "file too large") {
				t.Errorf("a full disk at start: %s", line)
			}
		case "ack":
			acked = append(acked, n)
		case "refused":
			refused = append(refused, n)
		default:
			t.Fatalf("child: %s", line)
		}
	}
	if len(refused) < 2 || refused[0] != 1 || refused[len(refused)-1] > 150 || len(acked) < 60 || acked[len(acked)-1] != 200 {
		t.Fatalf("acked %v, refused %v: want the first write refused, then some acknowledged, some refused, and the last 50 acknowledged", acked, refused)
	}
	if n := strings.Count(stderr.String(), "cannot write to the data directory"); n != 1 {
		t.Errorf("refusals logged %d times, want once:\n%s", n, stderr.String())
	}
	if !strings.Contains(stderr.String(), "writing again") {
		t.Errorf("the end of the refusals is not logged:\n%s", stderr.String())
	}

	s := open(t, dir)
	defer s.Close()
	if r := s.Recovery(); len(r.Problems) != 0 || r.Records != len(acked) {
		t.Errorf("recovery %+v, want %d records and no problems", r, len(acked))
	}
	ctx := context.Background()
	for _, i := range acked {
		if tr, err := s.Trace(ctx, storetest.TID(byte(i))); err != nil || len(tr.Spans) != 2 {
			t.Errorf("acknowledged write %d lost: %v", i, err)
		}
	}
	for _, i := range refused {
		if _, err := s.Trace(ctx, storetest.TID(byte(i))); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("refused write %d stored: %v", i, err)
		}
	}
	t.Logf("%d writes acknowledged, %d refused", len(acked), len(refused))
}
