// Package exporttest runs a service's OpenTelemetry metrics SDK whose
// exports a test sends at chosen times, in the past if it likes: minutes of
// the SDK's default 60 s export interval in milliseconds, through the
// ingest path a real process uses (the SDK's own instruments and
// aggregation, its OTLP/HTTP exporter, Loupe's receiver).
package exporttest
