package loupehttp

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// The helpers below reproduce otelhttp v0.72.0's choices
// (internal/semconv/{server,util}.go) so that both produce the same
// attributes; the comparison test holds them to it.

func otelHandle(err error) { otel.Handle(err) }

// knownMethod returns the semconv attribute of an exactly spelled standard
// method.
func knownMethod(m string) (attribute.KeyValue, bool) {
	switch m {
	case http.MethodGet:
		return semconv.HTTPRequestMethodGet, true
	case http.MethodPost:
		return semconv.HTTPRequestMethodPost, true
	case http.MethodPut:
		return semconv.HTTPRequestMethodPut, true
	case http.MethodDelete:
		return semconv.HTTPRequestMethodDelete, true
	case http.MethodHead:
		return semconv.HTTPRequestMethodHead, true
	case http.MethodPatch:
		return semconv.HTTPRequestMethodPatch, true
	case http.MethodOptions:
		return semconv.HTTPRequestMethodOptions, true
	case http.MethodConnect:
		return semconv.HTTPRequestMethodConnect, true
	case http.MethodTrace:
		return semconv.HTTPRequestMethodTrace, true
	}
	return attribute.KeyValue{}, false
}

// methodAttrs returns http.request.method and, when the request's spelling is
// not the standard one, http.request.method_original.
func methodAttrs(m string) (attr, original attribute.KeyValue) {
	if m == "" {
		return semconv.HTTPRequestMethodOther, attribute.KeyValue{}
	}
	if a, ok := knownMethod(m); ok {
		return a, attribute.KeyValue{}
	}
	original = semconv.HTTPRequestMethodOriginal(m)
	if a, ok := knownMethod(strings.ToUpper(m)); ok {
		return a, original
	}
	return semconv.HTTPRequestMethodOther, original
}

// spanMethod is the method part of a span name: upper case when standard,
// "HTTP" otherwise.
func spanMethod(m string) string {
	u := strings.ToUpper(m)
	if _, ok := knownMethod(u); ok {
		return u
	}
	return "HTTP"
}

// metricMethod is the http.request.method of the metric: upper case when
// standard, "_OTHER" otherwise.
func metricMethod(m string) string {
	u := strings.ToUpper(m)
	if _, ok := knownMethod(u); ok {
		return u
	}
	return "_OTHER"
}

// route is the path part of a ServeMux pattern ("GET host/items/{id}" gives
// "/items/{id}").
func route(pattern string) string {
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// spanName returns method+" "+rt, reusing pattern when it is exactly that,
// as "GET /items/{id}" is.
func spanName(method, pattern, rt string) string {
	if len(pattern) == len(method)+1+len(rt) && pattern[len(method)] == ' ' &&
		pattern[:len(method)] == method && pattern[len(method)+1:] == rt {
		return pattern
	}
	return method + " " + rt
}

func scheme(tls bool) attribute.KeyValue {
	if tls {
		return semconv.URLScheme("https")
	}
	return semconv.URLScheme("http")
}

// splitHostPort splits "host", "[host]", "host:port" or "[host]:port"; the
// port is -1 when absent or invalid.
func splitHostPort(hostport string) (host string, port int) {
	port = -1
	if strings.HasPrefix(hostport, "[") {
		end := strings.LastIndexByte(hostport, ']')
		if end < 0 {
			return "", port
		}
		if strings.LastIndexByte(hostport[end:], ':') < 0 {
			return hostport[1:end], port
		}
	} else if !strings.Contains(hostport, ":") {
		return hostport, port
	}
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return host, port
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return host, port
	}
	return host, int(n)
}

// requiredPort drops the scheme's default port.
func requiredPort(tls bool, port int) int {
	if port <= 0 || (tls && port == 443) || (!tls && port == 80) {
		return -1
	}
	return port
}

// forwardedFor is the first address of an X-Forwarded-For header.
func forwardedFor(h string) string {
	if i := strings.IndexByte(h, ','); i >= 0 {
		return h[:i]
	}
	return h
}

// netProtocol splits "HTTP/1.1" into "http" and "1.1".
func netProtocol(proto string) (name, version string) {
	name, version, _ = strings.Cut(proto, "/")
	switch name {
	case "HTTP":
		name = "http"
	case "QUIC":
		name = "quic"
	case "SPDY":
		name = "spdy"
	default:
		name = strings.ToLower(name)
	}
	return name, version
}
