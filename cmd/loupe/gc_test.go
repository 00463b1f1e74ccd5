package main

import (
	"runtime/debug"
	"testing"
)

func TestTuneGC(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	before := debug.SetGCPercent(-1)
	debug.SetGCPercent(before)
	beforeLimit := debug.SetMemoryLimit(-1)

	limit, restore := tuneGC(256<<20, false)
	if limit != 480<<20 {
		t.Errorf("limit %d, want 480 MiB", limit)
	}
	if got := debug.SetMemoryLimit(-1); got != 480<<20 {
		t.Errorf("memory limit %d, want 480 MiB", got)
	}
	// Large stores: twice the bound; small ones: 256 MiB over it.
	for maxSize, want := range map[int64]int64{4 << 30: 8<<30 - 32<<20, 16 << 20: 240 << 20} {
		got, restore := tuneGC(maxSize, false)
		restore()
		if got != want {
			t.Errorf("limit %d MiB for --max-size %d MiB, want %d MiB", got>>20, maxSize>>20, want>>20)
		}
	}
	if got := debug.SetGCPercent(serveGCPercentMemory); got != serveGCPercentMemory {
		t.Errorf("GC percent %d, want %d", got, serveGCPercentMemory)
	}
	restore()
	_, restore = tuneGC(256<<20, true)
	if got := debug.SetGCPercent(serveGCPercentPersistent); got != serveGCPercentPersistent {
		t.Errorf("persistent: GC percent %d, want %d", got, serveGCPercentPersistent)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != beforeLimit {
		t.Errorf("memory limit after restore %d, want %d", got, beforeLimit)
	}
	if got := debug.SetGCPercent(before); got != before {
		t.Errorf("GC percent after restore %d, want %d", got, before)
	}

	limit, restore = tuneGC(1<<62, false)
	restore()
	if limit != 0 {
		t.Errorf("limit %d for a bound that would overflow", limit)
	}

	// The environment wins.
	t.Setenv("GOGC", "100")
	t.Setenv("GOMEMLIMIT", "1GiB")
	limit, restore = tuneGC(256<<20, false)
	defer restore()
	if limit != 0 || debug.SetMemoryLimit(-1) != beforeLimit {
		t.Errorf("tuneGC set a limit (%d) although GOMEMLIMIT is set", limit)
	}
	if got := debug.SetGCPercent(before); got != before {
		t.Errorf("tuneGC set GC percent %d although GOGC is set", got)
	}
}
