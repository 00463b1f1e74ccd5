package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/backend/forward"
	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/diskstore"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/internal/otlpconf"
)

const usage = `usage: loupe <command> [flags]

commands:
  demo    run the demo platform (five services and their traffic) on an embedded backend
  serve   run the local backend: OTLP in, bounded store, Jaeger query API
  doctor  print the telemetry configuration of this environment and check its endpoints
  version print the version, commit and Go version of this binary (also --version)
  help    show this text

Run 'loupe demo -h' or 'loupe serve -h' for their flags.
`

// run is main without the process: it returns the exit code. ready, when
// not nil, is called once the server listens (for tests).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(*server.Server)) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr, ready)
	case "demo":
		return runDemo(ctx, args[1:], stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args[1:], os.LookupEnv, stdout, stderr)
	case "version", "-version", "--version":
		return runVersion(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "loupe: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// Defaults of serve.
const (
	defaultMaxSize   = "256MiB"
	defaultRetention = "24h"
	shutdownTimeout  = 10 * time.Second
)

type serveFlags struct {
	otlpGRPC, otlpHTTP, http string
	dataDir                  string
	maxSize                  int64
	retention                time.Duration
	token                    string
	tokenOnCommandLine       bool // to warn that ps shows it
	allowedHosts             []string
	forward                  string
	forwardOpts              []forward.Option
	forwardHeaderNames       []string // for the start-up line; never the values
	forwardProtocol          string
}

// listFlag collects a repeated flag's values.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "" {
		return errors.New("empty value")
	}
	*l = append(*l, s)
	return nil
}

// headerFlag collects repeated --forward-header name=value flags. Its
// String never shows a value.
type headerFlag map[string]string

func (h headerFlag) String() string { return "" }

func (h headerFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	k = strings.ToLower(strings.TrimSpace(k))
	if !ok || k == "" {
		return errors.New("want name=value")
	}
	h[k] = strings.TrimSpace(v)
	return nil
}

func parseServeFlags(args []string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("loupe serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.otlpGRPC, "otlp-grpc", "localhost:4317", `OTLP/gRPC listen address ("" to disable); localhost means 127.0.0.1 and ::1`)
	fs.StringVar(&f.otlpHTTP, "otlp-http", "localhost:4318", `OTLP/HTTP listen address ("" to disable)`)
	fs.StringVar(&f.http, "http", "localhost:16686", `web UI and query API listen address ("" to disable)`)
	fs.StringVar(&f.dataDir, "data-dir", defaultDataDir(), `directory of the persistent store; "" keeps data in memory only`)
	maxSize := fs.String("max-size", defaultMaxSize, "size bound of the stored data (B, KiB, MiB, GiB, KB, MB, GB); the oldest data goes first")
	retention := fs.String("retention", defaultRetention, `age bound of the stored data (a Go duration such as 90m, or days such as 7d)`)
	fs.StringVar(&f.token, "token", "", "bearer token required on every listener, except for the web UI's page and static files, which ask for it (default: $LOUPE_TOKEN; none when both are empty); other users see it in ps: prefer --token-file or $LOUPE_TOKEN")
	tokenFile := fs.String("token-file", "", "file holding the bearer token (surrounding white space ignored), instead of --token")
	fs.Var((*listFlag)(&f.allowedHosts), "allowed-host", "a host name the HTTP listeners accept in the Host header besides localhost, 127.0.0.1 and ::1 when they listen on loopback without a token (others get 403, against DNS rebinding) (repeatable)")
	fs.StringVar(&f.forward, "forward", "", "also send everything received to this OTLP endpoint: over grpc host:port (plain) or https://host:port (TLS), over http/protobuf http(s)://host:port[/prefix] (/v1/traces, … appended); never slows ingest: when it cannot keep up, requests are dropped and counted")
	protocol := fs.String("forward-protocol", forward.ProtocolGRPC, "protocol of --forward: grpc or http/protobuf")
	headers := headerFlag{}
	fs.Var(headers, "forward-header", "header sent with every forwarded export, as name=value, e.g. 'Authorization=Bearer x' (repeatable; added to $LOUPE_FORWARD_HEADERS, which takes the OTEL_EXPORTER_OTLP_HEADERS format k=v,k2=v2 and keeps secrets off the command line); values are never printed")
	compression := fs.String("forward-compression", forward.DefaultCompression, "compression of forwarded exports: gzip or none")
	caFile := fs.String("forward-ca", "", "PEM file of the certificate authorities trusted for an https:// --forward endpoint (default: the system's)")
	certFile := fs.String("forward-cert", "", "PEM client certificate for an https:// --forward endpoint that requires mutual TLS (with --forward-key)")
	keyFile := fs.String("forward-key", "", "PEM private key of --forward-cert")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var err error
	if f.maxSize, err = parseSize(*maxSize); err != nil {
		return nil, fmt.Errorf("--max-size: %w", err)
	}
	if f.retention, err = parseRetention(*retention); err != nil {
		return nil, fmt.Errorf("--retention: %w", err)
	}
	fs.Visit(func(fl *flag.Flag) { f.tokenOnCommandLine = f.tokenOnCommandLine || fl.Name == "token" })
	if *tokenFile != "" {
		if f.tokenOnCommandLine {
			return nil, errors.New("--token and --token-file: give one")
		}
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--token-file: %w", err)
		}
		if f.token = strings.TrimSpace(string(b)); f.token == "" {
			return nil, fmt.Errorf("--token-file: %s is empty", *tokenFile)
		}
	}
	if f.token == "" {
		f.token = os.Getenv("LOUPE_TOKEN")
	}
	if err := f.forwardOptions(headers, *protocol, *compression, *caFile, *certFile, *keyFile); err != nil {
		return nil, err
	}
	if f.otlpGRPC == "" && f.otlpHTTP == "" && f.http == "" {
		return nil, errors.New("every listener is disabled: nothing to serve")
	}
	return f, nil
}

