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

// methodID is the index of a standard method in methods, or methodOther.
type methodID uint8

// methods are the standard methods and their http.request.method attributes,
// in the order of exactMethod's cases.
var methods = [...]struct {
	name string
	attr attribute.KeyValue
}{
	{http.MethodGet, semconv.HTTPRequestMethodGet},
	{http.MethodPost, semconv.HTTPRequestMethodPost},
	{http.MethodPut, semconv.HTTPRequestMethodPut},
	{http.MethodDelete, semconv.HTTPRequestMethodDelete},
	{http.MethodHead, semconv.HTTPRequestMethodHead},
	{http.MethodPatch, semconv.HTTPRequestMethodPatch},
	{http.MethodOptions, semconv.HTTPRequestMethodOptions},
	{http.MethodConnect, semconv.HTTPRequestMethodConnect},
	{http.MethodTrace, semconv.HTTPRequestMethodTrace},
}

const methodOther = methodID(len(methods))

// exactMethod returns the standard method m spells exactly.
func exactMethod(m string) (methodID, bool) {
	switch m {
	case http.MethodGet:
		return 0, true
	case http.MethodPost:
		return 1, true
	case http.MethodPut:
		return 2, true
	case http.MethodDelete:
		return 3, true
	case http.MethodHead:
		return 4, true
	case http.MethodPatch:
		return 5, true
	case http.MethodOptions:
		return 6, true
	case http.MethodConnect:
		return 7, true
	case http.MethodTrace:
		return 8, true
	}
	return methodOther, false
}

// lookupMethod returns the standard method m names in any letter case
// (methodOther when none) and whether m spells it exactly.
func lookupMethod(m string) (id methodID, exact bool) {
	if id, ok := exactMethod(m); ok {
		return id, true
	}
	id, _ = exactMethod(strings.ToUpper(m))
	return id, false
}

// methodAttrs returns http.request.method and, when the request's spelling m
// is not the standard one, http.request.method_original.
func methodAttrs(m string, id methodID, exact bool) (attr, original attribute.KeyValue) {
	if m == "" {
		return semconv.HTTPRequestMethodOther, attribute.KeyValue{}
	}
	attr = semconv.HTTPRequestMethodOther
	if id != methodOther {
		attr = methods[id].attr
	}
	if !exact {
		original = semconv.HTTPRequestMethodOriginal(m)
	}
	return attr, original
}

// spanMethod is the method part of a span name: upper case when standard,
// "HTTP" otherwise.
func spanMethod(id methodID) string {
	if id == methodOther {
		return "HTTP"
	}
	return methods[id].name
}

// metricMethod is the http.request.method of the metric: upper case when
// standard, "_OTHER" otherwise.
func metricMethod(id methodID) string {
	if id == methodOther {
		return "_OTHER"
	}
	return methods[id].name
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

// protoKey encodes "HTTP/d.d" (every version net/http passes to a handler)
// in one byte, 0 for anything else.
func protoKey(proto string) uint8 {
	if len(proto) != 8 || proto[:5] != "HTTP/" || proto[6] != '.' ||
		!isDigit(proto[5]) || !isDigit(proto[7]) {
		return 0
	}
	return 1 + (proto[5]-'0')*10 + proto[7] - '0'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

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
