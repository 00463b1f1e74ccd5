package storetest_test

import (
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/loupe-dev/loupe/backend/store/storetest"
)

// LoadBatchEnds names the first and the last trace of a batch, each whole.
func TestLoadBatchEnds(t *testing.T) {
	start := time.Now()
	for _, i := range []int{0, 1, 7} {
		spans := map[pcommon.TraceID]int{}
		var order []pcommon.TraceID
		rss := storetest.LoadBatch(i, 8, start).ResourceSpans()
		for r := range rss.Len() {
			ss := rss.At(r).ScopeSpans().At(0).Spans()
			for s := range ss.Len() {
				id := ss.At(s).TraceID()
				if spans[id] == 0 {
					order = append(order, id)
				}
				spans[id]++
			}
		}
		first, last := storetest.LoadBatchEnds(i)
		if first != order[0] || last != order[len(order)-1] {
			t.Errorf("batch %d: ends %x %x, want %x %x", i, first, last, order[0], order[len(order)-1])
		}
		if spans[first] != storetest.LoadSpansPerTrace || spans[last] != storetest.LoadSpansPerTrace {
			t.Errorf("batch %d: %d and %d spans, want %d", i, spans[first], spans[last], storetest.LoadSpansPerTrace)
		}
	}
}
