// Package logs serves log search over a Loupe store, the last step of the
// jump from a metric spike to an exemplar trace to that span's logs:
//
//	GET /api/logs?trace_id=…&span_id=…
//	GET /api/logs?service=checkout&severity=warn&q=timeout&lookback=1h&limit=50
//
// Records come back newest first as {"logs":[…],"limit":N}, each with its
// time, trace and span ids, severity, body, attributes (typed JSON values),
// service, resource and scope. A bad parameter gets a 400 whose message names
// it and what is accepted.
package logs
