package diskstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

type config struct {
	maxBytes     int64
	retention    time.Duration
	now          func() time.Time
	syncEach     bool
	segmentBytes int64
	log          *slog.Logger
	afterSegment func() // called after each segment replayed, for tests
}

// Option configures a Store.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithMaxBytes bounds the data kept, in memory and on disk (zero or less:
// memstore.DefaultMaxBytes).
func WithMaxBytes(n int64) Option { return optionFunc(func(c *config) { c.maxBytes = n }) }

// WithRetention drops data received longer ago than d (zero or less:
// memstore.DefaultRetention).
func WithRetention(d time.Duration) Option {
	return optionFunc(func(c *config) { c.retention = d })
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return optionFunc(func(c *config) { c.now = now }) }

// WithSyncEveryWrite fsyncs the segment before every write returns, so that
// acknowledged data also survives power loss. Off by default (see the
// package documentation).
func WithSyncEveryWrite(on bool) Option { return optionFunc(func(c *config) { c.syncEach = on }) }

// WithSegmentBytes sets the size at which a segment is closed and a new one
// started (zero or less: a sixteenth of the size bound, between 1 and 64 MiB).
func WithSegmentBytes(n int64) Option { return optionFunc(func(c *config) { c.segmentBytes = n }) }

// WithLogger receives recovery reports (slog.Default when nil).
func WithLogger(l *slog.Logger) Option { return optionFunc(func(c *config) { c.log = l }) }

// Recovery is what the replay found on disk.
type Recovery struct {
	Segments int // segments read
	// Records counts the whole records replayed; those older than the
	// retention or past memory's size bound are counted but not decoded,
	// memory would drop them at once.
	Records  int
	Problems []string // corrupt or cut-short data, one line each; empty when all was well
	// Damaged counts the byte ranges that held no whole record (cut short,
	// failed CRC): each was moved to <segment>.corrupt and replay resumed
	// at the next whole record after it.
	Damaged int
	// Rejected counts the records that were read whole but could not be
	// stored (they do not decode, or storing them failed): each was moved
	// to <segment>.rejected and is listed in Problems.
	Rejected int
	// Truncated counts the values nested deeper than store.MaxValueDepth
	// that replay cut, in records written before loupe cut them on receipt.
	Truncated int
	Took      time.Duration // how long the replay took
}

type segment struct {
	seq    uint64
	size   int64
	lastAt int64 // newest record's receive time
}

// asideFile is a file of data set aside by a replay, <segment>.corrupt or
// <segment>.rejected: it counts against the size bound and ages out with
// the retention, from its modification time.
type asideFile struct {
	path      string
	size, mod int64
}

// Store is the persistent store. Queries are served from memory.
type Store struct {
	*memstore.Store // reads
	cfg             config
	dir             string
	unlock          func() error
	pinned          atomic.Int64 // receive time memstore sees while a record is applied

	// The replay's: recovery and replayErr are written before replayed is
	// closed and read after.
	recovery   Recovery
	replayErr  error
	replayed   chan struct{}
	stopReplay atomic.Bool
	done, all  atomic.Int64 // bytes of segments replayed, and in all

	mu        sync.Mutex
	closed    bool
	replaying bool      // writes are refused until the replay is over
	segs      []segment // oldest first; the last is the active one, when active is set
	aside     []asideFile
	// active is the segment appended to; nil when none could be started or
	// a failed write could not be rolled back: the next write starts one.
	active   *os.File
	dirty    bool      // written since the last fsync
	recBuf   []byte    // the last record written, its memory reused by the next
	diskErr  error     // why the last write was refused, until one succeeds
	refused  int       // writes refused since the last report
	reported time.Time // when a refusal was last logged
	unsaid   bool      // refusals were logged, and the end of them not yet
	stopSync chan struct{}
	syncDone chan struct{}
}

// reportEvery is how often a disk that keeps refusing writes is logged.
const reportEvery = time.Minute

var _ store.Store = (*Store)(nil)

// maxRecBuf is the largest record buffer kept for the next write, so that
// one huge request does not pin its memory.
const maxRecBuf = 4 << 20