// forwardOptions turns the --forward-* flags and $LOUPE_FORWARD_HEADERS into
// forward options; it refuses them without --forward, where they would be
// silently ignored.
func (f *serveFlags) forwardOptions(flagHeaders headerFlag, protocol, compression, caFile, certFile, keyFile string) error {
	all, err := forward.ParseHeaders(os.Getenv("LOUPE_FORWARD_HEADERS"))
	if err != nil {
		return fmt.Errorf("$LOUPE_FORWARD_HEADERS: %w", err)
	}
	maps.Copy(all, flagHeaders)
	if f.forward == "" {
		if len(flagHeaders) > 0 || caFile != "" || certFile != "" || keyFile != "" || compression != forward.DefaultCompression ||
			protocol != forward.ProtocolGRPC {
			return errors.New("--forward-* flags need --forward")
		}
		return nil
	}
	if len(all) > 0 {
		f.forwardOpts = append(f.forwardOpts, forward.WithHeaders(all))
		f.forwardHeaderNames = slices.Sorted(maps.Keys(all))
	}
	f.forwardOpts = append(f.forwardOpts, forward.WithCompression(compression), forward.WithProtocol(protocol))
	f.forwardProtocol = protocol
	if caFile == "" && certFile == "" && keyFile == "" {
		return nil
	}
	cfg, err := otlpconf.LoadTLS(otlpconf.TLSFiles{CA: caFile, Cert: certFile, Key: keyFile})
	if err != nil {
		var msgs []string
		for _, fe := range otlpconf.FileErrors(err) {
			switch {
			case errors.Is(fe, otlpconf.ErrHalfPair):
				msgs = append(msgs, "--forward-cert and --forward-key go together")
			case fe.Role == otlpconf.RoleCA:
				msgs = append(msgs, "--forward-ca: "+fe.Error())
			default:
				msgs = append(msgs, "--forward-cert, --forward-key: "+fe.Error())
			}
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	f.forwardOpts = append(f.forwardOpts, forward.WithTLSConfig(cfg))
	return nil
}

// defaultDataDir is loupe/data under the user's cache directory, or "" (memory
// only) where the system has none.
func defaultDataDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "loupe", "data")
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

// parseSize reads sizes such as 512MiB, 2GB or 1048576.
func parseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(strings.ToUpper(num), strings.ToUpper(u.suffix)) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("want a positive size such as 256MiB or 2GB, got %q", s)
	}
	n := int64(f * float64(mult))
	if n < 1<<20 {
		return 0, fmt.Errorf("%q is below the minimum of 1MiB", s)
	}
	return n, nil
}

