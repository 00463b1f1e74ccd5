package jaeger

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"time"

	"github.com/loupe-dev/loupe/backend/store"
)

// The bounds of searches (/api/traces).
const (
	// DefaultMaxConcurrentSearches is how many searches run at once; each
	// may render thousands of traces.
	DefaultMaxConcurrentSearches = 2
	// DefaultSearchWait is how long a search waits for its turn before it
	// is answered 503.
	DefaultSearchWait = 10 * time.Second
	// DefaultMaxAnswerBytes bounds the JSON of one search answer: the
	// traces that would go beyond it are left out, and an entry of
	// "errors" says so.
	DefaultMaxAnswerBytes = 64 << 20
	// writeStall bounds how long one part of a streamed answer may take to
	// be written: a client that stops reading is cut.
	writeStall = 30 * time.Second
)

// WithMaxConcurrentSearches bounds the searches running at once (n < 1:
// DefaultMaxConcurrentSearches); others wait up to wait (<= 0:
// DefaultSearchWait) and then get 503 with Retry-After.
func WithMaxConcurrentSearches(n int, wait time.Duration) Option {
	return optionFunc(func(c *config) { c.searches, c.searchWait = n, wait })
}

// WithMaxAnswerBytes bounds the JSON of one search answer (n < 1:
// DefaultMaxAnswerBytes).
func WithMaxAnswerBytes(n int) Option { return optionFunc(func(c *config) { c.maxAnswer = n }) }

// acquireSearch waits for a turn to search; the caller releases it by
// receiving from h.searches.
func (h *Handler) acquireSearch(ctx context.Context) error {
	t := time.NewTimer(h.cfg.searchWait)
	defer t.Stop()
	select {
	case h.searches <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return fmt.Errorf("busy: %d searches in progress; retry later", cap(h.searches))
	}
}

// found is one result of a search: a trace, or an error about one.
type found struct {
	trace store.Trace
	err   *apiError
}

// results yields the traces of a search: by id when ids are given (the
// other parameters are ignored, as Jaeger does), else those matching q.
// A store error ends it.
func (h *Handler) results(ctx context.Context, q store.TraceQuery, ids []store.TraceID) iter.Seq2[found, error] {
	return func(yield func(found, error) bool) {
		if len(ids) == 0 {
			for t, err := range h.r.FindTraces(ctx, q) {
				if !yield(found{trace: t}, err) || err != nil {
					return
				}
			}
			return
		}
		for _, id := range ids {
			t, err := h.r.Trace(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				if !yield(found{err: &apiError{Msg: "trace not found", TraceID: traceIDString(id)}}, nil) {
					return
				}
				continue
			}
			if !yield(found{trace: t}, err) || err != nil {
				return
			}
		}
	}
}

// streamSearch writes the answer of a search trace by trace, as
// writeJSON would write it whole: only one trace is held rendered at a
// time. A store error before the first trace is answered with its status;
// later, and when the answer reaches the size bound, the answer ends with
// what it has and an entry of "errors" says why.
func (h *Handler) streamSearch(w http.ResponseWriter, r *http.Request, results iter.Seq2[found, error], opts render) {
	pretty := r.FormValue("prettyPrint") == "true"
	rc := http.NewResponseController(w)
	var (
		errs    []apiError
		buf     bytes.Buffer
		started bool
		written int
		count   int
	)
	flush := func() {
		_ = rc.SetWriteDeadline(time.Now().Add(writeStall))
		n, _ := w.Write(buf.Bytes())
		written += n
		buf.Reset()
	}
	for f, err := range results {
		if err != nil {
			if !started {
				storeError(w, r, err)
				return
			}
			errs = append(errs, apiError{Code: http.StatusInternalServerError, Msg: err.Error()})
			break
		}
		if f.err != nil {
			errs = append(errs, *f.err)
			continue
		}
		item, err := marshal(opts.trace(f.trace), pretty, 2)
		if err != nil {
			errs = append(errs, apiError{Code: http.StatusInternalServerError, Msg: err.Error()})
			break
		}
		if written+len(item) > h.cfg.maxAnswer {
			errs = append(errs, apiError{Code: http.StatusRequestEntityTooLarge,
				Msg: fmt.Sprintf("answer cut after %d traces: the next would take it beyond %d bytes; narrow the search or lower its limit", count, h.cfg.maxAnswer)})
			break
		}
		if !started {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			started = true
			buf.WriteString(openData(pretty))
		} else {
			buf.WriteByte(',')
		}
		if pretty {
			buf.WriteString("\n        ")
		}
		buf.Write(item)
		count++
		flush()
	}
	if !started {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		buf.WriteString(openData(pretty))
		buf.WriteString("]")
	} else if pretty {
		buf.WriteString("\n    ]")
	} else {
		buf.WriteString("]")
	}
	// The rest of the response after "data", as writeJSON writes it.
	rest, _ := marshal(&response{Errors: errs}, pretty, 0)
	_, after, _ := bytes.Cut(rest, []byte(`"data":`))
	if pretty {
		_, after, _ = bytes.Cut(rest, []byte(`"data": null`))
	} else {
		_, after, _ = bytes.Cut(after, []byte("null"))
	}
	buf.Write(after)
	flush()
}

func openData(pretty bool) string {
	if pretty {
		return "{\n    \"data\": ["
	}
	return `{"data":[`
}

// marshal is json.Marshal, or json.MarshalIndent at depth levels of four
// spaces when pretty.
func marshal(v any, pretty bool, depth int) ([]byte, error) {
	if !pretty {
		return json.Marshal(v)
	}
	prefix := bytes.Repeat([]byte("    "), depth)
	return json.MarshalIndent(v, string(prefix), "    ")
}
