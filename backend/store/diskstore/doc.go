// Package diskstore is the persistent implementation of [store.Store]: an
// append-only log of the OTLP requests it accepted, in segment files, in
// front of a [memstore.Store] that answers the queries.
//
// # Durability
//
// Every write is appended to the active segment with write(2) before the
// write returns, so whatever was acknowledged to a client survives kill -9
// of the server. For power loss, segments are fsynced at most a second after
// a write (and on rotation and Close) by default; WithSyncEveryWrite fsyncs
// before every acknowledgement instead, at the cost of one fsync per request.
//
// A write the disk refuses (full, failing), even half-way, is rolled back:
// the segment is truncated to its last whole record before anything else
// is appended, so that no acknowledged record ever sits behind a broken
// one. The write returns an error wrapping [store.ErrUnavailable], which
// the receiver answers as retryable (503, UNAVAILABLE); refusals are
// logged at most once a minute, and the first write accepted after them
// too. Open succeeds on a full disk: the store serves what it replayed and
// refuses writes until a segment can be started ([Store.Err] says why).
//
// # Format
//
// A segment file, seg-<sequence>.loupe, starts with the 8 bytes "LOUPESEG"
// and a little-endian uint32 format version (currently 1) and a reserved
// uint32. Records follow: payload length (uint32), CRC-32C (Castagnoli) of
// what follows the CRC (uint32), kind (1 traces, 2 metrics, 3 logs; one
// byte), receive time in Unix nanoseconds (int64), then the payload: the
// OTLP Export*ServiceRequest protobuf as received.
//
// # Recovery
//
// Open replays the segments in order into memory with their original receive
// times, so the memory bounds evict exactly what they evicted before the
// restart; Start does the same in the background, so that a server listens
// at once: queries answer what is replayed so far, and writes are refused
// with [store.ErrUnavailable] and the progress until it is over. Memory
// keeps the newest records whose sizes sum to at most its bound, so records
// are decoded newest first, on every core, until the bound is reached, then
// stored in order: the older ones, and those past the retention, which
// memory would drop at once, are checked but not decoded (nor set aside
// should they not decode).
//
// A range of bytes that holds no whole record (cut short, failed CRC) is
// moved to <segment>.corrupt (raw bytes, appended), and replay resumes at
// the next whole record after it: a candidate of a known kind whose CRC
// holds, searched with bounded work. The problem is logged and listed in
// [Store.Recovery]. Corrupt data is never served. A record read whole that
// cannot be stored (it does not decode, or storing it fails, even by a
// panic) is set aside instead: appended to <segment>.rejected, itself a
// segment file, the problem logged and listed. The segment is then
// rewritten without them; when that fails (a full disk) it is left as it
// is, to be repaired at the next start. Values nested deeper than
// [store.MaxValueDepth] are cut as the receiver cuts them (records written
// before it did may hold deeper ones). A segment of a newer format version
// makes Start fail rather than touch it.
//
// # Bounds
//
// The memory bounds are those of memstore (WithMaxBytes, WithRetention). On
// disk, whole segments and files set aside are deleted, oldest first (a
// file set aside dates from its last change), once they are older than the
// retention or together exceed the size bound; the
// protobuf form is smaller than the in-memory form, so the disk holds at
// least what memory does.
package diskstore
