package ui_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/loupe-dev/loupe/backend/ui"
)

func serve(t *testing.T, h *ui.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	mux := http.NewServeMux()
	h.RegisterRoutes(mux)
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoutes(t *testing.T) {
	h := ui.New()
	for _, tc := range []struct {
		path, status, contentType, contains string
	}{
		{"/", "200", "text/html; charset=utf-8", `<script type="module" src="/ui/`},
		{"/ui/index.html", "200", "text/html; charset=utf-8", "<title>Loupe</title>"},
		{"/ui/js/app.js", "200", "text/javascript; charset=utf-8", "hashchange"},
		{"/ui/js/metrics.js", "200", "text/javascript; charset=utf-8", "query_exemplars"},
		{"/ui/style.css", "200", "text/css; charset=utf-8", ".waterfall"},
		{"/ui/favicon.svg", "200", "image/svg+xml", "<svg"},
		{"/ui/nope.js", "404", "text/plain; charset=utf-8", "not found"},
		{"/ui/", "404", "text/plain; charset=utf-8", "not found"},
		{"/ui/js/", "404", "text/plain; charset=utf-8", "not found"},
		{"/api/ui/config", "200", "application/json", `"otlp"`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp := serve(t, h, http.MethodGet, tc.path, nil)
			b := body(t, resp)
			if got := resp.Status[:3]; got != tc.status {
				t.Errorf("status %s, want %s", resp.Status, tc.status)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if !strings.Contains(b, tc.contains) {
				t.Errorf("body lacks %q:\n%.300s", tc.contains, b)
			}
			if got := resp.Header.Get("Content-Security-Policy"); got != ui.ContentSecurityPolicy {
				t.Errorf("Content-Security-Policy %q", got)
			}
			if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			for k := range resp.Header {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("CORS header %s: %q", k, resp.Header.Get(k))
				}
			}
		})
	}
}

// The policy allows this origin only and no inline script: the page must
// work under it, so it has no inline script, style or event handler.
func TestCSP(t *testing.T) {
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(ui.ContentSecurityPolicy, want) {
			t.Errorf("policy lacks %q", want)
		}
	}
	if strings.Contains(ui.ContentSecurityPolicy, "unsafe") {
		t.Errorf("policy allows something unsafe: %s", ui.ContentSecurityPolicy)
	}
	index := body(t, serve(t, ui.New(), http.MethodGet, "/", nil))
	for _, re := range []string{`<script(?:\s[^>]*)?>\s*[^<\s]`, `<style`, `\sstyle=`, `\son[a-z]+=`, `(?:src|href)="(?:https?:)?//`} {
		if m := regexp.MustCompile(re).FindString(index); m != "" {
			t.Errorf("index.html has %q, which the policy blocks or which leaves the origin", m)
		}
	}
}

