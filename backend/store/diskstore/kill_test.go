//go:build unix

package diskstore_test

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/store/diskstore"
)

const childEnv = "DISKSTORE_TEST_CHILD_DIR"

// runChild is the process TestSurvivesKill kills: it writes traces 1, 2, …
// and prints "ack N" once each write has returned.
func runChild() {
	s, err := diskstore.Open(os.Getenv(childEnv))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 1; i <= 250; i++ {
		if err := writeShopErr(s, byte(i)); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ack", i)
	}
	time.Sleep(time.Minute) // wait to be killed
}

// TestSurvivesKill kills a writer with SIGKILL mid-stream; every write it
// acknowledged must be there after reopening.
func TestSurvivesKill(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := 0
	sc := bufio.NewScanner(out)
	for sc.Scan() && acked < 40 {
		if n, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
			acked, _ = strconv.Atoi(n)
		} else {
			t.Fatalf("child: %s", sc.Text())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if acked < 40 {
		t.Fatalf("child acknowledged only %d writes", acked)
	}
	s := open(t, dir)
	defer s.Close()
	got := present(t, s, acked) // later writes may be cut by the kill: only acknowledged ones count
	for i := 1; i <= acked; i++ {
		if !got[i] {
			t.Fatalf("acknowledged trace %d lost after kill -9 (acked %d; recovery %+v)", i, acked, s.Recovery())
		}
	}
	t.Logf("acked %d before the kill; recovery %+v", acked, s.Recovery())
}
