package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is the policy every response of the UI carries:
// scripts, styles, images and connections from this origin only, no inline
// script, no plugins, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// AssetPrefix is the path under which the static files are served.
const AssetPrefix = "/ui/"

// contentTypes maps the extensions of the static files to their types, so
// that the answer does not depend on the machine's MIME tables.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

type config struct {
	otlpGRPC, otlpHTTP []string
}

// Option configures a [Handler].
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithOTLPEndpoints sets the OTLP/gRPC and OTLP/HTTP addresses (host:port)
// that the empty state tells users to send data to. Default: none, and the
// page names the defaults of `loupe serve`, localhost:4317 and
// localhost:4318.
func WithOTLPEndpoints(grpc, http []string) Option {
	return optionFunc(func(c *config) {
		c.otlpGRPC = append([]string(nil), grpc...)
		c.otlpHTTP = append([]string(nil), http...)
	})
}

// Handler serves the UI. Its zero value is not usable; call [New].
type Handler struct {
	assets map[string]asset // by URL path
	config []byte           // the JSON of /api/ui/config
}

// New returns the UI handler. Options: [WithOTLPEndpoints] (default none).
func New(opts ...Option) *Handler {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	h := &Handler{assets: map[string]asset{}}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		h.assets[AssetPrefix+strings.TrimPrefix(p, "static/")] = asset{
			body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`,
		}
		return nil
	})
	if err != nil {
		// The files are embedded at build time: reading them cannot fail.
		panic("ui: reading the embedded files: " + err.Error())
	}
	type endpoints struct {
		GRPC []string `json:"grpc"`
		HTTP []string `json:"http"`
	}
	h.config, _ = json.Marshal(struct {
		OTLP endpoints `json:"otlp"`
	}{endpoints{GRPC: nonNil(c.otlpGRPC), HTTP: nonNil(c.otlpHTTP)}})
	return h
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RegisterRoutes registers GET / (the page), GET /ui/… (its files) and GET
// /api/ui/config on mux.
func (h *Handler) RegisterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h.serveAsset(w, r, AssetPrefix+"index.html")
	})
	mux.HandleFunc("GET "+AssetPrefix, func(w http.ResponseWriter, r *http.Request) {
		h.serveAsset(w, r, r.URL.Path)
	})
	mux.HandleFunc("GET /api/ui/config", func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(h.config)
	})
}

// IsStatic reports whether r asks for one of the UI's static files (the
// page at / or a file under /ui/), which hold no data: a server that
// requires a token serves them without it.
func IsStatic(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	return r.URL.Path == "/" || strings.HasPrefix(r.URL.Path, AssetPrefix)
}

func setSecurityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, p string) {
	setSecurityHeaders(w)
	a, ok := h.assets[p]
	if !ok {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	// The files have no content hash in their names, so the browser
	// revalidates each time; the ETag makes that a 304 when unchanged.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
