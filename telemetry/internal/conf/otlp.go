package conf

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loupe-dev/loupe/internal/otlpconf"
)

var protocols = []string{ProtocolGRPC, ProtocolHTTPProtobuf, ProtocolHTTPJSON}

const defaultTimeout = 10 * time.Second

// otlp resolves the OTLP exporter settings of one signal: the per-signal
// variable first, then the general one, then the aliases, then defaults.
func (r *resolver) otlp(s Signal) OTLP {
	up := strings.ToUpper(string(s))
	names := func(suffix string) []string {
		return []string{"OTEL_EXPORTER_OTLP_" + up + "_" + suffix, "OTEL_EXPORTER_OTLP_" + suffix}
	}
	prefix := "otlp." + string(s) + "."
	var o OTLP

	// The endpoint first: an alias's port can choose the protocol.
	raw, epSrc := r.raw(r.code.Endpoint, "WithOTLPEndpoint", names("ENDPOINT"), endpointVariables(s)[2:], "")
	proto, protoSrc := r.raw(r.code.Protocol, "WithOTLPProtocol", names("PROTOCOL"), nil, ProtocolHTTPProtobuf)
	proto = strings.ToLower(proto)
	switch epSrc {
	case "env OTEL_EXPORTER_JAEGER_ENDPOINT":
		raw = r.fromJaeger(raw, &proto, &protoSrc)
	case "env OTEL_EXPORTER_ENDPOINT":
		r.fromAlias(raw, &proto, &protoSrc)
	}
	switch {
	case !slices.Contains(protocols, proto):
		r.fail(protoSrc, proto, "one of "+strings.Join(protocols, ", "))
		proto = ProtocolHTTPProtobuf
	case proto == ProtocolHTTPJSON && s != Traces:
		r.fail(protoSrc, proto, "grpc or http/protobuf: the OpenTelemetry Go SDK sends http/json for traces only (set OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json for traces alone)")
		proto = ProtocolHTTPProtobuf
	}
	o.Protocol = proto
	r.note(prefix+"protocol", proto, protoSrc)

	def := "http://localhost:4318"
	if proto == ProtocolGRPC {
		def = "http://localhost:4317"
	}
	if raw == "" {
		raw = def
	}
	u, schemeless, want := parseEndpoint(raw, proto)
	if want != "" {
		r.fail(epSrc, raw, want)
		u, schemeless, _ = parseEndpoint(def, proto) // and go on, to report every other problem too
	}
	if proto != ProtocolGRPC && epSrc != "env "+names("ENDPOINT")[0] {
		// The general endpoint is a base URL: HTTP appends the signal's path.
		u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/" + string(s)
	}
	insecureSrc := r.insecure(&o, u, schemeless, raw, epSrc, names("INSECURE"))
	o.Endpoint, o.EndpointSource = u.String(), epSrc
	r.note(prefix+"endpoint", o.Endpoint, epSrc)
	r.note(prefix+"insecure", strconv.FormatBool(o.Insecure), insecureSrc)

	r.headers(&o, prefix, names("HEADERS"))
	o.Timeout = r.millis(prefix+"timeout", r.code.Timeout, "WithOTLPTimeout", names("TIMEOUT"), defaultTimeout)
	o.Compression = r.choice(prefix+"compression", r.code.Compression, "WithOTLPCompression", names("COMPRESSION"), nil, "none", "gzip", "none")
	r.tls(&o, prefix, names)
	return o
}

// insecure decides plaintext or TLS and makes the endpoint's scheme say it:
// WithOTLPInsecure wins; else a URL's scheme decides; a scheme-less gRPC
// host:port follows OTEL_EXPORTER_OTLP_INSECURE, TLS by default, as the
// specification says.
func (r *resolver) insecure(o *OTLP, u *url.URL, schemeless bool, raw, epSrc string, vars []string) string {
	name, text := r.firstSet(vars)
	b, valid := parseBool(text)
	if name != "" && !valid {
		r.fail("env "+name, text, wantBool)
	}
	src := epSrc
	switch {
	case r.code.Insecure != nil:
		o.Insecure, src = *r.code.Insecure, "code WithOTLPInsecure"
	case schemeless && name != "" && valid:
		o.Insecure, src = b, "env "+name
	case schemeless:
		o.Insecure = false
		r.warn("%s=%q has no scheme: it is reached over TLS, as the OpenTelemetry specification says; write http://%s, or set OTEL_EXPORTER_OTLP_INSECURE=true, for plaintext", strings.TrimPrefix(epSrc, "env "), raw, raw)
	default:
		o.Insecure = u.Scheme == "http"
		if name != "" && valid && b != o.Insecure {
			r.warn("%s=%s is ignored: the endpoint %s has a scheme, which decides (http:// plaintext, https:// TLS)", name, text, raw)
		}
	}
	u.Scheme = "https"
	if o.Insecure {
		u.Scheme = "http"
	}
	return src
}

