package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/loupe-dev/loupe/backend/query/apiv3"
	"github.com/loupe-dev/loupe/backend/query/jaeger"
	"github.com/loupe-dev/loupe/backend/query/logs"
	"github.com/loupe-dev/loupe/backend/query/prom"
	"github.com/loupe-dev/loupe/backend/receiver"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/ui"
)

// Config is what Start needs. An empty address disables that listener.
type Config struct {
	OTLPGRPCAddr string // e.g. localhost:4317
	OTLPHTTPAddr string // e.g. localhost:4318
	HTTPAddr     string // the query APIs and the web UI, e.g. localhost:16686
	// Token, when not empty, is required as "Authorization: Bearer <Token>"
	// on every listener, except for the web UI's static files (ui.IsStatic),
	// which hold no data.
	Token string
	// AllowedHosts are host names accepted in the Host header besides the
	// loopback ones, on HTTP listeners bound to loopback only while Token
	// is empty; there, other names get 403 (a defence against DNS
	// rebinding). Elsewhere, any Host is accepted.
	AllowedHosts []string
	// Store receives and serves the data. Shutdown does not close it.
	Store store.Store
	// MaxRequestBytes bounds one OTLP request (receiver.DefaultMaxRequestBytes when 0).
	MaxRequestBytes int64
	// Logger receives start and stop messages (slog.Default when nil).
	Logger *slog.Logger
}

// Server is a running backend.
type Server struct {
	log   *slog.Logger
	grpc  *grpc.Server
	https []*http.Server
	addrs map[string][]net.Addr
	wg    sync.WaitGroup
}

// The HTTP servers' timeouts.
const (
	// readHeaderTimeout bounds how long a client may take to send its
	// headers, so that idle half-open connections (slowloris) do not pile up.
	readHeaderTimeout = 10 * time.Second
	// readTimeout bounds reading a whole request, body included: an OTLP
	// batch of the maximum size over a slow link fits well within it.
	readTimeout = time.Minute
	// writeTimeout bounds writing a response, from the end of the request's
	// headers: a large trace search answers within it or is cut.
	writeTimeout = time.Minute
	// idleTimeout closes keep-alive connections unused this long; exporters
	// send every few seconds and keep theirs.
	idleTimeout = 2 * time.Minute
	// maxHeaderBytes bounds request headers; OTLP and API requests carry few.
	maxHeaderBytes = 64 << 10
)

// Start binds every configured listener and starts serving. On error,
// whatever was bound is released.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: no store")
	}
	s := &Server{log: cfg.Logger, addrs: map[string][]net.Addr{}}
	if s.log == nil {
		s.log = slog.Default()
	}
	var opts []receiver.Option
	if cfg.MaxRequestBytes > 0 {
		opts = append(opts, receiver.WithMaxRequestBytes(cfg.MaxRequestBytes))
	}
	if cfg.Token != "" {
		opts = append(opts, receiver.WithGRPCAuth(grpcToken(cfg.Token)))
	}
	recv := receiver.New(cfg.Store, opts...)

	type bound struct {
		name string
		ls   []net.Listener
	}
	var all []bound
	fail := func(err error) (*Server, error) {
		for _, b := range all {
			for _, l := range b.ls {
				_ = l.Close()
			}
		}
		return nil, err
	}
	for _, l := range []struct{ name, addr string }{
		{"otlp-grpc", cfg.OTLPGRPCAddr}, {"otlp-http", cfg.OTLPHTTPAddr}, {"http", cfg.HTTPAddr},
	} {
		if l.addr == "" {
			continue
		}
		ls, err := listen(ctx, l.addr, s.log)
		if err != nil {
			return fail(fmt.Errorf("--%s %s: %w", l.name, l.addr, err))
		}
		all = append(all, bound{l.name, ls})
	}

	for _, b := range all {
		for _, l := range b.ls {
			s.addrs[b.name] = append(s.addrs[b.name], l.Addr())
		}
		switch b.name {
		case "otlp-grpc":
			s.grpc = grpc.NewServer(recv.GRPCServerOptions()...)
			recv.RegisterGRPC(s.grpc)
			for _, l := range b.ls {
				s.serve(b.name, l, func(l net.Listener) error { return s.grpc.Serve(l) })
			}
		case "otlp-http", "http":
			mux := http.NewServeMux()
			var exempt func(*http.Request) bool
			if b.name == "otlp-http" {
				recv.RegisterRoutes(mux)
			} else {
				jaeger.New(cfg.Store).RegisterRoutes(mux)
				apiv3.New(cfg.Store).RegisterRoutes(mux)
				prom.New(cfg.Store).RegisterRoutes(mux)
				logs.New(cfg.Store).RegisterRoutes(mux)
				// The web UI; the OTLP listeners come first in all, so their
				// addresses are known here. Its static files hold no data:
				// they are served without the token, the APIs they call are not.
				ui.New(ui.WithOTLPEndpoints(addrStrings(s.addrs["otlp-grpc"]), addrStrings(s.addrs["otlp-http"]))).RegisterRoutes(mux)
				exempt = ui.IsStatic
			}
			var handler http.Handler = mux
			if cfg.Token == "" && allLoopback(s.addrs[b.name]) {
				handler = checkHost(cfg.AllowedHosts, mux)
			}
			hs := &http.Server{
				Handler:           requireToken(cfg.Token, handler, exempt),
				ReadHeaderTimeout: readHeaderTimeout,
				ReadTimeout:       readTimeout,
				WriteTimeout:      writeTimeout,
				IdleTimeout:       idleTimeout,
				MaxHeaderBytes:    maxHeaderBytes,
				ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
			}
			s.https = append(s.https, hs)
			for _, l := range b.ls {
				s.serve(b.name, l, hs.Serve)
			}
		}
		s.log.Info("listening", "listener", b.name, "addresses", s.addrs[b.name])
	}
	return s, nil
}

func (s *Server) serve(name string, l net.Listener, serve func(net.Listener) error) {
	s.wg.Go(func() {
		if err := serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("listener stopped", "listener", name, "address", l.Addr(), "error", err)
		}
	})
}

func addrStrings(as []net.Addr) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return out
}

// Addrs returns the bound addresses of a listener ("otlp-grpc", "otlp-http"
// or "http"), 127.0.0.1's first.
func (s *Server) Addrs(listener string) []net.Addr { return s.addrs[listener] }

// Shutdown stops accepting, lets requests in progress finish until ctx is
// done, then closes what is left. It returns when every listener has stopped.
func (s *Server) Shutdown(ctx context.Context) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for _, hs := range s.https {
		wg.Go(func() {
			if err := hs.Shutdown(ctx); err != nil {
				_ = hs.Close()
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	if s.grpc != nil {
		done := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.grpc.Stop()
			<-done
		}
	}
	wg.Wait()
	s.wg.Wait()
	return errors.Join(errs...)
}
