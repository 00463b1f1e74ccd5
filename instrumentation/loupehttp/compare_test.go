package loupehttp_test

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/loupe-dev/loupe/instrumentation/loupehttp"
	"github.com/loupe-dev/loupe/internal/sdktest"
)

// testMux is the routed application both middlewares wrap.
func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "item "+r.PathValue("id"))
	})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /teapot", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	mux.HandleFunc("/any", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET example.com/hosted/{x...}", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hosted")
	})
	return mux
}

type testRequest struct {
	name, method, target, body string
	proto                      string // HTTP/1.1 when empty
	header                     map[string]string
	wantName, wantRoute        string
}

var testRequests = []testRequest{
	{name: "route with id", method: "GET", target: "/items/42", wantName: "GET /items/{id}", wantRoute: "/items/{id}"},
	{name: "post body", method: "POST", target: "/items", body: `{"a":1}`, wantName: "POST /items", wantRoute: "/items"},
	{name: "server error", method: "GET", target: "/fail", wantName: "GET /fail", wantRoute: "/fail"},
	{name: "client error", method: "GET", target: "/teapot", wantName: "GET /teapot", wantRoute: "/teapot"},
	{name: "not found", method: "GET", target: "/nothing/here/7", wantName: "GET"},
	{name: "methodless pattern", method: "DELETE", target: "/any", wantName: "DELETE /any", wantRoute: "/any"},
	{name: "host pattern", method: "GET", target: "http://example.com/hosted/a/b", wantName: "GET /hosted/{x...}", wantRoute: "/hosted/{x...}"},
	{name: "custom method", method: "PURGE", target: "/any", wantName: "HTTP /any", wantRoute: "/any"},
	{name: "lower-case method", method: "get", target: "/items/1", wantName: "GET"},
	{name: "mixed-case custom method", method: "Purge", target: "/any", wantName: "HTTP /any", wantRoute: "/any"},
	{name: "http/2", method: "GET", target: "/items/2", proto: "HTTP/2.0", wantName: "GET /items/{id}", wantRoute: "/items/{id}"},
	{name: "other protocol", method: "GET", target: "/items/3", proto: "SPDY/3.1", wantName: "GET /items/{id}", wantRoute: "/items/{id}"},
	{name: "port and forwarded", method: "GET", target: "http://api.test:8080/items/9",
		header:   map[string]string{"X-Forwarded-For": "203.0.113.9, 10.0.0.1", "User-Agent": "loupe-test/1"},
		wantName: "GET /items/{id}", wantRoute: "/items/{id}"},
	{name: "tls default port", method: "GET", target: "https://secure.example.com/items/3", wantName: "GET /items/{id}", wantRoute: "/items/{id}"},
	{name: "tls other port", method: "PATCH", target: "https://secure.example.com:8443/any", wantName: "PATCH /any", wantRoute: "/any"},
	{name: "remote parent", method: "GET", target: "/items/5",
		header:   map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
		wantName: "GET /items/{id}", wantRoute: "/items/{id}"},
}

func (tr testRequest) build() *http.Request {
	var body io.Reader
	if tr.body != "" {
		body = strings.NewReader(tr.body)
	}
	r := httptest.NewRequest(tr.method, tr.target, body)
	r.RemoteAddr = "192.0.2.10:41234"
	if tr.proto != "" {
		r.Proto = tr.proto
	}
	for k, v := range tr.header {
		r.Header.Set(k, v)
	}
	return r
}

// TestMatchesOtelhttp serves the same requests through otelhttp v0.72.0 and
// through loupehttp and requires the same span names, kinds, attributes,
// parents, status and duration histogram attributes. The one deliberate
// difference: when routing happens inside the middleware, otelhttp renames
// the span but does not add http.route to it; loupehttp does (the semantic
// conventions require http.route whenever it is available).
func TestMatchesOtelhttp(t *testing.T) {
	for _, serverName := range []string{"", "api.example.com:8443", "front.example.com"} {
		t.Run("server="+serverName, func(t *testing.T) { matchOtelhttp(t, serverName) })
	}
}

