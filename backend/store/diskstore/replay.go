package diskstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/loupe-dev/loupe/backend/internal/otlpdepth"
	"github.com/loupe-dev/loupe/backend/store"
	"github.com/loupe-dev/loupe/backend/store/memstore"
)

// survey lists the segments to replay and checks their headers: a
// segment of a newer format stops the start, one that is not a segment is
// moved to <segment>.corrupt.
func (s *Store) survey() ([]uint64, error) {
	seqs, err := listSegments(s.dir)
	if err != nil {
		return nil, err
	}
	kept := seqs[:0]
	var total int64
	for _, seq := range seqs {
		path := segmentPath(s.dir, seq)
		head, size, err := readHeader(path)
		if err != nil {
			return nil, err
		}
		if err := checkHeader(head); err != nil {
			if errors.Is(err, errFutureVersion) {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			s.problem("%s: %v; moved aside to %s.corrupt", path, err, path)
			if err := moveAside(path); err != nil {
				s.problem("%s: cannot move it aside: %v; left in place, not read", path, err)
			}
			continue
		}
		kept = append(kept, seq)
		total += size
	}
	s.all.Store(total)
	return kept, nil
}

// damage is a byte range of a segment that holds no whole record.
type damage struct {
	from, to int
	why      error
}

// located is a whole record and its place in its segment.
type located struct {
	record
	off, n int
}

// scan splits a segment into its whole records and the damaged ranges
// between them: after damage, it resumes at the next whole record.
func scan(data []byte) (recs []located, damaged []damage) {
	for off := headerSize; off < len(data); {
		r, n, err := nextRecord(data[off:])
		if err != nil {
			next := resync(data, off+1)
			damaged = append(damaged, damage{off, next, err})
			off = next
			continue
		}
		recs = append(recs, located{r, off, n})
		off += n
	}
	return recs, damaged
}

// resync returns the offset of the first whole record of data at or after
// from, or len(data). A candidate must have a known kind and a payload
// that starts as every OTLP export request does (field 1, length-
// delimited) before its CRC is computed; the CRC work is bounded, so that
// crafted damage cannot make a start quadratic.
func resync(data []byte, from int) int {
	budget := 4*len(data) + 1<<20
	for off := from; off+recordHeader < len(data) && budget > 0; off++ {
		b := data[off:]
		n := int(binary.LittleEndian.Uint32(b))
		if n == 0 || n > len(b)-recordHeader || b[8] < kindTraces || b[8] > kindLogs || b[recordHeader] != 0x0a {
			continue
		}
		budget -= n
		if crc32.Update(0, castagnoli, b[8:recordHeader+n]) == binary.LittleEndian.Uint32(b[4:]) {
			return off
		}
	}
	return len(data)
}

// replay reads every segment into memory. Memory keeps the newest records
// whose sizes sum to at most its bound (and drops those past the
// retention), so the records are decoded newest first, on every core, until
// the bound is reached: the older ones, which memory would evict at once,
// are checked (CRC) but not decoded. The kept ones are then stored in
// order, each at its receive time, so that memory ends as it was.
func (s *Store) replay(seqs []uint64) error {
	cutoff := s.cfg.now().Add(-s.cfg.retention).UnixNano()
	room := s.cfg.maxBytes
	kept := make([][]keptRecord, len(seqs)) // per segment, newest first
	segs := make([]segment, len(seqs))
	read := make([]int64, len(seqs)) // the bytes of each segment, for Progress
	paths := make([]string, len(seqs))
	for i, seq := range seqs {
		paths[len(seqs)-1-i] = segmentPath(s.dir, seq) // newest first
	}
	next, stop := readAhead(paths)
	defer stop()
	for i := len(seqs) - 1; i >= 0; i-- {
		if s.stopReplay.Load() {
			return nil
		}
		path := segmentPath(s.dir, seqs[i])
		seg := next()
		if seg.err != nil {
			return seg.err
		}
		data, recs, damaged := seg.data, seg.recs, seg.damaged
		s.recovery.Segments++
		for _, d := range damaged {
			s.problem("%s at byte %d: %v; the %d bytes up to the next whole record moved to %s.corrupt", path, d.from, d.why, d.to-d.from, path)
		}
		s.recovery.Damaged += len(damaged)
		segs[i] = segment{seq: seqs[i], size: int64(len(data))}
		for _, r := range recs {
			segs[i].lastAt = max(segs[i].lastAt, r.at)
		}
		s.recovery.Records += len(recs)
		slices.Reverse(recs)
		truncated := s.recovery.Truncated
		var rejected [][2]int
		if room > 0 {
			decodeInOrder(recs, func(r located) bool { return r.at >= cutoff && !s.stopReplay.Load() }, func(r located, d decoded) bool {
				switch {
				case d.skipped:
					return true
				case d.err != nil:
					s.problem("%s at byte %d: a record of %d bytes cannot be stored: %v; moved to %s.rejected", path, r.off, r.n, d.err, path)
					rejected = append(rejected, [2]int{r.off, r.off + r.n})
					s.recovery.Rejected++
					s.recovery.Records--
					return true
				}
				s.recovery.Truncated += d.cut
				size := memstore.Size(d.c)
				if size == 0 || size > s.cfg.maxBytes {
					return true // not stored when it arrived either
				}
				if size > room {
					room = 0 // this one and every older one would be evicted
					return false
				}
				room -= size
				kept[i] = append(kept[i], keptRecord{r.at, d.c})
				return true
			})
		}
		read[i] = int64(len(data))
		s.done.Add(read[i])
		if len(damaged) > 0 || len(rejected) > 0 {
			size, err := excise(s.dir, path, data, damaged, rejected)
			if err != nil {
				s.problem("%s: cannot set its damaged or rejected records aside: %v; left in place", path, err)
			} else {
				segs[i].size = size
			}
		}
		if n := s.recovery.Truncated - truncated; n > 0 {
			s.problem("%s: %d value(s) nested deeper than %d levels cut (written before loupe cut them on receipt)", path, n, store.MaxValueDepth)
		}
	}
	ctx := context.Background()
	for i := range seqs {
		if s.stopReplay.Load() {
			return nil
		}
		for j := len(kept[i]) - 1; j >= 0; j-- {
			k := kept[i][j]
			kept[i][j] = keptRecord{}
			s.pinned.Store(k.at)
			_, err := s.Store.Write(ctx, k.c)
			s.pinned.Store(0)
			if err != nil && !errors.Is(err, store.ErrTooLarge) {
				return err
			}
		}
		s.done.Add(read[i])
		s.segs = append(s.segs, segs[i])
		if s.cfg.afterSegment != nil {
			s.cfg.afterSegment()
		}
	}
	return nil
}

// scanned is a segment read and split into records, or why it could not
// be read.
type scanned struct {
	data    []byte
	recs    []located
	damaged []damage
	err     error
}

// readAhead reads and scans the segments at paths in turn, one ahead of
// the caller, on a goroutine of its own: the next segment is read and its
// records' CRCs checked while the records of the one before are decoded
// (before, that read and scan left all cores but one idle, 0.38 s of a
// 2.1 s replay of 256 MiB). next hands out the segments in the order of
// paths, and after an error, the error again; a segment's bytes stay valid
// until the next call: two buffers take turns. stop ends the reading and
// waits for it.
func readAhead(paths []string) (next func() scanned, stop func()) {
	out := make(chan scanned)
	free := make(chan []byte, 2)
	free <- nil
	free <- nil
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(out)
		for _, path := range paths {
			var buf []byte
			select {
			case buf = <-free:
			case <-done:
				return
			}
			var seg scanned
			seg.data, seg.err = readInto(buf, path)
			if seg.err == nil {
				seg.recs, seg.damaged = scan(seg.data)
			}
			select {
			case out <- seg:
			case <-done:
				return
			}
			if seg.err != nil {
				return
			}
		}
	})
	var held []byte // the buffer of the segment handed out last
	var last scanned
	next = func() scanned {
		if held != nil {
			free <- held
			held = nil
		}
		seg, ok := <-out
		if !ok {
			return last // the error again, or the end (a zero scanned)
		}
		held, last = seg.data, scanned{err: seg.err}
		return seg
	}
	stop = func() {
		close(done)
		wg.Wait()
	}
	return next, stop
}

