package main

import "go.opentelemetry.io/collector/featuregate"

// protoPoolingGate is pdata's feature gate (alpha since collector v0.133.0,
// off by default) that takes the messages it decodes from sync.Pools and
// puts them back when a message is deleted. The receiver deletes each
// request once stored (the store.Writer contract: a writer keeps nothing of
// what it is given), so spans, resources and attribute values are reused
// from one request to the next: about 30% fewer allocations per span
// (backend/receiver BenchmarkHTTPTraces; BENCHMARKS.md).
const protoPoolingGate = "pdata.useProtoPooling"

// enableProtoPooling turns the gate on unless LOUPE_PDATA_POOLING=0, and
// returns a function that restores its previous state. Mixing is safe: a
// message allocated with the gate off and deleted with it on only feeds the
// pools, and one allocated with it on and deleted with it off is dropped.
func enableProtoPooling(getenv func(string) string) (restore func()) {
	if getenv("LOUPE_PDATA_POOLING") == "0" {
		return func() {}
	}
	var was bool
	featuregate.GlobalRegistry().VisitAll(func(g *featuregate.Gate) {
		if g.ID() == protoPoolingGate {
			was = g.IsEnabled()
		}
	})
	if err := featuregate.GlobalRegistry().Set(protoPoolingGate, true); err != nil {
		return func() {} // a pdata without the gate: nothing to do
	}
	return func() { _ = featuregate.GlobalRegistry().Set(protoPoolingGate, was) }
}
