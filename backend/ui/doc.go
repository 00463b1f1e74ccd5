// Package ui serves the web UI of `loupe serve`: plain HTML, CSS and
// JavaScript modules embedded in the binary (no build step, nothing fetched
// from elsewhere), which read the query APIs of the same listener.
//
// Its headline is the jump from a metric spike to an exemplar's trace to that
// span's logs: the metrics view draws a PromQL query over time
// (/api/v1/query_range) with the exemplars of its selectors
// (/api/v1/query_exemplars) as dots; a dot opens its trace
// (/api/traces/{id}) with its span selected, and the span's panel lists that
// span's logs (/api/logs?trace_id=…&span_id=…). The first page, the
// Services home, gives each service's request rate, error rate and latency
// quantiles from its server duration histogram, or from its spans when it
// sends no metrics, with links to its traces, slowest exemplars and logs, and
// the service map (/api/dependencies). A trace search (Jaeger API v1) and a
// log search complete it. Every view is a hash route, so its URL can be
// shared:
//
//	#/services?range=1h
//	#/metrics?metric=…&q=…&range=1h&exemplars=all
//	#/traces?service=…&operation=…&tags=k=v…&lookback=1h&minDuration=…&maxDuration=…&limit=20
//	#/trace/<trace id>?span=<span id>
//	#/logs?service=…&severity=…&q=…&lookback=1h&trace_id=…&span_id=…
//
// Routes: GET / (index.html), GET /ui/… (the static files) and GET
// /api/ui/config (the OTLP endpoints the empty state names). [IsStatic]
// tells which requests are static files: they hold no data, so a server
// that requires a bearer token serves them without one; the page asks for
// the token on the first 401 of an API, keeps it in sessionStorage and sends
// it as "Authorization: Bearer".
//
// Every file is served with a Content-Security-Policy that allows scripts,
// styles and connections to this origin only (no inline script), with
// X-Content-Type-Options: nosniff, and with no CORS headers. Data is written
// into the page with textContent and DOM calls only, never as HTML.
package ui
