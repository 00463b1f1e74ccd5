package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	assets  map[string]asset // by path under AssetPrefix
	version string           // the files' content hash: /ui/{version}/… never changes
	config  []byte           // the JSON of /api/ui/config
}

// New returns the UI handler. Options: [WithOTLPEndpoints] (default none).
func New(opts ...Option) *Handler {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	h := &Handler{config: configJSON(c)}
	sub, err := fs.Sub(static, "static")
	if err == nil {
		h.assets, h.version, err = load(sub)
	}
	if err != nil {
		// The files are embedded at build time: reading them cannot fail.
		panic("ui: reading the embedded files: " + err.Error())
	}
	return h
}

// load reads the files of fsys, by path, and their version: a hash of
// them all. The page's own references to /ui/ name that version (the
// scripts' imports are relative, so they follow), so that a browser keeps
// the files for good and loads them again only from a build that changed
// them; the page itself is revalidated each time.
func load(fsys fs.FS) (map[string]asset, string, error) {
	assets := map[string]asset{}
	all := sha256.New()
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error { // in lexical order
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			ct = "application/octet-stream"
		}
		fmt.Fprintf(all, "%s\x00%d\x00", p, len(body))
		all.Write(body)
		assets[p] = asset{body: body, contentType: ct}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	version := hex.EncodeToString(all.Sum(nil)[:8])
	if index, ok := assets["index.html"]; ok {
		index.body = bytes.ReplaceAll(index.body, []byte(`="`+AssetPrefix), []byte(`="`+AssetPrefix+version+"/"))
		assets["index.html"] = index
	}
	for p, a := range assets {
		sum := sha256.Sum256(a.body)
		a.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
		assets[p] = a
	}
	return assets, version, nil
}

func configJSON(c config) []byte {
	type endpoints struct {
		GRPC []string `json:"grpc"`
		HTTP []string `json:"http"`
	}
	b, _ := json.Marshal(struct {
		OTLP endpoints `json:"otlp"`
	}{endpoints{GRPC: nonNil(c.otlpGRPC), HTTP: nonNil(c.otlpHTTP)}})
	return b
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// RegisterRoutes registers GET / (the page), GET /ui/… and GET
// /ui/{version}/… (its files) and GET /api/ui/config on mux.
func (h *Handler) RegisterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		h.serveAsset(w, r, "index.html", false)
	})
	mux.HandleFunc("GET "+AssetPrefix, func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(r.URL.Path, AssetPrefix)
		rest, versioned := strings.CutPrefix(p, h.version+"/")
		if versioned {
			p = rest
		}
		h.serveAsset(w, r, p, versioned)
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

// serveAsset answers the file p. Under the version's path it never
// changes, and is kept for a year without revalidation; elsewhere the
// browser revalidates it each time, a 304 by its ETag when unchanged.
func (h *Handler) serveAsset(w http.ResponseWriter, r *http.Request, p string, versioned bool) {
	setSecurityHeaders(w)
	a, ok := h.assets[p]
	if !ok {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", a.contentType)
	if versioned {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