// readInto reads the file at path into buf, grown if it is too small, and
// returns the bytes read. The replay reads its segments into two buffers
// that take turns (readAhead): a new one per segment (os.ReadFile) cost
// three times as long, in page faults and in GC assists, each 16 MiB
// allocation counting towards the next GC under serve's soft memory
// limit. This is safe because nothing
// decoded from a record refers to its bytes: the decoders copy what they
// keep (store.TracesFromProto's interner, pdata's unmarshalling).
func readInto(buf []byte, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := int(fi.Size())
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	n, err := io.ReadFull(f, buf[:size])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return buf[:n], nil
}

// keptRecord is a record decoded for memory and its receive time.
type keptRecord struct {
	at int64
	c  store.Converted
}

// decoded is a record converted for memory, or why it could not be.
type decoded struct {
	c       store.Converted
	cut     int
	err     error
	skipped bool // not decoded: want said no
}

// decodeInOrder decodes the records of recs that want on every core and
// hands each record, decoded or skipped, to use in the order of recs,
// until use returns false: the rest are not decoded.
func decodeInOrder(recs []located, want func(located) bool, use func(located, decoded) bool) {
	workers := runtime.GOMAXPROCS(0)
	type job struct {
		r   record
		out chan decoded
	}
	jobs := make(chan job, 4*workers)
	order := make(chan chan decoded, 4*workers)
	var stop atomic.Bool
	for range workers {
		go func() {
			for j := range jobs {
				j.out <- decode(j.r)
			}
		}()
	}
	go func() {
		defer close(order)
		defer close(jobs)
		for _, r := range recs {
			if stop.Load() {
				return
			}
			out := make(chan decoded, 1)
			if want(r) {
				jobs <- job{r.record, out}
			} else {
				out <- decoded{skipped: true}
			}
			order <- out
		}
	}()
	i := 0
	for out := range order {
		d := <-out
		if !stop.Load() && !use(recs[i], d) {
			stop.Store(true)
		}
		i++
	}
}

