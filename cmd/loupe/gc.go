package main

import (
	"math"
	"os"
	"runtime/debug"
)

// GC settings of serve, unless GOGC or GOMEMLIMIT is set in the environment.
const (
	// The GC percents trade memory for ingest CPU. The stored data is
	// long-lived and full of pointers, so most of the GC's work is marking
	// it again at every cycle; fewer cycles is the lever. Measured with
	// pdata's proto pooling on (backend/peer, November 2026; Jaeger
	// 1,040-1,170 B per span):
	//   - memory only: RSS per stored span at 1M spans 407-452 B at
	//     GOGC=75, 428-485 B at 150; ingest CPU per span 21% lower at 150
	//     (BenchmarkIngest, 1.2M spans, A/B in one run);
	//   - persistent, where the store also encodes every request for its
	//     log: 431-460 B at 100, 489-545 B at 150, too close to half of
	//     Jaeger's.
	// Before pooling both were 75 (455 B at 75, 513 B at 100). The soft
	// memory limit below still bounds the heap when the store is full.
	serveGCPercentMemory     = 150
	serveGCPercentPersistent = 100
	// The soft memory limit keeps the process within twice --max-size
	// (issue 10's target) where --max-size is 256 MiB or more: a full
	// store's live heap is about --max-size (263-283 MB at 256 MiB), and
	// GC percent 150 alone let the heap grow to 2.5× that (RSS 2.66× full,
	// 2.80× under four 10,000-trace searches). Smaller stores keep
	// memLimitHeadroom over --max-size: the runtime, buffers of requests in
	// progress (16 of up to 16 MiB), query results. memLimitOutside is
	// left for what the process holds outside the Go runtime's count (the
	// binary's text) and the overshoot of a soft limit under a burst of
	// queries (about 10 MiB).
	memLimitHeadroom = 256 << 20
	memLimitOutside  = 32 << 20
)

// tuneGC sets the GC percent (serveGCPercentPersistent or
// serveGCPercentMemory) and a soft memory limit derived from the store's
// size bound (max(2×maxSize, maxSize + 256 MiB) − 32 MiB: 480 MiB for the
// default 256 MiB), each unless the environment already chose it. It
// returns a function that restores the previous settings.
func tuneGC(maxSize int64, persistent bool) (limit int64, restore func()) {
	oldPercent, oldLimit := -2, int64(-1) // -2: not changed
	if os.Getenv("GOGC") == "" {
		percent := serveGCPercentMemory
		if persistent {
			percent = serveGCPercentPersistent
		}
		oldPercent = debug.SetGCPercent(percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" && maxSize <= math.MaxInt64/2 {
		limit = max(2*maxSize, maxSize+memLimitHeadroom) - memLimitOutside
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
