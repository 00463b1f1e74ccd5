package peertest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Canonical is v as indented JSON, the form answers are compared in.
func Canonical(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// Normalise takes a decoded Jaeger v1 API answer ({"data": …}) and removes
// only what Jaeger itself leaves unordered or arbitrary: the order of
// arrays (services, traces, spans, tags, references, logs) and the process
// ids (p1, p2, …), replaced by the process they name. It changes v in place
// and returns it.
func Normalise(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if data, ok := m["data"].([]any); ok {
		for i, d := range data {
			if tr, ok := d.(map[string]any); ok {
				data[i] = normaliseTrace(tr)
			}
		}
		sortBy(data, func(x any) string {
			if tr, ok := x.(map[string]any); ok {
				return fmt.Sprint(tr["traceID"])
			}
			return fmt.Sprint(x)
		})
	}
	for _, k := range []string{"errors", "warnings"} {
		if l, ok := m[k].([]any); ok && len(l) == 0 {
			m[k] = nil
		}
	}
	return m
}

func normaliseTrace(tr map[string]any) map[string]any {
	procs, _ := tr["processes"].(map[string]any)
	for _, p := range procs {
		if pm, ok := p.(map[string]any); ok {
			sortTags(pm)
		}
	}
	spans, _ := tr["spans"].([]any)
	for _, s := range spans {
		sp := s.(map[string]any)
		if pid, ok := sp["processID"].(string); ok {
			sp["process"] = procs[pid]
			delete(sp, "processID")
		}
		sortTags(sp)
		if refs, ok := sp["references"].([]any); ok {
			sortBy(refs, func(x any) string { return Canonical(x) })
		}
		if logs, ok := sp["logs"].([]any); ok {
			for _, l := range logs {
				if lm, ok := l.(map[string]any); ok {
					if f, ok := lm["fields"].([]any); ok {
						sortBy(f, func(x any) string { return Canonical(x) })
					}
				}
			}
			sortBy(logs, func(x any) string { return Canonical(x) })
		}
		if w, ok := sp["warnings"].([]any); ok && len(w) == 0 {
			sp["warnings"] = nil
		}
	}
	sortBy(spans, func(x any) string { return fmt.Sprint(x.(map[string]any)["spanID"]) })
	delete(tr, "processes")
	if w, ok := tr["warnings"].([]any); ok && len(w) == 0 {
		tr["warnings"] = nil
	}
	return tr
}

// SortOTLP sorts every array of a decoded api_v3 answer (resource and scope
// groups, spans, attributes, services, operations): OTLP gives their order
// no meaning and two servers group spans differently. It changes v in place
// and returns it.
func SortOTLP(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = SortOTLP(e)
		}
	case []any:
		for i, e := range x {
			x[i] = SortOTLP(e)
		}
		sortBy(x, func(e any) string { return Canonical(e) })
	}
	return v
}

func sortTags(m map[string]any) {
	if tags, ok := m["tags"].([]any); ok {
		sortBy(tags, func(x any) string { return Canonical(x) })
	}
}

func sortBy(list []any, key func(any) string) {
	sort.SliceStable(list, func(i, j int) bool { return key(list[i]) < key(list[j]) })
}

// FirstDiff shows the lines around the first difference of two canonical
// answers, Jaeger's first.
func FirstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(wl) && i < len(gl) && wl[i] == gl[i] {
		i++
	}
	from, to := max(0, i-12), i+6
	window := func(lines []string) string {
		return strings.Join(lines[min(from, len(lines)):min(to, len(lines))], "\n")
	}
	return fmt.Sprintf("--- jaeger (line %d)\n%s\n--- loupe\n%s", i+1, window(wl), window(gl))
}
