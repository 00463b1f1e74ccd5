package jaeger_test

import (
	"bytes"
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/loupe-dev/loupe/backend/query/jaeger"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// The streamed answer of a search is valid JSON, and its pretty form is
// the same document indented.
func TestSearchStreamedJSON(t *testing.T) {
	mux := fixture(t)
	start := storetest.Base.UnixMicro()
	for _, url := range []string{
		"/api/traces?service=frontend",
		"/api/traces?traceID=7&traceID=ffff",
		"/api/traces?service=frontend&start=" + itoa(start+2_000_000) + "&end=" + itoa(start+3_000_000),
	} {
		raw := get(mux, url).Body.Bytes()
		pretty := get(mux, url+"&prettyPrint=true").Body.Bytes()
		if !json.Valid(raw) || !json.Valid(pretty) {
			t.Fatalf("%s: invalid JSON:\n%s\n%s", url, raw, pretty)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, pretty); err != nil || compact.String() != string(raw) {
			t.Errorf("%s: pretty answer differs:\n%s\n%s", url, compact.String(), raw)
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, raw, "", "    "); err != nil || indented.String() != string(pretty) {
			t.Errorf("%s: pretty answer is not indented as json.MarshalIndent does:\n%s\nwant\n%s", url, pretty, indented.String())
		}
	}
}

// An answer that would go beyond the size bound ends with the traces that
// fit and says why in "errors".
func TestSearchAnswerBound(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	var specs []storetest.SpanSpec
	for i := range 50 {
		specs = append(specs, storetest.SpanSpec{Service: "api", Trace: byte(i + 1), ID: byte(i + 1), Name: "op",
			Start: time.Duration(i) * time.Millisecond, Dur: time.Millisecond, Attrs: map[string]any{"pad": strings.Repeat("x", 1000)}})
	}
	if _, err := s.WriteTraces(context.Background(), storetest.Traces(specs...)); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	jaeger.New(s, jaeger.WithClock(func() time.Time { return storetest.Base.Add(time.Hour) }), jaeger.WithMaxAnswerBytes(20_000)).RegisterRoutes(mux)
	rec := get(mux, "/api/traces?service=api&limit=50")
	var env struct {
		Data   []json.RawMessage `json:"data"`
		Errors []struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	if rec.Code != http.StatusOK || rec.Body.Len() > 20_000+200 || len(env.Data) == 0 || len(env.Data) == 50 {
		t.Errorf("status %d, %d bytes, %d traces: want 200, about 20000 bytes, some traces", rec.Code, rec.Body.Len(), len(env.Data))
	}
	if len(env.Errors) != 1 || env.Errors[0].Code != http.StatusRequestEntityTooLarge || !strings.Contains(env.Errors[0].Msg, "narrow the search") {
		t.Errorf("errors %+v, want one 413 saying the answer was cut", env.Errors)
	}
}

// gatedReader holds every FindTraces until gate is closed.
type gatedReader struct {
	store.Reader
	gate, entered chan struct{}
}

func (g gatedReader) FindTraces(ctx context.Context, q store.TraceQuery) iter.Seq2[store.Trace, error] {
	return func(yield func(store.Trace, error) bool) {
		g.entered <- struct{}{}
		<-g.gate
		for t, err := range g.Reader.FindTraces(ctx, q) {
			if !yield(t, err) {
				return
			}
		}
	}
}

// Searches beyond the bound wait, then get 503 with Retry-After.
func TestSearchesBounded(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	g := gatedReader{Reader: s, gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	mux := http.NewServeMux()
	jaeger.New(g, jaeger.WithMaxConcurrentSearches(1, 50*time.Millisecond)).RegisterRoutes(mux)
	first := make(chan int, 1)
	go func() { first <- get(mux, "/api/traces?service=api").Code }()
	<-g.entered
	rec := get(mux, "/api/traces?service=api")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "busy") {
		t.Errorf("second search: %d %q %s, want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
	close(g.gate)
	if code := <-first; code != http.StatusOK {
		t.Errorf("first search: %d", code)
	}
}

// A time range beyond what the store can hold is a clear 400, not an
// empty answer.
func TestOverflowingRange(t *testing.T) {
	mux := fixture(t)
	for _, q := range []string{"start=-9223372036854775808", "end=9223372036854775807", "start=-9223372036854775808&end=0"} {
		rec := get(mux, "/api/traces?service=frontend&"+q)
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "outside the times the store can hold") {
			t.Errorf("%s: %d %s, want 400 naming the range", q, rec.Code, rec.Body)
		}
	}
}

// A service name that is not valid UTF-8 is listed as stored, with U+FFFD
// in place of the bad bytes, and that name finds its traces.
func TestInvalidUTF8Service(t *testing.T) {
	s := memstore.New()
	defer s.Close()
	td := storetest.Traces(storetest.SpanSpec{Service: "caf\xe9", Trace: 1, ID: 1, Name: "op", Dur: time.Millisecond})
	if _, err := s.WriteTraces(context.Background(), td); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	jaeger.New(s, jaeger.WithClock(func() time.Time { return storetest.Base.Add(time.Hour) })).RegisterRoutes(mux)
	var services struct{ Data []string }
	if err := json.Unmarshal(get(mux, "/api/services").Body.Bytes(), &services); err != nil || len(services.Data) != 1 {
		t.Fatalf("services: %v %v", services, err)
	}
	name := services.Data[0]
	if name != "caf\uFFFD" {
		t.Errorf("listed as %q", name)
	}
	var found struct{ Data []json.RawMessage }
	rec := get(mux, "/api/traces?service="+url.QueryEscape(name))
	if err := json.Unmarshal(rec.Body.Bytes(), &found); err != nil || len(found.Data) != 1 {
		t.Errorf("search by the listed name: %v %s", err, rec.Body)
	}
}
