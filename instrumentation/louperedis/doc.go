// Package louperedis instruments go-redis v9 clients with OpenTelemetry
// spans and connection-pool metrics through redisotel
// (github.com/redis/go-redis/extra/redisotel/v9).
//
// [Instrument] adds redisotel's tracing and metrics hooks with safer defaults
// and completes the spans with the database semantic conventions of
// go.opentelemetry.io/otel/semconv/v1.43.0:
//
//   - a span per command (kind Client, named by the command as go-redis spells
//     it, such as "get") and a span per pipeline or transaction (named
//     "BATCH {command}" when all its commands are the same, "PIPELINE"
//     otherwise);
//   - db.system.name "redis", db.operation.name, db.namespace (the database
//     index), server.address, server.port, db.operation.batch.size;
//   - no command arguments by default: keys and values may hold personal
//     data. [WithQueryText](true) records the full command as db.query.text;
//   - no spans for dials and the connection handshake (HELLO, SELECT, CLIENT
//     SETNAME/SETINFO/MAINT_NOTIFICATIONS), which go-redis runs outside any
//     request: they would start a trace per new connection (with an error
//     span on servers older than Redis 7.2); the create_time metric covers
//     them, as AUTH stays untraced as in redisotel;
//   - a Redis error reply sets status Error, error.type and
//     db.response.status_code (its prefix, such as "WRONGTYPE"); a missing
//     key (redis.Nil) is not an error;
//   - pool metrics: db.client.connections.usage, .idle.max, .idle.min, .max,
//     .waits, .timeouts, .hits, .misses (monotonic counters as the
//     conventions require), create_time and use_time.
//
// [WithTracerProvider] and [WithMeterProvider] default to the OpenTelemetry
// globals at the time of the call. Redis has no context propagation, so there
// is no WithPropagators.
package louperedis