// parseRetention reads Go durations, and whole days as "7d".
func parseRetention(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("want a positive duration such as 24h or 7d, got %q", s)
	}
	return d, nil
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(*server.Server)) int {
	f, err := parseServeFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "loupe serve: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if f.tokenOnCommandLine && f.token != "" {
		log.Warn("--token is visible to every user of this machine (ps, /proc); use --token-file or $LOUPE_TOKEN")
	}
	memLimit, restoreGC := tuneGC(f.maxSize, f.dataDir != "")
	defer restoreGC()
	defer enableProtoPooling(os.Getenv)()
	if memLimit > 0 {
		log.Debug("soft memory limit", "bytes", memLimit)
	}
	var st store.Store
	var replaying *diskstore.Store
	where := "in memory"
	if f.dataDir == "" {
		st = memstore.New(memstore.WithMaxBytes(f.maxSize), memstore.WithRetention(f.retention))
	} else {
		// The replay runs while the listeners serve (watchReplay).
		ds, err := diskstore.Start(f.dataDir, diskstore.WithMaxBytes(f.maxSize), diskstore.WithRetention(f.retention), diskstore.WithLogger(log))
		if err != nil {
			fmt.Fprintf(stderr, "loupe serve: --data-dir %s: %v\n", f.dataDir, err)
			return 1
		}
		_, total := ds.Progress()
		log.Info("store opened; replaying it", "dir", f.dataDir, "bytes", total)
		st, where, replaying = ds, "in "+f.dataDir, ds
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing the store", "error", err)
		}
	}()
	var fw *forward.Forwarder
	if f.forward != "" {
		if fw, err = forward.New(f.forward, append(f.forwardOpts, forward.WithLogger(log))...); err != nil {
			fmt.Fprintf(stderr, "loupe serve: --forward: %v\n", err)
			return 2
		}
		st = forward.Wrap(st, fw)
	}
	srv, err := server.Start(ctx, server.Config{
		OTLPGRPCAddr: f.otlpGRPC,
		OTLPHTTPAddr: f.otlpHTTP,
		HTTPAddr:     f.http,
		Token:        f.token,
		AllowedHosts: f.allowedHosts,
		Store:        st,
		Logger:       log,
	})
	if err != nil {
		if fw != nil {
			_ = fw.Shutdown(context.Background()) // nothing was queued
		}
		fmt.Fprintf(stderr, "loupe serve: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "loupe serve: storing %s (at most %d bytes, %v)", where, f.maxSize, f.retention)
	if f.token != "" {
		fmt.Fprint(stdout, "; bearer token required")
	}
	if fw != nil {
		fmt.Fprintf(stdout, "; forwarding to %s over %s", f.forward, f.forwardProtocol)
		if len(f.forwardHeaderNames) > 0 {
			fmt.Fprintf(stdout, " with headers %s", strings.Join(f.forwardHeaderNames, ", "))
		}
	}
	fmt.Fprintln(stdout)
	for _, name := range []string{"otlp-grpc", "otlp-http", "http"} {
		for _, a := range srv.Addrs(name) {
			fmt.Fprintf(stdout, "  %-9s %s\n", name, a)
		}
	}
	if ready != nil {
		ready(srv)
	}
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	replayFailed := watchReplay(ctx, replaying, log, stop)
	<-ctx.Done()
	log.Info("stopping")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	code := 0
	if err := srv.Shutdown(sctx); err != nil {
		log.Error("shutdown", "error", err)
		code = 1
	}
	if fw != nil { // after the listeners: nothing more is queued
		if err := fw.Shutdown(sctx); err != nil {
			log.Error("forward shutdown", "error", err)
			code = 1
		}
	}
	if replayFailed() {
		code = 1
	}
	if code != 0 {
		return code
	}
	log.Info("stopped")
	return 0
}
