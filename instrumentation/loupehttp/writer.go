package loupehttp

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/textproto"
)

// canonicalKeys are the canonical header keys of the fields the standard
// propagators read, so that extracting them does not allocate.
var canonicalKeys = map[string]string{
	"traceparent":   "Traceparent",
	"tracestate":    "Tracestate",
	"baggage":       "Baggage",
	"b3":            "B3",
	"x-b3-traceid":  "X-B3-Traceid",
	"x-b3-spanid":   "X-B3-Spanid",
	"x-b3-sampled":  "X-B3-Sampled",
	"uber-trace-id": "Uber-Trace-Id",
}

// headerCarrier is propagation.HeaderCarrier without the key
// canonicalisation allocation for the usual fields.
type headerCarrier http.Header

func (h headerCarrier) Get(key string) string {
	ck, ok := canonicalKeys[key]
	if !ok {
		ck = textproto.CanonicalMIMEHeaderKey(key)
	}
	if v := h[ck]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (h headerCarrier) Set(key, value string) { http.Header(h).Set(key, value) }

func (h headerCarrier) Keys() []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	return keys
}

// responseWriter records the status code and the bytes written. It exposes
// Flush, Hijack and ReadFrom of the writer it wraps, and Unwrap for
// [http.ResponseController]. Like any ResponseWriter it is not for concurrent
// use.
type responseWriter struct {
	http.ResponseWriter
	status      int
	written     int64
	wroteHeader bool
}

func (w *responseWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		// Informational responses other than 101 precede the real one.
		if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
			w.ResponseWriter.WriteHeader(code)
			return
		}
		w.wroteHeader = true
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	return n, err
}

// ReadFrom keeps the wrapped writer's sendfile path (io.Copy uses it).
func (w *responseWriter) ReadFrom(src io.Reader) (int64, error) {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(struct{ io.Writer }{w.ResponseWriter}, src)
	}
	w.written += n
	return n, err
}

func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped writer for [http.ResponseController].
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bodyCounter counts the request body bytes the handler reads.
type bodyCounter struct {
	io.ReadCloser
	n int64
}

func (b *bodyCounter) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	return n, err
}
