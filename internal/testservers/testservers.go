// Package testservers starts private PostgreSQL and Redis servers for tests:
// each on 127.0.0.1, on a free port, with its files in a temporary directory
// that Stop removes. Install the servers with scripts/install-services.
//
// Call the Start functions from TestMain. When a server cannot start, pass
// the error to [Unavailable]: under CI=true it fails the run, elsewhere the
// tests that need the server skip with the reason.
package testservers

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PGBin is where Debian's PostgreSQL 15 keeps initdb, pg_ctl and postgres.
const PGBin = "/usr/lib/postgresql/15/bin"

// startTimeout bounds each server's start, initdb included.
const startTimeout = 90 * time.Second

// InCI reports whether the tests run in CI (CI=true), where a missing server
// is a failure, not a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// Unavailable turns a start error into the TestMain decision: in CI it
// prints the error and exits 1; elsewhere it returns a skip reason for the
// tests that need the server.
func Unavailable(server string, err error) string {
	msg := fmt.Sprintf("%s unavailable (run scripts/install-services): %v", server, err)
	if InCI() {
		fmt.Fprintln(os.Stderr, "FAIL:", msg, "— CI=true does not skip")
		os.Exit(1)
	}
	return msg
}

// SkipExamples makes m.Run skip the Example functions, which need the
// server and cannot skip themselves; call it from TestMain before m.Run when
// [Unavailable] returned (never in CI, where it exits first).
func SkipExamples() {
	skip := "^Example"
	if f := flag.Lookup("test.skip"); f != nil {
		if cur := f.Value.String(); cur != "" {
			skip = cur + "|" + skip
		}
		_ = f.Value.Set(skip)
	}
}

// freePort returns a port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitTCP waits until addr accepts connections.
func waitTCP(ctx context.Context, addr string) error {
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return c.Close()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not accept connections: %w", addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Postgres is a private PostgreSQL server with trust authentication.
type Postgres struct {
	Port int
	// DSN connects as the superuser postgres to database postgres.
	DSN  string
	dir  string
	data string
	asPG *user.User // run the binaries as this user when we are root
}

// StartPostgres initialises a cluster in a temporary directory and starts it.
func StartPostgres() (*Postgres, error) {
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(PGBin, b)); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "loupe-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir, data: filepath.Join(dir, "data")}
	if os.Geteuid() == 0 { // initdb refuses to run as root
		if p.asPG, err = user.Lookup("postgres"); err != nil {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(p.asPG.Uid)
		gid, _ := strconv.Atoi(p.asPG.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
	}
	if out, err := p.run(ctx, "initdb", "-D", p.data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--locale=C.UTF-8", "--no-sync"); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	var lastErr error
	for range 3 { // a free port can be taken between freePort and listen
		if p.Port, err = freePort(); err != nil {
			return nil, errors.Join(err, p.Stop())
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", p.Port, dir)
		out, err := p.run(ctx, "pg_ctl", "-D", p.data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "-t", "60", "start")
		if err == nil {
			p.DSN = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
			return p, waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", p.Port))
		}
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		lastErr = fmt.Errorf("pg_ctl start: %v: %s\n%s", err, out, log)
	}
	return nil, errors.Join(lastErr, p.Stop())
}

func (p *Postgres) run(ctx context.Context, bin string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(PGBin, bin), args...)
	cmd.Dir = p.dir
	if p.asPG != nil {
		runAs(cmd, p.asPG)
		cmd.Env = append(os.Environ(), "HOME="+p.asPG.HomeDir, "USER=postgres")
	}
	return cmd.CombinedOutput()
}

// Stop stops the server (fast shutdown) and removes its directory.
func (p *Postgres) Stop() error {
	if p == nil {
		return nil
	}
	var err error
	if _, statErr := os.Stat(filepath.Join(p.data, "postmaster.pid")); statErr == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if out, e := p.run(ctx, "pg_ctl", "-D", p.data, "-m", "fast", "-w", "stop"); e != nil {
			err = fmt.Errorf("pg_ctl stop: %v: %s", e, out)
		}
	}
	return errors.Join(err, os.RemoveAll(p.dir))
}

// Redis is a private Redis server without persistence.
type Redis struct {
	Addr string // 127.0.0.1:port
	Port int
	dir  string
}

// StartRedis starts redis-server on a free port.
func StartRedis() (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("redis-cli"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "loupe-redis-")
	if err != nil {
		return nil, err
	}
	r := &Redis{dir: dir}
	var lastErr error
	for range 3 {
		if r.Port, err = freePort(); err != nil {
			return nil, errors.Join(err, os.RemoveAll(dir))
		}
		r.Addr = fmt.Sprintf("127.0.0.1:%d", r.Port)
		out, err := exec.CommandContext(ctx, bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(r.Port),
			"--daemonize", "yes", "--pidfile", filepath.Join(dir, "redis.pid"), "--logfile", filepath.Join(dir, "log"),
			"--dir", dir, "--save", "", "--appendonly", "no").CombinedOutput()
		if err == nil {
			if err = waitTCP(ctx, r.Addr); err == nil {
				return r, nil
			}
		}
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		lastErr = fmt.Errorf("redis-server: %v: %s\n%s", err, out, log)
		_ = r.stopProcess()
	}
	return nil, errors.Join(lastErr, os.RemoveAll(dir))
}

// Stop shuts the server down without saving and removes its directory.
func (r *Redis) Stop() error {
	if r == nil {
		return nil
	}
	return errors.Join(r.stopProcess(), os.RemoveAll(r.dir))
}

func (r *Redis) stopProcess() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pidFile := filepath.Join(r.dir, "redis.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil // never started
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	_ = exec.CommandContext(ctx, "redis-cli", "-h", "127.0.0.1", "-p", strconv.Itoa(r.Port), "shutdown", "nosave").Run()
	// Wait for that process (by its PID) to be gone; signal it if it lingers.
	for i := 0; pid > 0 && i < 100; i++ {
		if !alive(pid) {
			return nil
		}
		if i == 50 {
			terminate(pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pid > 0 && alive(pid) {
		return fmt.Errorf("redis-server pid %d did not stop", pid)
	}
	return nil
}
