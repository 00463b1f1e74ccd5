package testservers

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Server names a server [Main] can start.
type Server int

// The servers.
const (
	PostgresServer Server = iota
	RedisServer
)

// Env is what [Main] started, for the tests to connect to.
type Env struct {
	PostgresDSN string // empty when not started
	RedisAddr   string // empty when not started
	skip        string
}

// RequirePostgres skips t when PostgreSQL did not start (only possible
// outside CI).
func (e *Env) RequirePostgres(t testing.TB) {
	t.Helper()
	if e.PostgresDSN == "" {
		t.Skip(e.skip)
	}
}

// RequireRedis skips t when Redis did not start (only possible outside CI).
func (e *Env) RequireRedis(t testing.TB) {
	t.Helper()
	if e.RedisAddr == "" {
		t.Skip(e.skip)
	}
}

// Main is a TestMain body: it starts the servers into env, runs the tests,
// stops the servers, fails on leaked goroutines and exits. A server that
// does not start fails the run under CI=true; elsewhere the tests that
// require it skip and the examples are skipped.
func Main(m *testing.M, env *Env, servers ...Server) {
	var stops []func() error
	for _, s := range servers {
		switch s {
		case PostgresServer:
			pg, err := StartPostgres()
			if err != nil {
				env.skip = Unavailable("postgresql", err)
				continue
			}
			env.PostgresDSN = pg.DSN
			stops = append(stops, pg.Stop)
		case RedisServer:
			rd, err := StartRedis()
			if err != nil {
				env.skip = Unavailable("redis", err)
				continue
			}
			env.RedisAddr = rd.Addr
			stops = append(stops, rd.Stop)
		}
	}
	if env.skip != "" {
		SkipExamples()
	}
	code := m.Run()
	var errs []error
	for _, stop := range stops {
		errs = append(errs, stop())
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, "stopping test servers:", err)
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