func (r *resolver) headers(o *OTLP, prefix string, vars []string) {
	o.Headers = map[string]string{}
	name, text := r.firstSet(vars)
	var srcs []string
	if len(r.code.Headers) > 0 {
		srcs = append(srcs, "code WithOTLPHeaders")
	}
	if name != "" {
		srcs = append(srcs, "env "+name)
		h, err := otlpconf.ParsePairs(text)
		if err != nil {
			r.fail("env "+name, otlpconf.RedactPairs(text), "comma-separated key=value pairs with percent-encoded values ("+err.Error()+")")
		}
		for k, v := range h {
			o.Headers[k] = v
		}
	}
	for k, v := range r.code.Headers {
		if k = strings.TrimSpace(k); k == "" {
			continue
		}
		for old := range o.Headers { // header names are case-insensitive: code wins
			if strings.EqualFold(old, k) {
				delete(o.Headers, old)
			}
		}
		o.Headers[k] = v
	}
	if len(o.Headers) == 0 {
		return
	}
	keys := make([]string, 0, len(o.Headers))
	for k := range o.Headers {
		keys = append(keys, k+"=<redacted>")
	}
	sort.Strings(keys)
	r.note(prefix+"headers", strings.Join(keys, ","), strings.Join(srcs, " + "))
}

// tls records the certificate files and loads them once, here, so that a
// missing file is reported with every other problem and by its variable.
func (r *resolver) tls(o *OTLP, prefix string, names func(string) []string) {
	caVar, ca := r.firstSet(names("CERTIFICATE"))
	certVar, cert := r.firstSet(names("CLIENT_CERTIFICATE"))
	keyVar, key := r.firstSet(names("CLIENT_KEY"))
	o.CAFile, o.CertFile, o.KeyFile = ca, cert, key
	if o.Insecure {
		for _, v := range []string{caVar, certVar, keyVar} {
			if v != "" {
				r.warn("%s is ignored: the OTLP endpoint %s is plaintext", v, o.Endpoint)
			}
		}
		return
	}
	desc := []string{"system roots"}
	if ca != "" {
		desc[0] = "roots from " + ca
	}
	if cert != "" && key != "" {
		desc = append(desc, "client certificate "+cert)
	}
	cfg, err := otlpconf.LoadTLS(otlpconf.TLSFiles{CA: ca, Cert: cert, Key: key})
	for _, fe := range otlpconf.FileErrors(err) {
		switch {
		case fe.Role == otlpconf.RoleCA && errors.Is(fe, otlpconf.ErrNoCertificate):
			r.fail("env "+caVar, ca, "a PEM file of CA certificates (none found in the file)")
		case fe.Role == otlpconf.RoleCA:
			r.fail("env "+caVar, ca, "a readable PEM file of CA certificates ("+fe.Err.Error()+")")
		case errors.Is(fe, otlpconf.ErrHalfPair):
			v := certVar
			if fe.Role == otlpconf.RoleKey {
				v = keyVar
			}
			r.fail("env "+v, fe.Path, "both OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE and OTEL_EXPORTER_OTLP_CLIENT_KEY (or their per-signal variants), or neither")
		default:
			r.fail("env "+certVar, cert, "a PEM certificate whose key is in "+key+" ("+fe.Err.Error()+")")
		}
	}
	if err != nil { // reported above; a configuration that trusts nothing, never plaintext
		cfg = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: x509.NewCertPool()}
	}
	o.TLS = cfg
	r.note(prefix+"tls", strings.Join(desc, ", "), tlsSource(caVar, certVar))
}

func tlsSource(caVar, certVar string) string {
	var srcs []string
	for _, v := range []string{caVar, certVar} {
		if v != "" {
			srcs = append(srcs, "env "+v)
		}
	}
	if len(srcs) == 0 {
		return "default"
	}
	return strings.Join(srcs, " + ")
}