// decode converts a record for memory. Trace records are converted by
// store.TracesFromProto, equal to pdata and FromTraces on every record it
// accepts (its tests hold it to them), a few times faster; the others,
// and the records it refuses, as follows. Values nested deeper than
// store.MaxValueDepth are cut first, as the receiver cuts them: a record
// written before it did could hold a value deep enough to overflow the
// stack of pdata's decoder. A panic is returned as an error, so that one
// record cannot stop every start. The decoded request is handed back to
// pdata's pools, as the receiver does.
func decode(r record) (d decoded) {
	defer func() {
		if p := recover(); p != nil {
			d = decoded{err: fmt.Errorf("panic: %v", p)}
		}
	}()
	if r.kind == kindTraces {
		// Decoded without pdata, for speed. Any error, ErrTooDeep
		// included, or a panic, and the record takes pdata's way below:
		// what pdata reads is the reference, for errors as for values.
		if c, ok := direct(r.payload); ok {
			return decoded{c: c}
		}
	}
	sig := otlpdepth.Traces
	switch r.kind {
	case kindMetrics:
		sig = otlpdepth.Metrics
	case kindLogs:
		sig = otlpdepth.Logs
	}
	payload, cut, err := otlpdepth.Proto(sig, r.payload)
	if err != nil {
		return decoded{err: err}
	}
	d.cut = cut
	switch r.kind {
	case kindTraces:
		req := ptraceotlp.NewExportRequest()
		if d.err = req.UnmarshalProto(payload); d.err == nil {
			d.c = store.FromTraces(req.Traces())
		}
		ptrace.NewTraces().MoveTo(req.Traces())
	case kindMetrics:
		req := pmetricotlp.NewExportRequest()
		if d.err = req.UnmarshalProto(payload); d.err == nil {
			d.c = store.FromMetrics(req.Metrics())
		}
		pmetric.NewMetrics().MoveTo(req.Metrics())
	case kindLogs:
		req := plogotlp.NewExportRequest()
		if d.err = req.UnmarshalProto(payload); d.err == nil {
			d.c = store.FromLogs(req.Logs())
		}
		plog.NewLogs().MoveTo(req.Logs())
	}
	return d
}

