package demo

import (
	"context"

	"go.opentelemetry.io/otel/baggage"
)

// FaultKey is the baggage member that injects a failure: W3C baggage
// carries it to every service the request reaches, jobs included.
const FaultKey = "demo.fault"

// The failures a request can ask for, each handled by the service concerned.
const (
	FaultLLMTimeout = "llm_timeout" // llm: the model hangs until the caller gives up
	FaultSlowSQL    = "slow_sql"    // worker: the job's fetch runs a slow query first
	FaultPanic      = "panic"       // orchestrator: the chat handler panics (recovered: 500)
	FaultCacheFlush = "cache_flush" // tts: the speech cache is emptied first: a miss storm follows
)

// fault returns the failure ctx's baggage asks for, or "".
func fault(ctx context.Context) string {
	return baggage.FromContext(ctx).Member(FaultKey).Value()
}