// parseEndpoint reads an OTLP endpoint. A URL needs the http or https
// scheme; gRPC also takes host:port, as gRPC clients do (schemeless). want
// says what to write instead when the text is not accepted.
func parseEndpoint(raw, protocol string) (u *url.URL, schemeless bool, want string) {
	if !strings.Contains(raw, "://") {
		if protocol != ProtocolGRPC {
			return nil, false, fmt.Sprintf("a URL with a scheme for %s: write http://%s (plaintext) or https://%s (TLS); host:port alone is accepted with OTEL_EXPORTER_OTLP_PROTOCOL=grpc only", protocol, raw, raw)
		}
		host, port, err := net.SplitHostPort(raw)
		if err != nil || host == "" {
			return nil, false, "host:port or a URL such as http://localhost:4317 or https://collector.example.com:4317"
		}
		if !validPort(port) {
			return nil, false, fmt.Sprintf("host:port with a port from 1 to 65535, not %q", port)
		}
		return &url.URL{Scheme: "https", Host: raw}, true, ""
	}
	const example = "a URL such as http://localhost:4318 or https://collector.example.com:4318"
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, false, example + " (" + err.Error() + ")"
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, false, fmt.Sprintf("%s (scheme %q is neither http nor https)", example, u.Scheme)
	case u.Hostname() == "":
		return nil, false, example + " (missing host)"
	case u.Port() != "" && !validPort(u.Port()):
		return nil, false, fmt.Sprintf("%s (port %q is not a number from 1 to 65535)", example, u.Port())
	}
	return u, false, ""
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n <= 65535
}

// portOf returns the port of a URL or host:port, or "".
func portOf(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		return u.Port()
	}
	if _, port, err := net.SplitHostPort(raw); err == nil {
		return port
	}
	return ""
}

// fromAlias handles OTEL_EXPORTER_ENDPOINT, which only Loupe reads: like
// the Jaeger alias it follows its port, 4317 meaning gRPC when no protocol
// was chosen.
func (r *resolver) fromAlias(raw string, proto, protoSrc *string) {
	const not = "OTEL_EXPORTER_ENDPOINT is not an OpenTelemetry variable (other SDKs ignore it)"
	if *protoSrc == "default" && portOf(raw) == "4317" {
		*proto, *protoSrc = ProtocolGRPC, "env OTEL_EXPORTER_ENDPOINT (port 4317)"
		r.warn("%s: %q is sent as OTLP/gRPC, its port being 4317; set OTEL_EXPORTER_OTLP_ENDPOINT=%s and OTEL_EXPORTER_OTLP_PROTOCOL=grpc instead", not, raw, raw)
		return
	}
	r.warn("%s: set OTEL_EXPORTER_OTLP_ENDPOINT=%s instead", not, raw)
}

// fromJaeger maps a legacy Jaeger endpoint (agent host:6831 or collector
// http://host:14268/api/traces) to OTLP on the same host: Jaeger accepts OTLP
// natively on 4317 (gRPC) and 4318 (HTTP). With no protocol chosen it uses
// gRPC on 4317, so the agent's port maps to its OTLP twin.
func (r *resolver) fromJaeger(raw string, proto, protoSrc *string) string {
	host := raw
	if u, err := url.Parse(raw); err == nil && u.Host != "" {
		host = u.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	port := "4318"
	if *proto == ProtocolGRPC || *protoSrc == "default" {
		*proto, *protoSrc, port = ProtocolGRPC, "env OTEL_EXPORTER_JAEGER_ENDPOINT", "4317"
	}
	mapped := "http://" + net.JoinHostPort(host, port)
	r.warn("OTEL_EXPORTER_JAEGER_ENDPOINT is deprecated (Jaeger takes OTLP natively): %q is sent as OTLP to %s; set OTEL_EXPORTER_OTLP_ENDPOINT=%s instead", raw, mapped, mapped)
	return mapped
}

// portWarnings flags an endpoint whose port belongs to the other protocol,
// once for all signals sharing it.
func (r *resolver) portWarnings(c *Config) {
	for _, s := range Signals {
		o, ok := c.OTLP[s]
		if !ok || o.Endpoint == "" {
			continue
		}
		u, err := url.Parse(o.Endpoint)
		if err != nil {
			continue
		}
		where := fmt.Sprintf("the OTLP endpoint %s://%s (%s)", u.Scheme, u.Host, o.EndpointSource)
		switch {
		case u.Port() == "4317" && o.Protocol != ProtocolGRPC:
			r.warn("%s uses port 4317, the OTLP/gRPC port, with protocol %s: set OTEL_EXPORTER_OTLP_PROTOCOL=grpc or use port 4318", where, o.Protocol)
		case u.Port() == "4318" && o.Protocol == ProtocolGRPC:
			r.warn("%s uses port 4318, the OTLP/HTTP port, with protocol grpc: set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf or use port 4317", where)
		}
	}
}

// processInstanceID is this process's service.instance.id when none is
// given: a random UUID version 4, as the resource semantic conventions
// recommend, the same for every Setup of the process.
var processInstanceID = sync.OnceValue(func() string {
	var b [16]byte
	_, _ = rand.Read(b[:])  // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
})
