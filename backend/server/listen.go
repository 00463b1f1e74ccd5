package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"syscall"
)

// listen binds addr. "localhost" means 127.0.0.1 and ::1, on the same port.
func listen(ctx context.Context, addr string, log *slog.Logger) ([]net.Listener, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	if host == "" {
		return nil, fmt.Errorf("address %q has no host: use localhost (the default), 127.0.0.1, or 0.0.0.0 to listen on every interface", addr)
	}
	var lc net.ListenConfig
	if host != "localhost" {
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return []net.Listener{l}, nil
	}
	v4, err := lc.Listen(ctx, "tcp4", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return nil, err
	}
	// ::1 takes the port 127.0.0.1 got, so that an ephemeral port (":0") is
	// the same on both.
	p := strconv.Itoa(v4.Addr().(*net.TCPAddr).Port)
	v6, err := lc.Listen(ctx, "tcp6", net.JoinHostPort("::1", p))
	if err != nil {
		if noIPv6(err) {
			log.Warn("no IPv6 loopback; listening on 127.0.0.1 only", "address", addr, "error", err)
			return []net.Listener{v4}, nil
		}
		_ = v4.Close()
		return nil, err
	}
	return []net.Listener{v4, v6}, nil
}

// noIPv6 reports whether err says that ::1 cannot be bound at all on this
// machine (as opposed to its port being in use).
func noIPv6(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) ||
		errors.Is(err, syscall.EPROTONOSUPPORT)
}
