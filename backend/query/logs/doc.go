// Package logs serves log search over a Loupe store, the last step of the
// jump from a metric spike to an exemplar trace to that span's logs:
//
//	GET /api/logs?trace_id=…&span_id=…
//	GET /api/logs?service=checkout&severity=warn&q=timeout&lookback=1h&limit=50
//	GET /api/logs?q=user.tier%3Dgold
//
// q matches, without regard to case, text in a record's body or in one of
// its attributes' values, or an attribute written as key=value.
//
// Records come back newest first as {"logs":[…],"limit":N}, each with its
// time, trace and span ids, severity, body, attributes (typed JSON values),
// service, resource and scope. A bad parameter gets a 400 whose message names
// it and what is accepted.
package logs