// Open opens (creating it if needed) the store in dir and replays what it
// holds: Start, then WaitReplay. Defaults: memstore's bounds, time.Now,
// fsync within a second.
func Open(dir string, opts ...Option) (*Store, error) {
	s, err := Start(dir, opts...)
	if err != nil {
		return nil, err
	}
	if err := s.WaitReplay(context.Background()); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Start opens (creating it if needed) the store in dir and replays what it
// holds in the background, so that a server can listen at once: queries
// answer what is replayed so far, and writes are refused with
// store.ErrUnavailable, saying how far the replay is, until it is over
// (WaitReplay, Progress). What stops a start is returned: the directory
// cannot be created or locked, or a segment is of a newer format.
func Start(dir string, opts ...Option) (*Store, error) {
	cfg := config{now: time.Now}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.maxBytes <= 0 {
		cfg.maxBytes = memstore.DefaultMaxBytes
	}
	if cfg.retention <= 0 {
		cfg.retention = memstore.DefaultRetention
	}
	if cfg.segmentBytes <= 0 {
		cfg.segmentBytes = min(max(cfg.maxBytes/16, 1<<20), 64<<20)
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{cfg: cfg, dir: dir, unlock: unlock, replayed: make(chan struct{}), replaying: true}
	s.Store = memstore.New(memstore.WithMaxBytes(cfg.maxBytes), memstore.WithRetention(cfg.retention), memstore.WithClock(s.clock))
	seqs, err := s.survey()
	if err != nil {
		_ = s.Store.Close()
		_ = unlock()
		return nil, err
	}
	go s.replayAll(seqs)
	return s, nil
}

// WaitReplay waits until the replay is over, or ctx is done. It returns
// why the replay failed, if it did: the store then serves what was
// replayed and refuses writes.
func (s *Store) WaitReplay(ctx context.Context) error {
	select {
	case <-s.replayed:
		return s.replayErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Progress reports the bytes of segments replayed so far and in all.
func (s *Store) Progress() (done, total int64) {
	return s.done.Load() / 2, s.all.Load() // each segment counts twice: decoded, then stored
}

// replayAll replays, then starts the first segment and lets writes in.
func (s *Store) replayAll(seqs []uint64) {
	defer close(s.replayed)
	start := time.Now()
	err := s.replay(seqs)
	s.recovery.Took = time.Since(start)
	aside, lerr := listAside(s.dir)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err = errors.Join(err, lerr); err != nil {
		s.replayErr = err
		return
	}
	s.aside = aside
	if s.closed {
		return
	}
	s.replaying = false
	if err := s.startSegment(); err != nil {
		// A full disk must not keep the server from starting: it serves
		// what was replayed and refuses writes, retryably, until a segment
		// can be started.
		_ = s.refuse(err)
	}
	s.dropOldSegments()
	if !s.cfg.syncEach {
		s.stopSync, s.syncDone = make(chan struct{}), make(chan struct{})
		go s.syncLoop()
	}
}

func (s *Store) clock() time.Time {
	if t := s.pinned.Load(); t != 0 {
		return time.Unix(0, t)
	}
	return s.cfg.now()
}

// Recovery reports what the replay found, once it is over.
func (s *Store) Recovery() Recovery {
	<-s.replayed
	return s.recovery
}

func (s *Store) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.recovery.Problems = append(s.recovery.Problems, msg)
	s.cfg.log.Error("diskstore: "+msg, "dir", s.dir)
}

// startSegment closes the active segment, if any, and starts the next one.
// When it fails, no new segment is listed and no file of it is left.
func (s *Store) startSegment() error {
	if s.active != nil {
		if err := s.active.Sync(); err != nil {
			return err
		}
		if err := s.active.Close(); err != nil {
			return err
		}
		s.active = nil
	}
	seq := uint64(1)
	if len(s.segs) > 0 {
		seq = s.segs[len(s.segs)-1].seq + 1
	}
	path := segmentPath(s.dir, seq)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("starting a segment: %w", err)
	}
	if _, err := f.Write(encodeHeader()); err != nil {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("starting %s: %w", path, err)
	}
	s.active = f
	s.segs = append(s.segs, segment{seq: seq, size: headerSize, lastAt: s.cfg.now().UnixNano()})
	s.dirty = true
	return syncDir(s.dir)
}

// syncDir makes a new or removed file's directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	_ = d.Sync() // not supported everywhere (Windows); best effort
	return nil
}

// dropOldSegments deletes whole closed segments and files set aside past
// the bounds, oldest first, under s.mu.
func (s *Store) dropOldSegments() {
	cutoff := s.cfg.now().Add(-s.cfg.retention).UnixNano()
	var total int64
	for _, seg := range s.segs {
		total += seg.size
	}
	for _, a := range s.aside {
		total += a.size
	}
	for {
		closed, aside := len(s.segs) > 1, len(s.aside) > 0 // never the active segment
		if !closed && !aside {
			return
		}
		var path string
		var at, size int64
		if aside && (!closed || s.aside[0].mod <= s.segs[0].lastAt) {
			path, at, size = s.aside[0].path, s.aside[0].mod, s.aside[0].size
		} else {
			aside = false
			path, at, size = segmentPath(s.dir, s.segs[0].seq), s.segs[0].lastAt, s.segs[0].size
		}
		if total <= s.cfg.maxBytes && at >= cutoff {
			return
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.cfg.log.Error("diskstore: removing old data", "error", err)
			return
		}
		total -= size
		if aside {
			s.aside = s.aside[1:]
		} else {
			s.segs = s.segs[1:]
		}
	}
}

func (s *Store) syncLoop() {
	defer close(s.syncDone)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stopSync:
			return
		case <-t.C:
			s.mu.Lock()
			if s.dirty && s.active != nil {
				if err := s.active.Sync(); err != nil {
					s.cfg.log.Error("diskstore: fsync", "error", err)
				}
				s.dirty = false
			}
			s.mu.Unlock()
		}
	}
}

