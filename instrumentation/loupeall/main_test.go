package loupeall_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/loupe-dev/loupe/instrumentation/internal/testservers"
)

// The private servers; empty with skipReason set when one could not start
// outside CI.
var pgDSN, redisAddr, skipReason string

func TestMain(m *testing.M) {
	pg, err := testservers.StartPostgres()
	if err != nil {
		skipReason = testservers.Unavailable("postgresql", err)
	} else {
		pgDSN = pg.DSN
	}
	rd, err := testservers.StartRedis()
	if err != nil {
		skipReason = testservers.Unavailable("redis", err)
	} else {
		redisAddr = rd.Addr
	}
	if skipReason != "" {
		testservers.SkipExamples()
	}
	code := m.Run()
	for name, stop := range map[string]func() error{"postgresql": pg.Stop, "redis": rd.Stop} {
		if err := stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop", name+":", err)
			code = 1
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func requireServers(t testing.TB) {
	t.Helper()
	if pgDSN == "" || redisAddr == "" {
		t.Skip(skipReason)
	}
}
