package jaeger

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loupe-dev/loupe/backend/store"
)

// DefaultDependencyLookback is the window of /api/dependencies without a
// lookback parameter, as Jaeger's.
const DefaultDependencyLookback = 24 * time.Hour

// maxDependencyTraces bounds the traces one /api/dependencies answer reads.
const maxDependencyTraces = 100_000

type dependencyLink struct {
	Parent    string `json:"parent"`
	Child     string `json:"child"`
	CallCount uint64 `json:"callCount"`
}

// dependencies answers GET /api/dependencies?endTs=<ms>&lookback=<ms>: the
// calls between services (a span whose parent belongs to another service)
// in traces that started in the window, as Jaeger's in-memory store counts
// them.
func (h *Handler) dependencies(w http.ResponseWriter, r *http.Request) {
	end := h.cfg.now()
	if v := r.FormValue("endTs"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, paramError("endTs", err))
			return
		}
		end = time.UnixMilli(ms)
	}
	lookback := DefaultDependencyLookback
	if v := r.FormValue("lookback"); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, paramError("lookback", err))
			return
		}
		lookback = time.Duration(ms) * time.Millisecond
	}
	type edge struct{ parent, child string }
	counts := map[edge]uint64{}
	q := store.TraceQuery{StartMin: end.Add(-lookback), StartMax: end, Limit: maxDependencyTraces}
	for t, err := range h.r.FindTraces(r.Context(), q) {
		if err != nil {
			storeError(w, r, err)
			return
		}
		byID := make(map[store.SpanID]*store.Span, len(t.Spans))
		for _, s := range t.Spans {
			byID[s.SpanID] = s
		}
		for _, s := range t.Spans {
			p := byID[s.ParentSpanID]
			if p == nil || s.ParentSpanID.IsEmpty() || p.Resource.ServiceName == s.Resource.ServiceName {
				continue
			}
			counts[edge{p.Resource.ServiceName, s.Resource.ServiceName}]++
		}
	}
	links := make([]dependencyLink, 0, len(counts))
	for e, n := range counts {
		links = append(links, dependencyLink{Parent: e.parent, Child: e.child, CallCount: n})
	}
	slices.SortFunc(links, func(a, b dependencyLink) int {
		return cmp.Or(strings.Compare(a.Parent, b.Parent), strings.Compare(a.Child, b.Child))
	})
	writeJSON(w, r, http.StatusOK, &response{Data: links})
}