// Every file under static/ is embedded and served; the scripts and styles
// take nothing from another origin and never write data as HTML.
func TestAssetsEmbedded(t *testing.T) {
	h := ui.New()
	version := pageVersion(t, h)
	n := 0
	err := filepath.WalkDir("static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		want, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(strings.TrimPrefix(p, "static"+string(filepath.Separator)))
		served := want
		if rel == "index.html" {
			served = []byte(strings.ReplaceAll(string(want), `="/ui/`, `="/ui/`+version+`/`))
		}
		for _, url := range []string{"/ui/" + rel, "/ui/" + version + "/" + rel} {
			resp := serve(t, h, http.MethodGet, url, nil)
			if got := body(t, resp); resp.StatusCode != http.StatusOK || got != string(served) {
				t.Errorf("GET %s: %s, %d bytes; want the %d bytes of %s", url, resp.Status, len(got), len(served), p)
			}
		}
		text := string(want)
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "http://", "https://"} {
			if strings.Contains(text, bad) && !(bad == "http://" && allowedHTTP(text)) {
				t.Errorf("%s contains %q", p, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Errorf("only %d static files", n)
	}
}

// pageVersion is the version in the page's references to its files.
func pageVersion(t *testing.T, h *ui.Handler) string {
	t.Helper()
	m := regexp.MustCompile(`src="/ui/([0-9a-f]{16})/js/app\.js"`).FindStringSubmatch(body(t, serve(t, h, http.MethodGet, "/", nil)))
	if m == nil {
		t.Fatal("the page names no versioned app.js")
	}
	return m[1]
}

// The page names its files under their version, which a browser keeps for
// good (and the scripts' relative imports follow); the page itself, and
// the files at their plain paths, are revalidated each time; another
// version is not found.
func TestVersionedAssets(t *testing.T) {
	h := ui.New()
	version := pageVersion(t, h)
	page := body(t, serve(t, h, http.MethodGet, "/", nil))
	refs := regexp.MustCompile(`(?:src|href)="(/ui/[^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 3 {
		t.Fatalf("the page references %d files, want its icon, style and script", len(refs))
	}
	for _, ref := range refs {
		if !strings.HasPrefix(ref[1], "/ui/"+version+"/") {
			t.Errorf("the page references %s, not under /ui/%s/", ref[1], version)
			continue
		}
		resp := serve(t, h, http.MethodGet, ref[1], nil)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", ref[1], resp.Status)
		}
		if got := resp.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q, want it kept for good", ref[1], got)
		}
	}
	for _, p := range []string{"/", "/ui/js/app.js"} {
		if got := serve(t, h, http.MethodGet, p, nil).Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache", p, got)
		}
	}
	if resp := serve(t, h, http.MethodGet, "/ui/0123456789abcdef/js/app.js", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("another version's app.js: %s, want 404", resp.Status)
	}
}

// allowedHTTP reports whether the only "http://" in a file are the SVG
// namespace and the example OTLP endpoint of the empty state.
func allowedHTTP(text string) bool {
	text = strings.ReplaceAll(text, "http://www.w3.org/2000/svg", "")
	text = strings.ReplaceAll(text, "'http://' +", "")
	return !strings.Contains(text, "http://") && !strings.Contains(text, "https://")
}

func TestCaching(t *testing.T) {
	h := ui.New()
	resp := serve(t, h, http.MethodGet, "/ui/style.css", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	if resp := serve(t, h, http.MethodGet, "/ui/style.css", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %s, want 304", resp.Status)
	}
	if resp := serve(t, h, http.MethodHead, "/", nil); resp.StatusCode != http.StatusOK || body(t, resp) != "" {
		t.Errorf("HEAD /: %s", resp.Status)
	}
	if resp := serve(t, h, http.MethodPost, "/", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %s, want 405", resp.Status)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		opts       []ui.Option
		grpc, http []string
	}{
		{nil, []string{}, []string{}},
		{[]ui.Option{ui.WithOTLPEndpoints([]string{"127.0.0.1:4317", "[::1]:4317"}, []string{"127.0.0.1:4318"})},
			[]string{"127.0.0.1:4317", "[::1]:4317"}, []string{"127.0.0.1:4318"}},
	} {
		resp := serve(t, ui.New(tc.opts...), http.MethodGet, "/api/ui/config", nil)
		var c struct {
			OTLP struct{ GRPC, HTTP []string } `json:"otlp"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
			t.Fatal(err)
		}
		if !equal(c.OTLP.GRPC, tc.grpc) || !equal(c.OTLP.HTTP, tc.http) {
			t.Errorf("config %+v, want grpc %v http %v", c, tc.grpc, tc.http)
		}
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, ",") == strings.Join(b, ",") && len(a) == len(b)
}

func TestIsStatic(t *testing.T) {
	for _, tc := range []struct {
		method, path string
		want         bool
	}{
		{"GET", "/", true},
		{"HEAD", "/", true},
		{"GET", "/ui/js/app.js", true},
		{"GET", "/ui/", true},
		{"POST", "/", false},
		{"POST", "/ui/js/app.js", false},
		{"GET", "/api/ui/config", false},
		{"GET", "/api/traces", false},
		{"GET", "/api/v1/query", false},
		{"GET", "/api/logs", false},
		{"GET", "/uix", false},
		{"GET", "/ui", false},
		{"GET", "/favicon.ico", false},
		{"GET", "/v1/traces", false},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if got := ui.IsStatic(r); got != tc.want {
			t.Errorf("IsStatic(%s %s) = %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}