func matchOtelhttp(t *testing.T, serverName string) {
	prop := propagation.TraceContext{}
	for _, tr := range testRequests {
		t.Run(tr.name, func(t *testing.T) {
			ref, got := sdktest.New(t), sdktest.New(t)
			refOpts := []otelhttp.Option{otelhttp.WithTracerProvider(ref.TP), otelhttp.WithMeterProvider(ref.MP), otelhttp.WithPropagators(prop)}
			gotOpts := []loupehttp.Option{loupehttp.WithTracerProvider(got.TP), loupehttp.WithMeterProvider(got.MP), loupehttp.WithPropagators(prop)}
			if serverName != "" {
				refOpts = append(refOpts, otelhttp.WithServerName(serverName))
				gotOpts = append(gotOpts, loupehttp.WithServerName(serverName))
			}
			refH := otelhttp.NewHandler(testMux(), "ignored", refOpts...)
			gotH := loupehttp.Handler(testMux(), gotOpts...)

			refW, gotW := httptest.NewRecorder(), httptest.NewRecorder()
			refH.ServeHTTP(refW, tr.build())
			gotH.ServeHTTP(gotW, tr.build())
			if refW.Code != gotW.Code || refW.Body.String() != gotW.Body.String() {
				t.Fatalf("responses differ: otelhttp %d %q, loupe %d %q", refW.Code, refW.Body, gotW.Code, gotW.Body)
			}

			refSpans, gotSpans := ref.Spans.Ended(), got.Spans.Ended()
			if len(refSpans) != 1 || len(gotSpans) != 1 {
				t.Fatalf("spans: otelhttp %d, loupe %d; want 1 each", len(refSpans), len(gotSpans))
			}
			rs, gs := refSpans[0], gotSpans[0]
			if gs.Name() != tr.wantName {
				t.Errorf("loupe span name %q, want %q", gs.Name(), tr.wantName)
			}
			if rs.Name() != gs.Name() {
				t.Errorf("span name: otelhttp %q, loupe %q", rs.Name(), gs.Name())
			}
			if rs.SpanKind() != gs.SpanKind() {
				t.Errorf("span kind: otelhttp %v, loupe %v", rs.SpanKind(), gs.SpanKind())
			}
			if rs.Status() != gs.Status() {
				t.Errorf("status: otelhttp %+v, loupe %+v", rs.Status(), gs.Status())
			}
			if rs.Parent().SpanID() != gs.Parent().SpanID() || rs.Parent().IsRemote() != gs.Parent().IsRemote() ||
				(rs.Parent().IsValid() && rs.SpanContext().TraceID() != gs.SpanContext().TraceID()) {
				t.Errorf("parent: otelhttp %v, loupe %v", rs.Parent(), gs.Parent())
			}
			compareSpanAttrs(t, rs, gs, tr.wantRoute)

			refDur, gotDur := ref.Histogram(t, "http.server.request.duration"), got.Histogram(t, "http.server.request.duration")
			if len(refDur) != 1 || len(gotDur) != 1 {
				t.Fatalf("duration points: otelhttp %d, loupe %d; want 1 each", len(refDur), len(gotDur))
			}
			if a, b := sdktest.Attrs(refDur[0].Attributes.ToSlice()), sdktest.Attrs(gotDur[0].Attributes.ToSlice()); !maps.Equal(a, b) {
				t.Errorf("duration attributes:\notelhttp %v\nloupe    %v", a, b)
			}
			if !slices.Equal(refDur[0].Bounds, gotDur[0].Bounds) || gotDur[0].Count != 1 {
				t.Errorf("duration: otelhttp bounds %v, loupe bounds %v count %d", refDur[0].Bounds, gotDur[0].Bounds, gotDur[0].Count)
			}
		})
	}
}

func compareSpanAttrs(t *testing.T, rs, gs sdktrace.ReadOnlySpan, wantRoute string) {
	t.Helper()
	ra, ga := sdktest.Attrs(rs.Attributes()), sdktest.Attrs(gs.Attributes())
	if wantRoute != "" {
		if ga["http.route"] != wantRoute {
			t.Errorf("loupe http.route %q, want %q", ga["http.route"], wantRoute)
		}
		if _, ok := ra["http.route"]; !ok {
			ra["http.route"] = wantRoute // the deliberate difference, see above
		}
	}
	if !maps.Equal(ra, ga) {
		t.Errorf("span attributes:\notelhttp %v\nloupe    %v", ra, ga)
	}
	for _, kv := range gs.Attributes() {
		if kv.Key == "" || kv.Value.Type() == attribute.EMPTY {
			t.Errorf("invalid attribute %v", kv)
		}
	}
}
