package forward_test

import (
	"compress/gzip"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/loupe-dev/loupe/backend/forward"
	"github.com/loupe-dev/loupe/internal/testutil"
)

// httpAttempt is one request an OTLP/HTTP test endpoint received.
type httpAttempt struct {
	at     time.Time
	header http.Header
	spans  int // -1 when the body did not decode
}

// otlpHTTPEndpoint answers each POST to /v1/traces with the next of
// answers (the last one repeats) and records what it got.
type otlpHTTPEndpoint struct {
	mu       sync.Mutex
	attempts []httpAttempt
}

type answer struct {
	code   int
	header map[string]string
	body   []byte
}

func (e *otlpHTTPEndpoint) handler(t *testing.T, answers ...answer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/prefix/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("%s %s (%s): want a protobuf POST to /prefix/v1/traces", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Error(err)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		req := ptraceotlp.NewExportRequest()
		spans := -1
		if req.UnmarshalProto(b) == nil {
			spans = req.Traces().SpanCount()
		}
		e.mu.Lock()
		n := len(e.attempts)
		e.attempts = append(e.attempts, httpAttempt{at: time.Now(), header: r.Header.Clone(), spans: spans})
		e.mu.Unlock()
		a := answers[min(n, len(answers)-1)]
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.code)
		_, _ = w.Write(a.body)
	})
}

func (e *otlpHTTPEndpoint) got() []httpAttempt {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]httpAttempt(nil), e.attempts...)
}

func newHTTPForwarder(t *testing.T, url string, opts ...forward.Option) *forward.Forwarder {
	t.Helper()
	fw, err := forward.New(url, append([]forward.Option{forward.WithProtocol(forward.ProtocolHTTPProtobuf)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

// Over OTLP/HTTP, exports are posted gzip-compressed (or not) with the
// headers, under the endpoint's path prefix.
func TestHTTPHeadersAndCompression(t *testing.T) {
	for _, compression := range []string{"gzip", "none"} {
		t.Run(compression, func(t *testing.T) {
			var ep otlpHTTPEndpoint
			srv := httptest.NewServer(ep.handler(t, answer{code: http.StatusOK}))
			defer srv.Close()
			fw := newHTTPForwarder(t, srv.URL+"/prefix/", forward.WithCompression(compression),
				forward.WithHeaders(map[string]string{"api-key": "k1"}), forward.WithLogger(slog.New(slog.DiscardHandler)))
			fw.Traces(bigTraces())
			shutdown(t, fw)
			got := ep.got()
			if len(got) != 1 || got[0].spans != bigTraces().SpanCount() || got[0].header.Get("Api-Key") != "k1" {
				t.Fatalf("attempts %+v", got)
			}
			if enc, want := got[0].header.Get("Content-Encoding"), map[string]string{"gzip": "gzip", "none": ""}[compression]; enc != want {
				t.Errorf("Content-Encoding %q, want %q", enc, want)
			}
			if s := fw.Stats(); s.Sent != 1 {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

// 503 with Retry-After: the forwarder waits as asked, then succeeds.
func TestHTTPRetryAfter(t *testing.T) {
	var ep otlpHTTPEndpoint
	srv := httptest.NewServer(ep.handler(t,
		answer{code: http.StatusServiceUnavailable, header: map[string]string{"Retry-After": "1"}},
		answer{code: http.StatusOK}))
	defer srv.Close()
	fw := newHTTPForwarder(t, srv.URL+"/prefix", forward.WithRetryFor(5*time.Second), forward.WithLogger(slog.New(slog.DiscardHandler)))
	fw.Traces(bigTraces())
	deadline := time.Now().Add(10 * time.Second)
	for fw.Stats().Sent == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	shutdown(t, fw)
	got := ep.got()
	if s := fw.Stats(); s.Sent != 1 || len(got) != 2 {
		t.Fatalf("stats %+v after %d attempts, want sent after 2", s, len(got))
	}
	if wait := got[1].at.Sub(got[0].at); wait < time.Second {
		t.Errorf("retried after %v, the endpoint asked for 1s", wait)
	}
}

// A 400 is not retried; the failure log gives the endpoint's message (a
// google.rpc.Status) and never a header value.
func TestHTTPPermanentErrorLogged(t *testing.T) {
	st, err := proto.Marshal(&spb.Status{Code: 3, Message: "spans without trace ids"})
	if err != nil {
		t.Fatal(err)
	}
	var ep otlpHTTPEndpoint
	srv := httptest.NewServer(ep.handler(t, answer{code: http.StatusBadRequest,
		header: map[string]string{"Content-Type": "application/x-protobuf"}, body: st}))
	defer srv.Close()
	var logs testutil.SyncBuffer
	fw := newHTTPForwarder(t, srv.URL+"/prefix", forward.WithHeaders(map[string]string{"authorization": "Bearer s3cret"}),
		forward.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	fw.Traces(bigTraces())
	shutdown(t, fw)
	if s, n := fw.Stats(), len(ep.got()); s.Failed != 1 || n != 1 {
		t.Errorf("stats %+v after %d attempts, want 1 failed after 1", s, n)
	}
	out := logs.String()
	if !strings.Contains(out, "400 Bad Request: spans without trace ids") {
		t.Errorf("the log lacks the endpoint's answer:\n%s", out)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("the log shows a header value:\n%s", out)
	}
}

// https:// with custom roots; the system's roots refuse the test certificate.
func TestHTTPTLSWithCustomRoots(t *testing.T) {
	var ep otlpHTTPEndpoint
	srv := httptest.NewTLSServer(ep.handler(t, answer{code: http.StatusOK}))
	defer srv.Close()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	fw := newHTTPForwarder(t, srv.URL+"/prefix", forward.WithTLSConfig(&tls.Config{RootCAs: roots}), forward.WithLogger(slog.New(slog.DiscardHandler)))
	fw.Traces(bigTraces())
	shutdown(t, fw)
	if s := fw.Stats(); s.Sent != 1 {
		t.Errorf("stats %+v, want 1 sent", s)
	}

	fw = newHTTPForwarder(t, srv.URL+"/prefix", forward.WithRetryFor(time.Millisecond), forward.WithLogger(slog.New(slog.DiscardHandler)))
	fw.Traces(bigTraces())
	shutdown(t, fw)
	if s := fw.Stats(); s.Sent != 0 || s.Failed != 1 {
		t.Errorf("with the system's roots: stats %+v, want the export to fail", s)
	}
	if fw, err := forward.New(strings.Replace(srv.URL, "https", "http", 1), forward.WithProtocol(forward.ProtocolHTTPProtobuf),
		forward.WithTLSConfig(&tls.Config{})); err == nil {
		_ = fw.Shutdown(t.Context())
		t.Error("TLS settings for an http:// endpoint accepted")
	}
}