// write appends one record, then applies it to memory at the same receive
// time, both under s.mu so that disk order is memory order.
func (s *Store) write(ctx context.Context, kind byte, items int, marshal func() ([]byte, error), apply func(context.Context) (store.WriteResult, error)) (store.WriteResult, error) {
	if err := ctx.Err(); err != nil {
		return store.WriteResult{}, err
	}
	if items == 0 {
		return apply(ctx)
	}
	payload, err := marshal()
	if err != nil {
		return store.WriteResult{}, err
	}
	if int64(len(payload)) > maxPayload {
		return store.WriteResult{}, store.ErrTooLarge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.WriteResult{}, store.ErrClosed
	}
	if s.replaying {
		return store.WriteResult{}, s.replayRefusal()
	}
	if s.active == nil {
		if err := s.startSegment(); err != nil {
			return store.WriteResult{}, s.refuse(err)
		}
	}
	at := s.cfg.now().UnixNano()
	// The record is encoded into one buffer reused under s.mu: a fresh one
	// per write was as much garbage as the request itself.
	rec := appendRecord(s.recBuf[:0], kind, at, payload)
	if cap(rec) <= maxRecBuf {
		s.recBuf = rec
	}
	seg := &s.segs[len(s.segs)-1]
	if err := s.appendRecord(seg, rec); err != nil {
		return store.WriteResult{}, s.refuse(err)
	}
	if s.unsaid {
		s.cfg.log.Info("diskstore: writing again", "dir", s.dir, "refused since the last report", s.refused)
		s.refused, s.unsaid = 0, false
	}
	s.diskErr = nil
	seg.size += int64(len(rec))
	seg.lastAt = at
	s.pinned.Store(at)
	res, err := apply(ctx)
	s.pinned.Store(0)
	if seg.size >= s.cfg.segmentBytes {
		if err := s.startSegment(); err != nil {
			s.cfg.log.Error("diskstore: starting a segment", "error", err)
		}
		s.dropOldSegments()
	}
	return res, err
}

