package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestQuickstartRuns builds the README's library example and checks that it
// exits by itself after printing spans, logs and metrics to the console.
func TestQuickstartRuns(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "quickstart")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()} // no OTEL_* from the machine
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"SPAN process_job", "SPAN fetch_data", "[parent:",
		`ERROR "upstream unavailable"`,
		"INFO processing started [trace:",
		"WARN job failed",
		"METRIC jobs.started{} 3",
		"METRIC jobs.fetch.duration{} count=3",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
