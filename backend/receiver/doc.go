// Package receiver accepts OTLP traces, metrics and logs over gRPC and HTTP
// (protobuf and JSON, optionally gzip-compressed) and writes them to a
// [store.Writer]. Decoding is done by the collector's pdata packages
// (ptraceotlp, pmetricotlp, plogotlp).
//
// The answers follow the OTLP specification: an oversized request gets HTTP
// 413 or gRPC RESOURCE_EXHAUSTED, a malformed one HTTP 400 or gRPC
// INVALID_ARGUMENT with a message, and items the store rejected are reported
// as a partial success. A full success leaves partial_success unset, as the
// specification asks: an empty Export*ServiceResponse, 0 bytes in protobuf
// (over HTTP and gRPC) and {} in JSON, so an OTLP/HTTP client that closes
// the answer unread keeps its connection. Error bodies over HTTP are a
// google.rpc.Status in the request's encoding.
package receiver