// appendRecord appends rec to the active segment seg, fsyncing it with
// WithSyncEveryWrite. A write that fails, even half-way, is rolled back:
// the segment is truncated to its last whole record, so that the records
// acknowledged after it are not written behind a broken one. Should the
// truncation fail too, the segment is closed and the next write starts
// another; replay sets the broken tail aside.
func (s *Store) appendRecord(seg *segment, rec []byte) error {
	_, err := s.active.Write(rec)
	if err == nil && s.cfg.syncEach {
		if err = s.active.Sync(); err != nil {
			err = fmt.Errorf("fsync: %w", err)
		}
	}
	if err == nil {
		s.dirty = s.dirty || !s.cfg.syncEach
		return nil
	}
	if terr := s.active.Truncate(seg.size); terr != nil {
		s.cfg.log.Error("diskstore: cannot roll back a failed write; starting a new segment", "segment", s.active.Name(), "error", terr)
		_ = s.active.Close()
		s.active = nil
	}
	return err
}

// refuse records a write refused because of the disk and returns the
// error for the client, which wraps store.ErrUnavailable: retryable.
// Refusals are logged at most once every reportEvery, with the count since
// the last report, and the first write accepted after a logged one is
// logged too.
func (s *Store) refuse(err error) error {
	s.refused++
	if now := time.Now(); s.reported.IsZero() || now.Sub(s.reported) >= reportEvery {
		s.cfg.log.Error("diskstore: cannot write to the data directory; refusing writes (retryable) until it can", "dir", s.dir, "error", err, "refused since the last report", s.refused)
		s.reported, s.refused, s.unsaid = now, 0, true
	}
	s.diskErr = err
	return fmt.Errorf("%w: diskstore: %w", store.ErrUnavailable, err)
}

// replayRefusal is the error of a write during the replay, or after a
// failed one.
func (s *Store) replayRefusal() error {
	if s.replayErr != nil {
		return fmt.Errorf("%w: diskstore: the replay of %s failed: %w", store.ErrUnavailable, s.dir, s.replayErr)
	}
	done, all := s.Progress()
	return fmt.Errorf("%w: diskstore: replaying %s: %d of %d MiB (%d%%); retry shortly", store.ErrUnavailable, s.dir, done>>20, all>>20, 100*done/max(all, 1))
}

// Err reports why writes are refused now, nil when they are accepted (as
// far as the last attempt tells).
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replaying {
		return s.replayRefusal()
	}
	if s.diskErr != nil {
		return fmt.Errorf("%w: diskstore: %w", store.ErrUnavailable, s.diskErr)
	}
	return nil
}

// WriteTraces appends td to the log and stores it.
func (s *Store) WriteTraces(ctx context.Context, td ptrace.Traces) (store.WriteResult, error) {
	return s.write(ctx, kindTraces, td.SpanCount(), ptraceotlp.NewExportRequestFromTraces(td).MarshalProto,
		func(ctx context.Context) (store.WriteResult, error) { return s.Store.WriteTraces(ctx, td) })
}

// WriteMetrics appends md to the log and stores it.
func (s *Store) WriteMetrics(ctx context.Context, md pmetric.Metrics) (store.WriteResult, error) {
	return s.write(ctx, kindMetrics, md.DataPointCount()+md.MetricCount(), pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto,
		func(ctx context.Context) (store.WriteResult, error) { return s.Store.WriteMetrics(ctx, md) })
}

// WriteLogs appends ld to the log and stores it.
func (s *Store) WriteLogs(ctx context.Context, ld plog.Logs) (store.WriteResult, error) {
	return s.write(ctx, kindLogs, ld.LogRecordCount(), plogotlp.NewExportRequestFromLogs(ld).MarshalProto,
		func(ctx context.Context) (store.WriteResult, error) { return s.Store.WriteLogs(ctx, ld) })
}

// Close fsyncs and closes the active segment and releases the directory.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return store.ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	s.stopReplay.Store(true)
	<-s.replayed
	if s.stopSync != nil {
		close(s.stopSync)
		<-s.syncDone
	}
	var errs []error
	if s.active != nil {
		errs = append(errs, s.active.Sync(), s.active.Close())
		if last := s.segs[len(s.segs)-1]; last.size == headerSize { // nothing written: leave no empty segment behind
			errs = append(errs, os.Remove(segmentPath(s.dir, last.seq)))
		}
	}
	errs = append(errs, s.Store.Close(), s.unlock())
	return errors.Join(errs...)
}
