package loupepgx_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/loupe-dev/loupe/instrumentation/internal/testservers"
)

// pgDSN connects to the private server; empty with skipReason set when it
// could not start outside CI.
var pgDSN, skipReason string

func TestMain(m *testing.M) {
	pg, err := testservers.StartPostgres()
	if err != nil {
		skipReason = testservers.Unavailable("postgresql", err)
		testservers.SkipExamples()
	} else {
		pgDSN = pg.DSN
	}
	code := m.Run()
	if err := pg.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop postgresql:", err)
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

func requirePG(t testing.TB) {
	t.Helper()
	if pgDSN == "" {
		t.Skip(skipReason)
	}
}
