package server_test

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/internal/probe"
	"github.com/loupe-dev/loupe/internal/servertest"
)

func hostGet(t *testing.T, url, host, tok string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Bound to loopback without a token, the HTTP listeners serve only
// requests naming a loopback host or an allowed one (DNS rebinding);
// with a token, the token is the defence and any host is served.
func TestHostHeader(t *testing.T) {
	srv := servertest.Start(t, server.Config{OTLPHTTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", AllowedHosts: []string{"Loupe.Internal"}})
	api := servertest.URL(srv, "http") + "/api/services"
	port := fmt.Sprint(srv.Addrs("http")[0].(*net.TCPAddr).Port)
	for host, want := range map[string]int{
		"localhost:" + port:      http.StatusOK,
		"127.0.0.1:" + port:      http.StatusOK,
		"127.0.0.1":              http.StatusOK,
		"[::1]:" + port:          http.StatusOK,
		"LOCALHOST.":             http.StatusOK,
		"loupe.internal:" + port: http.StatusOK,
		"evil.example:" + port:   http.StatusForbidden,
		"evil.example":           http.StatusForbidden,
		"localhost.evil.example": http.StatusForbidden,
		"127.0.0.1.nip.io":       http.StatusForbidden,
	} {
		if got := hostGet(t, api, host, ""); got != want {
			t.Errorf("Host %q: %d, want %d", host, got, want)
		}
	}
	// OTLP/HTTP too: a page must not write into the store.
	if got := hostGet(t, servertest.URL(srv, "otlp-http")+"/v1/traces", "evil.example", ""); got != http.StatusForbidden {
		t.Errorf("OTLP/HTTP with a foreign Host: %d, want 403", got)
	}

	withToken := servertest.Start(t, server.Config{HTTPAddr: "127.0.0.1:0", Token: token})
	if got := hostGet(t, servertest.URL(withToken, "http")+"/api/services", "evil.example", token); got != http.StatusOK {
		t.Errorf("with a token, a foreign Host: %d, want 200", got)
	}
}

// meanLatency is probe.MeanLatency against srv.
func meanLatency(t *testing.T, srv *server.Server, n int) (httpMean, grpcMean time.Duration) {
	t.Helper()
	h, g, err := probe.MeanLatency(servertest.URL(srv, "otlp-http"), srv.Addrs("otlp-grpc")[0].String(), n)
	if err != nil {
		t.Fatal(err)
	}
	return h, g
}

// Four clients sending their bodies at one byte a second (as many as the
// request slots) do not slow ordinary clients over HTTP and gRPC: their
// mean answer stays within twice the one without them (and 10 ms, as
// sub-millisecond means are noisy on a shared machine; one request held
// until the slow ones are cut adds 80 ms).
func TestSlowClientsDoNotSlowOthers(t *testing.T) {
	srv := servertest.Start(t, server.Config{OTLPGRPCAddr: "127.0.0.1:0", OTLPHTTPAddr: "127.0.0.1:0"})
	const n = 40
	meanLatency(t, srv, 5) // warm up
	baseHTTP, baseGRPC := meanLatency(t, srv, n)

	stop := make(chan struct{})
	done := make(chan struct{})
	const slow = 4
	for range slow {
		go func() {
			defer func() { done <- struct{}{} }()
			if err := probe.Trickle(srv.Addrs("otlp-http")[0].String(), stop); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond) // they have sent headers and a byte
	withHTTP, withGRPC := meanLatency(t, srv, n)
	close(stop)
	for range slow {
		<-done
	}
	t.Logf("mean answer without / with %d slow clients: HTTP %v / %v, gRPC %v / %v", slow, baseHTTP, withHTTP, baseGRPC, withGRPC)
	const slack = 10 * time.Millisecond
	if withHTTP > 2*baseHTTP+slack || withGRPC > 2*baseGRPC+slack {
		t.Errorf("slow clients slowed others beyond 2x: HTTP %v -> %v, gRPC %v -> %v", baseHTTP, withHTTP, baseGRPC, withGRPC)
	}
}
