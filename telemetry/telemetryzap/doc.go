// Package telemetryzap gives zap users the correlation the telemetry
// package gives slog users: local entries carry trace_id and span_id at their
// top level (also when the context comes inside a zap.Namespace), and the
// same entries go over OTLP through the official otelzap bridge. It is a
// package of its own so that users of the facade alone never compile zap.
package telemetryzap
