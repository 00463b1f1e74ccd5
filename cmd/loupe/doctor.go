package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/loupe-dev/loupe/telemetry"
)

// finding is one result of `loupe doctor`: a plain sentence that says what
// was seen and, for a problem, what to change.
type finding struct {
	Check    string `json:"check"`
	Severity string `json:"severity"` // "ok", "warning" or "problem"
	Message  string `json:"message"`
}

type doctorReport struct {
	Settings []telemetry.Setting `json:"settings"`
	Warnings []string            `json:"warnings"`
	Findings []finding           `json:"findings"`
}

func (r *doctorReport) add(check, severity, format string, args ...any) {
	r.Findings = append(r.Findings, finding{Check: check, Severity: severity, Message: fmt.Sprintf(format, args...)})
}

func (r *doctorReport) problems() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == "problem" {
			n++
		}
	}
	return n
}

const doctorUsage = `usage: loupe doctor [--json] [--timeout 3s]

Prints the telemetry configuration that telemetry.Setup resolves from this
environment (the OTEL_* variables), with the source of each value, then checks
it: the kill switches, the sampler, and for each OTLP endpoint that its host
resolves, that it accepts a connection, that TLS handshakes when https, and
that an empty export of each signal is answered (which shows a protocol sent
to the other's port); also the Prometheus listener's address and the clock.
Exits 1 when a check finds a problem.
`

func runDoctor(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, doctorUsage); fs.PrintDefaults() }
	asJSON := fs.Bool("json", false, "print the report as JSON")
	timeout := fs.Duration("timeout", 3*time.Second, "bound of each network check")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loupe doctor: unexpected arguments %q\n", fs.Args())
		return 2
	}
	rep := diagnose(ctx, lookup, *timeout)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		fmt.Fprint(stdout, (&telemetry.EffectiveConfig{Settings: rep.Settings}).String())
		fmt.Fprintln(stdout)
		for _, f := range rep.Findings {
			fmt.Fprintf(stdout, "%-8s %s\n", f.Severity, f.Message)
		}
		switch n := rep.problems(); n {
		case 0:
			fmt.Fprintln(stdout, "\nno problem found")
		default:
			fmt.Fprintf(stdout, "\n%d problem(s) found\n", n)
		}
	}
	if rep.problems() > 0 {
		return 1
	}
	return 0
}

// diagnose resolves the configuration as Setup does and checks it.
func diagnose(ctx context.Context, lookup func(string) (string, bool), timeout time.Duration) doctorReport {
	cfg, err := telemetry.Resolve(telemetry.WithEnvLookup(lookup))
	rep := doctorReport{Settings: cfg.Settings, Warnings: cfg.Warnings}
	if err != nil {
		errs := []error{err}
		var me *telemetry.MultiConfigError
		if errors.As(err, &me) {
			errs = me.Errors
		}
		for _, e := range errs {
			rep.add("configuration", "problem", "%s (Setup fails with this error)", strings.TrimPrefix(e.Error(), "telemetry: "))
		}
	}
	for _, w := range cfg.Warnings {
		rep.add("configuration", "warning", "%s", w)
	}
	if cfg.Disabled() {
		rep.add("kill switch", "problem", "telemetry is disabled by %s: nothing is recorded nor exported; unset it to turn telemetry on", cfg.DisabledBy())
		return rep
	}
	rep.add("kill switch", "ok", "telemetry is on: OTEL_SDK_DISABLED and OTEL_ENABLED do not turn it off")

	switch name, ratio := cfg.Sampler(); {
	case name == "always_off" || strings.HasSuffix(name, "traceidratio") && ratio == 0:
		rep.add("sampler", "problem", "the sampler %s keeps no trace: set OTEL_TRACES_SAMPLER=parentbased_always_on, or a ratio above 0 in OTEL_TRACES_SAMPLER_ARG", name)
	case name == "parentbased_always_off":
		rep.add("sampler", "warning", "the sampler parentbased_always_off keeps only traces already sampled by a caller: a service that starts traces records none")
	default:
		rep.add("sampler", "ok", "the sampler %s keeps traces", name)
	}

	connected := map[string]bool{} // host:port and TLS, checked once for all signals
	for _, s := range []telemetry.Signal{telemetry.Traces, telemetry.Metrics, telemetry.Logs} {
		o, ok := cfg.OTLP(s)
		if !ok {
			continue
		}
		checkEndpoint(ctx, &rep, s, o, timeout, connected)
	}
	if addr := cfg.PrometheusListener(); addr != "" {
		checkPrometheusListener(&rep, addr, lookup)
	}
	if now := time.Now(); now.Year() < 2025 {
		rep.add("clock", "problem", "the clock says %s: telemetry would carry wrong times; set the clock (NTP)", now.Format(time.RFC3339))
	}
	return rep
}

