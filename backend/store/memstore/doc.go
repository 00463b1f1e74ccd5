// Package memstore is the in-memory implementation of [store.Store], bounded
// by size and by age.
//
// Every write becomes one batch, appended to a queue in arrival order and
// indexed by trace id, service and operation, trace id of logs, and metric
// series. When the accounted size of the stored batches exceeds the size
// bound, or the oldest batch was received longer ago than the retention, the
// oldest batches are dropped, whole, until both bounds hold again: memory
// stays bounded whatever arrives, and the oldest data goes first.
//
// FindTraces walks the batches newest first. Each batch records its span
// start range, its services and an upper bound of the span starts of itself
// and every older batch, so the search skips batches that cannot match and
// stops as soon as the older batches cannot hold a trace that ranks among
// the results: a search for the latest traces of a service reads a few
// batches whatever the store holds.
//
// The size is approximate: it is the sum of [store.SpanSize],
// [store.LogSize], [store.PointSize] and the shared resources of each batch,
// plus a fixed per-item index overhead (indexOverhead). It does not count
// map growth slack or allocator rounding; see the package tests for the
// measured ratio of Go heap to accounted bytes.
package memstore
