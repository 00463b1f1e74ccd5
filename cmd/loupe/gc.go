package main

import (
	"math"
	"os"
	"runtime/debug"
)

// GC settings of serve, unless GOGC or GOMEMLIMIT is set in the environment.
const (
	// serveGCPercent trades some ingest CPU for memory: the heap grows to
	// 1.75× the live data between collections rather than 2×. Measured at
	// 1M stored spans (backend/peer BenchmarkMillionSpans): RSS per span
	// 596 B at GOGC=100, 526 B at 75, 461 B at 50; ingest CPU per span
	// about +10% at 75, +40% at 50. Since ingest allocates less (November
	// 2026): 513 B at 100, 455 B at 75, and 75 costs about 3-5% CPU.
	serveGCPercent = 75
	// memLimitHeadroom is added to twice --max-size to make the soft memory
	// limit: the runtime, buffers of requests in progress, query results.
	memLimitHeadroom = 256 << 20
)

// tuneGC sets the GC percent and a soft memory limit derived from the
// store's size bound (2×maxSize + 256 MiB), each unless the environment
// already chose it. It returns a function that restores the previous
// settings.
func tuneGC(maxSize int64) (limit int64, restore func()) {
	oldPercent, oldLimit := -2, int64(-1) // -2: not changed
	if os.Getenv("GOGC") == "" {
		oldPercent = debug.SetGCPercent(serveGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" && maxSize <= (math.MaxInt64-memLimitHeadroom)/2 {
		limit = 2*maxSize + memLimitHeadroom
		oldLimit = debug.SetMemoryLimit(limit)
	}
	return limit, func() {
		if oldPercent != -2 {
			debug.SetGCPercent(oldPercent)
		}
		if oldLimit >= 0 {
			debug.SetMemoryLimit(oldLimit)
		}
	}
}
