// Package forward sends a copy of everything `loupe serve` receives to
// another OTLP endpoint (such as a team's collector) over OTLP/gRPC, with
// the collector's pdata clients, or over OTLP/HTTP with protobuf bodies
// ([WithProtocol]).
//
// Exports are gzip-compressed by default, as the Collector's OTLP exporter
// does ([WithCompression]); [WithHeaders] adds headers such as an
// authorization token to each of them ([ParseHeaders] reads the
// OTEL_EXPORTER_OTLP_HEADERS format), and [WithTLSConfig] sets custom roots
// or a client certificate for https:// endpoints. Header values are never
// logged.
//
// Forwarding never slows ingest down: requests wait in a bounded queue;
// when it is full they are dropped, counted ([Forwarder.Stats]) and reported
// in a warning at most once a minute. A failed export is retried briefly
// when the endpoint's answer says it may succeed later (waiting as long as
// an OTLP/HTTP Retry-After or a gRPC RetryInfo asks, within the retry
// time), then dropped. [Forwarder.Shutdown] stops accepting, sends what is
// queued (one attempt each) until its context ends, and closes the
// connection.
//
// [Wrap] puts a Forwarder behind a store: every write the receiver makes is
// stored and forwarded, whatever the local store answered (a full or closed
// local store does not keep data from the endpoint).
package forward