// checkEndpoint checks one signal's OTLP endpoint: DNS, TCP, TLS, then an
// empty export, the way the exporter will talk to it.
func checkEndpoint(ctx context.Context, rep *doctorReport, s telemetry.Signal, o telemetry.OTLPExporter, timeout time.Duration, connected map[string]bool) {
	u, err := url.Parse(o.Endpoint)
	if err != nil {
		return // reported as a configuration problem
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	addr := net.JoinHostPort(host, port)
	what := fmt.Sprintf("%s endpoint %s (%s, from %s)", s, o.Endpoint, o.Protocol, o.Source)
	key := addr + " " + u.Scheme
	if ok, seen := connected[key]; seen && !ok {
		return // the connection problem is already reported
	} else if !seen {
		ok := checkConnection(ctx, rep, host, addr, u.Scheme, o, timeout)
		connected[key] = ok
		if !ok {
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if o.Protocol == telemetry.ProtocolGRPC {
		exportGRPC(ctx, rep, s, what, u.Host, o, timeout)
		return
	}
	exportHTTP(ctx, rep, what, o, timeout)
}

func checkConnection(ctx context.Context, rep *doctorReport, host, addr, scheme string, o telemetry.OTLPExporter, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := net.DefaultResolver.LookupHost(ctx, host); err != nil {
		rep.add("endpoint", "problem", "the host %s does not resolve (%v): check the endpoint's name; inside a container, localhost is the container itself", host, err)
		return false
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		rep.add("endpoint", "problem", "nothing listens on %s: start the collector (or loupe serve) there, or fix the endpoint's port", addr)
		return false
	case err != nil:
		rep.add("endpoint", "problem", "%s does not accept a connection within %s (%v): check the address and any firewall between", addr, timeout, err)
		return false
	}
	defer conn.Close()
	if scheme != "https" {
		rep.add("endpoint", "ok", "%s accepts connections (plaintext)", addr)
		return true
	}
	cfg := o.TLS.Clone()
	cfg.ServerName = host
	if o.Protocol == telemetry.ProtocolGRPC {
		cfg.NextProtos = []string{"h2"}
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		rep.add("tls", "problem", "the TLS handshake with %s fails (%v): for a plaintext collector write http://; otherwise give its CA in OTEL_EXPORTER_OTLP_CERTIFICATE", addr, err)
		return false
	}
	rep.add("tls", "ok", "%s accepts connections and TLS handshakes", addr)
	return true
}

func exportHTTP(ctx context.Context, rep *doctorReport, what string, o telemetry.OTLPExporter, timeout time.Duration) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{TLSClientConfig: o.TLS, Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Endpoint, http.NoBody)
	if err != nil {
		rep.add("export", "problem", "%s: %v", what, err)
		return
	}
	for k, v := range o.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/x-protobuf") // an empty body is an empty export request
	resp, err := client.Do(req)
	switch {
	case err != nil && (strings.Contains(err.Error(), `malformed HTTP response "\x00\x00`) || strings.Contains(err.Error(), "malformed HTTP status code")):
		rep.add("export", "problem", "%s answers in HTTP/2 frames: this looks like a gRPC port; set OTEL_EXPORTER_OTLP_PROTOCOL=grpc, or use the collector's OTLP/HTTP port (usually 4318)", what)
		return
	case err != nil && (errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err)):
		rep.add("export", "problem", "%s accepts connections but does not answer an export within %s: is it an OTLP receiver?", what, timeout)
		return
	case err != nil:
		rep.add("export", "problem", "%s: an empty export fails: %v", what, err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	checkClock(rep, o.Endpoint, resp.Header.Get("Date"))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		rep.add("export", "ok", "%s takes exports", what)
	case c == http.StatusNotFound:
		rep.add("export", "problem", "%s answers 404: no OTLP receiver at this path; the general endpoint is a base URL to which /v1/<signal> is added, a per-signal one (OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT) is used as it is", what)
	case c == http.StatusUnauthorized || c == http.StatusForbidden:
		rep.add("export", "problem", "%s answers %d: it refuses the credentials; check OTEL_EXPORTER_OTLP_HEADERS", what, c)
	default:
		rep.add("export", "problem", "%s answers %s to an empty export: %q", what, resp.Status, body)
	}
}

var grpcMethods = map[telemetry.Signal]string{
	telemetry.Traces:  "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
	telemetry.Metrics: "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
	telemetry.Logs:    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}

func exportGRPC(ctx context.Context, rep *doctorReport, s telemetry.Signal, what, target string, o telemetry.OTLPExporter, timeout time.Duration) {
	creds := insecure.NewCredentials()
	if o.TLS != nil {
		creds = credentials.NewTLS(o.TLS)
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds))
	if err != nil {
		rep.add("export", "problem", "%s: %v", what, err)
		return
	}
	defer conn.Close()
	ctx = metadata.NewOutgoingContext(ctx, metadata.New(o.Headers))
	// An empty message is an empty export request; the answer's fields are
	// not needed.
	err = conn.Invoke(ctx, grpcMethods[s], &emptypb.Empty{}, &emptypb.Empty{})
	st := status.Convert(err)
	switch {
	case err == nil:
		rep.add("export", "ok", "%s takes exports", what)
	case strings.Contains(st.Message(), "server preface") || strings.Contains(st.Message(), "HTTP/1"):
		rep.add("export", "problem", "%s answers in HTTP/1.1: this looks like an HTTP port; set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, or use the collector's OTLP/gRPC port (usually 4317)", what)
	case st.Code() == codes.DeadlineExceeded:
		rep.add("export", "problem", "%s accepts connections but does not answer an export within %s: is it an OTLP/gRPC receiver?", what, timeout)
	case st.Code() == codes.Unimplemented:
		rep.add("export", "problem", "%s does not take %s over OTLP/gRPC (%s)", what, s, st.Message())
	case st.Code() == codes.Unauthenticated || st.Code() == codes.PermissionDenied:
		rep.add("export", "problem", "%s refuses the credentials (%s): check OTEL_EXPORTER_OTLP_HEADERS", what, st.Message())
	default:
		rep.add("export", "problem", "%s: an empty export fails: %s: %s", what, st.Code(), st.Message())
	}
}

// checkClock compares this machine's clock with a receiver's Date header.
func checkClock(rep *doctorReport, endpoint, date string) {
	t, err := http.ParseTime(date)
	if err != nil {
		return
	}
	if skew := time.Since(t); skew > time.Minute || skew < -time.Minute {
		rep.add("clock", "warning", "this clock and %s's differ by %s: spans and logs will show at the wrong time; synchronise the clocks (NTP)", endpoint, skew.Round(time.Second))
	}
}

// checkPrometheusListener warns when the listener is reachable from this
// machine only: inside a container, Prometheus cannot scrape it.
func checkPrometheusListener(rep *doctorReport, addr string, lookup func(string) (string, bool)) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		rep.add("prometheus", "ok", "the Prometheus listener %s is reachable from other machines", addr)
		return
	}
	_, k8s := lookup("KUBERNETES_SERVICE_HOST")
	_, docker := os.Stat("/.dockerenv")
	if k8s || docker == nil {
		rep.add("prometheus", "problem", "the Prometheus listener %s is on loopback inside a container: Prometheus cannot scrape it; set OTEL_EXPORTER_PROMETHEUS_HOST=0.0.0.0", addr)
		return
	}
	rep.add("prometheus", "warning", "the Prometheus listener %s is reachable from this machine only; in a container, set OTEL_EXPORTER_PROMETHEUS_HOST=0.0.0.0", addr)
}
