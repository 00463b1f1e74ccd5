package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/server"
	"github.com/loupe-dev/loupe/backend/ui"
	"github.com/loupe-dev/loupe/internal/servertest"
)

func do(t *testing.T, method, url, tok string, hdr map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestUI: the web UI is served at / on the http listener with its security
// headers; with a token, its static files need none, everything else does.
func TestUI(t *testing.T) {
	t.Run("no token", func(t *testing.T) {
		srv := servertest.Start(t, server.Config{OTLPHTTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0"})
		api := servertest.URL(srv, "http")
		resp := do(t, http.MethodGet, api+"/", "", nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
			resp.Header.Get("Content-Security-Policy") != ui.ContentSecurityPolicy || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET /: %s %v", resp.Status, resp.Header)
		}
		code, body := apiGet(t, api, "/api/ui/config", "")
		var c struct {
			OTLP struct{ GRPC, HTTP []string } `json:"otlp"`
		}
		if err := json.Unmarshal(body, &c); code != http.StatusOK || err != nil ||
			len(c.OTLP.GRPC) != 0 || len(c.OTLP.HTTP) != 1 || c.OTLP.HTTP[0] != srv.Addrs("otlp-http")[0].String() {
			t.Errorf("GET /api/ui/config: %d %s", code, body)
		}
		// The OTLP listener serves no UI.
		if resp := do(t, http.MethodGet, servertest.URL(srv, "otlp-http")+"/", "", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET / on otlp-http: %s, want 404", resp.Status)
		}
		// No CORS, not even to a preflight.
		for _, r := range []struct{ method, path string }{
			{http.MethodGet, "/"}, {http.MethodGet, "/ui/js/app.js"}, {http.MethodGet, "/api/services"},
			{http.MethodGet, "/api/v1/label/__name__/values"}, {http.MethodGet, "/api/logs"}, {http.MethodOptions, "/api/services"},
		} {
			resp := do(t, r.method, api+r.path, "", map[string]string{"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"})
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("%s %s: CORS header %s: %s", r.method, r.path, k, resp.Header.Get(k))
				}
			}
		}
	})

	t.Run("token", func(t *testing.T) {
		srv := servertest.Start(t, server.Config{OTLPHTTPAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", Token: token})
		api := servertest.URL(srv, "http")
		otlp := servertest.URL(srv, "otlp-http")
		for _, tc := range []struct {
			method, url, tok string
			want             int
		}{
			// The static files hold no data: no token needed.
			{http.MethodGet, api + "/", "", http.StatusOK},
			{http.MethodHead, api + "/", "", http.StatusOK},
			{http.MethodGet, api + "/ui/js/app.js", "", http.StatusOK},
			{http.MethodGet, api + "/ui/style.css", "wrong", http.StatusOK},
			{http.MethodGet, api + "/ui/nope.js", "", http.StatusNotFound},
			// Everything else needs it.
			{http.MethodPost, api + "/", "", http.StatusUnauthorized},
			{http.MethodGet, api + "/api/ui/config", "", http.StatusUnauthorized},
			{http.MethodGet, api + "/api/services", "", http.StatusUnauthorized},
			{http.MethodGet, api + "/api/traces?service=x", "", http.StatusUnauthorized},
			{http.MethodGet, api + "/api/v1/label/__name__/values", "", http.StatusUnauthorized},
			{http.MethodGet, api + "/api/v1/query_exemplars?query=up", "wrong", http.StatusUnauthorized},
			{http.MethodGet, api + "/api/logs", "", http.StatusUnauthorized},
			{http.MethodGet, api + "/api/v3/services", "", http.StatusUnauthorized},
			{http.MethodGet, api + "/favicon.ico", "", http.StatusUnauthorized},
			{http.MethodGet, api + "/api/services", token, http.StatusOK},
			{http.MethodGet, api + "/api/ui/config", token, http.StatusOK},
			{http.MethodGet, api + "/api/logs", token, http.StatusOK},
			// The exemption is the UI's, on its listener only.
			{http.MethodGet, otlp + "/", "", http.StatusUnauthorized},
			{http.MethodGet, otlp + "/ui/js/app.js", "", http.StatusUnauthorized},
		} {
			if resp := do(t, tc.method, tc.url, tc.tok, nil); resp.StatusCode != tc.want {
				t.Errorf("%s %s with token %q: %s, want %d", tc.method, tc.url, tc.tok, resp.Status, tc.want)
			}
		}
	})
}
