// Package server runs Loupe's local backend: the OTLP receiver on gRPC and
// HTTP, and the query APIs and the web UI (package ui) on HTTP, over one
// store.
//
// [Start] binds every listener before it returns, so a port in use is an
// error at start, not a log line later; [Server.Shutdown] drains them.
// An address whose host is "localhost" is bound on both 127.0.0.1 and ::1
// (clients resolve localhost either way); ::1 is skipped, with a warning,
// on a machine without IPv6 loopback. An empty host is refused: listening on
// every interface takes an explicit 0.0.0.0 or [::].
package server
