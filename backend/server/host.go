package server

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
)

// checkHost wraps h so that only requests naming a loopback host, or one of
// allowed, in their Host header are served; others get 403. It defends a
// listener bound to loopback without a token from DNS rebinding: a web page
// whose name an attacker points at 127.0.0.1 sends its own name as Host.
func checkHost(allowed []string, h http.Handler) http.Handler {
	names := make([]string, 0, len(allowed))
	for _, a := range allowed {
		names = append(names, normalHost(a))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := normalHost(r.Host)
		if host != "" && !loopbackName(host) && !slices.Contains(names, host) {
			http.Error(w, fmt.Sprintf("host %q is not allowed: bound to loopback without a token, loupe serve accepts only loopback host names (localhost, 127.0.0.1, [::1]); add others with --allowed-host, or require a token", r.Host),
				http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// normalHost is the host of a Host header or an --allowed-host value,
// without port, brackets or final dot, in lower case.
func normalHost(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	return strings.TrimSuffix(strings.Trim(s, "[]"), ".")
}

// loopbackName reports whether host names the loopback interface whatever
// DNS says: localhost, or a loopback address.
func loopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// allLoopback reports whether every address is a loopback one.
func allLoopback(addrs []net.Addr) bool {
	for _, a := range addrs {
		tcp, ok := a.(*net.TCPAddr)
		if !ok || !tcp.IP.IsLoopback() {
			return false
		}
	}
	return len(addrs) > 0
}
