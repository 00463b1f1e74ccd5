package louperedis_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/loupe-dev/loupe/instrumentation/internal/testservers"
)

// redisAddr is the private server's address; empty with skipReason set when
// it could not start outside CI.
var redisAddr, skipReason string

func TestMain(m *testing.M) {
	srv, err := testservers.StartRedis()
	if err != nil {
		skipReason = testservers.Unavailable("redis", err)
		testservers.SkipExamples() // they cannot skip themselves
	} else {
		redisAddr = srv.Addr
	}
	code := m.Run()
	if err := srv.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop redis:", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func requireRedis(t testing.TB) {
	t.Helper()
	if redisAddr == "" {
		t.Skip(skipReason)
	}
}
