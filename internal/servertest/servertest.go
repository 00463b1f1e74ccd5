// Package servertest starts a Loupe backend (backend/server) for a test: listeners on the
// addresses the test chooses (127.0.0.1:0 picks a free loopback port), a
// memory store unless the test brings one, and a shutdown when the test ends.
package servertest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

// Start starts a server with cfg and fails t if it cannot. A nil cfg.Store
// becomes a fresh memory store, closed after the server; a nil cfg.Logger
// discards. When t ends the server shuts down within 10 s, and an error in
// that shutdown fails t.
func Start(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	var made io.Closer
	if cfg.Store == nil {
		st := memstore.New()
		cfg.Store, made = st, st
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	srv, err := server.Start(context.Background(), cfg)
	if err != nil {
		if made != nil {
			_ = made.Close()
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
		if made != nil {
			_ = made.Close()
		}
	})
	return srv
}

// URL is "http://" and the first bound address of the named listener
// ("http", "otlp-http").
func URL(srv *server.Server, listener string) string {
	return "http://" + srv.Addrs(listener)[0].String()
}
