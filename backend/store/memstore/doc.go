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
// The size is approximate: it is the sum of [store.SpanSize],
// [store.LogSize], [store.PointSize] and the shared resources of each batch,
// plus a fixed per-item index overhead (indexOverhead). It does not count
// map growth slack or allocator rounding; see the package tests for the
// measured ratio of Go heap to accounted bytes.
package memstore
