// Package otlpdepth cuts the values of an OTLP request that nest maps and
// arrays deeper than [store.MaxValueDepth], before pdata decodes it.
//
// pdata decodes an AnyValue recursively and without a limit, in protobuf
// as in JSON (json-iterator's depth limit covers skipped fields only): a
// 13 MB request holding one attribute nested a million levels deep took
// 15 s, 512 MB of stack and 1 GB of memory to decode, and then every other
// walk of the value (copying, encoding, handing the messages back to the
// pools, rendering it) recursed as deep again. [Proto] and [JSON] read a
// request the way pdata does, down to the bound only, and replace each map
// or array nested inside MaxValueDepth others by the string
// [store.TruncatedValue], so that what pdata decodes is never deeper than
// the bound, whatever the request holds. What lies under a cut is skipped
// without being read, so a million levels cost what the first 64 do.
//
// A request with nothing to cut is returned as it is, without copying.
package otlpdepth
