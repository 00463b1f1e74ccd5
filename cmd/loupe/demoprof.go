//go:build loupeprof

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// With the loupeprof tag and LOUPE_DEMO_PROFILE_DIR set, each demo service
// writes a CPU profile of its life to that directory, named after the
// service, whether telemetry was on (OTEL_SDK_DISABLED) and its pid:
//
//	LOUPE_DEMO_PROFILE_DIR=/tmp/prof GOFLAGS=-tags=loupeprof \
//	  go test ./cmd/loupe/ -run '^$' -bench DemoCost -benchtime=800x
//	go tool pprof -top -diff_base /tmp/prof/worker-off-*.pprof /tmp/prof/worker-on-*.pprof
//
// It is a build of its own so that no product binary reads the variable.
func init() {
	dir := os.Getenv("LOUPE_DEMO_PROFILE_DIR")
	if dir == "" {
		return
	}
	profileService = func(name string) func() {
		mode := "on"
		if os.Getenv("OTEL_SDK_DISABLED") == "true" {
			mode = "off"
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s-%d.pprof", name, mode, os.Getpid())))
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "loupe demo service %s: CPU profile: %v\n", name, err)
			return func() {}
		}
		return func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}
	}
}