// direct converts a trace record with store.TracesFromProto; false when
// it fails or panics.
func direct(payload []byte) (c store.Converted, ok bool) {
	defer func() {
		if recover() != nil {
			c, ok = store.Converted{}, false
		}
	}()
	c, err := store.TracesFromProto(payload)
	return c, err == nil
}

// excise moves the damaged ranges of the segment at path (data is its
// content) to path.corrupt, as raw bytes appended to it, and the rejected
// records to path.rejected, a segment file of their own that later ones
// are appended to; then it replaces the segment by one without them
// (written aside, then renamed over it; a damaged tail alone is truncated
// off). It returns the new segment's size. Were it to stop half-way, the
// next replay would find the same ranges and set them aside again, at
// worst twice.
func excise(dir, path string, data []byte, damaged []damage, rejected [][2]int) (int64, error) {
	var cut [][2]int
	if len(damaged) > 0 {
		var raw []byte
		for _, d := range damaged {
			raw = append(raw, data[d.from:d.to]...)
			cut = append(cut, [2]int{d.from, d.to})
		}
		if err := writeSynced(path+".corrupt", os.O_APPEND, nil, raw); err != nil {
			return 0, err
		}
	}
	if len(rejected) > 0 {
		var recs []byte
		for _, r := range rejected {
			recs = append(recs, data[r[0]:r[1]]...)
			cut = append(cut, r)
		}
		if err := writeSynced(path+".rejected", os.O_APPEND, encodeHeader(), recs); err != nil {
			return 0, err
		}
	}
	slices.SortFunc(cut, func(a, b [2]int) int { return a[0] - b[0] })
	if len(cut) == 1 && cut[0][1] == len(data) {
		return int64(cut[0][0]), os.Truncate(path, int64(cut[0][0]))
	}
	kept := make([]byte, 0, len(data))
	from := 0
	for _, r := range cut {
		kept = append(kept, data[from:r[0]]...)
		from = r[1]
	}
	kept = append(kept, data[from:]...)
	tmp := path + ".tmp"
	if err := writeSynced(tmp, os.O_TRUNC, nil, kept); err != nil {
		_ = os.Remove(tmp)
		return 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, err
	}
	return int64(len(kept)), syncDir(dir)
}

// moveAside appends a file that is not a segment to path.corrupt and
// removes it.
func moveAside(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := writeSynced(path+".corrupt", os.O_APPEND, nil, data); err != nil {
		return err
	}
	return os.Remove(path)
}

// listAside lists the files set aside in dir, oldest first.
func listAside(dir string) ([]asideFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []asideFile
	for _, e := range entries {
		if name := e.Name(); strings.HasPrefix(name, "seg-") && (strings.HasSuffix(name, ".corrupt") || strings.HasSuffix(name, ".rejected")) {
			fi, err := e.Info()
			if err != nil {
				continue // removed meanwhile
			}
			out = append(out, asideFile{filepath.Join(dir, name), fi.Size(), fi.ModTime().UnixNano()})
		}
	}
	slices.SortFunc(out, func(a, b asideFile) int { return int(min(max(a.mod-b.mod, -1), 1)) })
	return out, nil
}
