package enginebench

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/cockroachdb/pebble"
	bolt "go.etcd.io/bbolt"
)

// engine stores records (kind, receive time, payload) in arrival order.
type engine interface {
	// append stores one record. With durable set, it is on stable storage
	// when append returns; otherwise it must survive the process being
	// killed (it reached the OS), not power loss.
	append(kind byte, at int64, payload []byte, durable bool) error
	// readAll calls fn for every record, oldest first.
	readAll(fn func(kind byte, at int64, payload []byte) error) error
	// dropOldest removes the oldest n records.
	dropOldest(n int) error
	close() error
}

type opener struct {
	name string
	open func(dir string) (engine, error)
}

var engines = []opener{
	{"segments", openSegments},
	{"bbolt", openBolt},
	{"pebble", openPebble},
}

// segments is diskstore's format (see its package documentation): records
// appended with write(2) to files rotated at 64 MiB, each record with its
// length, CRC-32C, kind and time; eviction deletes whole files.
type segments struct {
	dir   string
	f     *os.File
	size  int64
	seq   int
	count []int // records per segment, oldest first
	first int   // sequence of the oldest segment
}

const segmentBytes = 64 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func openSegments(dir string) (engine, error) {
	s := &segments{dir: dir}
	names, _ := filepath.Glob(filepath.Join(dir, "seg-*"))
	slices.Sort(names)
	for _, n := range names {
		var seq int
		if _, err := fmt.Sscanf(filepath.Base(n), "seg-%08d", &seq); err != nil {
			return nil, err
		}
		if len(s.count) == 0 {
			s.first = seq
		}
		s.seq = seq + 1
		s.count = append(s.count, -1) // unknown until read
	}
	if len(s.count) == 0 {
		s.first = s.seq
	}
	return s, s.rotate()
}

func (s *segments) rotate() error {
	if s.f != nil {
		if err := s.f.Sync(); err != nil {
			return err
		}
		if err := s.f.Close(); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(filepath.Join(s.dir, fmt.Sprintf("seg-%08d", s.seq)), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte("LOUPESEG\x01\x00\x00\x00\x00\x00\x00\x00")); err != nil {
		return err
	}
	s.f, s.size = f, 16
	s.seq++
	s.count = append(s.count, 0)
	return nil
}

func (s *segments) append(kind byte, at int64, payload []byte, durable bool) error {
	if s.size+int64(len(payload)) > segmentBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	rec := make([]byte, 17+len(payload))
	binary.LittleEndian.PutUint32(rec, uint32(len(payload)))
	rec[8] = kind
	binary.LittleEndian.PutUint64(rec[9:], uint64(at))
	copy(rec[17:], payload)
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(rec[8:], castagnoli))
	if _, err := s.f.Write(rec); err != nil {
		return err
	}
	s.size += int64(len(rec))
	s.count[len(s.count)-1]++
	if durable {
		return s.f.Sync()
	}
	return nil
}

func (s *segments) readAll(fn func(byte, int64, []byte) error) error {
	for i := range s.count {
		raw, err := os.ReadFile(filepath.Join(s.dir, fmt.Sprintf("seg-%08d", s.first+i)))
		if err != nil {
			return err
		}
		n := 0
		for b := raw[16:]; len(b) > 0; n++ {
			if len(b) < 17 {
				return io.ErrUnexpectedEOF
			}
			l := int(binary.LittleEndian.Uint32(b))
			if 17+l > len(b) || crc32.Checksum(b[8:17+l], castagnoli) != binary.LittleEndian.Uint32(b[4:]) {
				return errors.New("segments: corrupt record")
			}
			if err := fn(b[8], int64(binary.LittleEndian.Uint64(b[9:])), b[17:17+l]); err != nil {
				return err
			}
			b = b[17+l:]
		}
		s.count[i] = n
	}
	return nil
}

// dropOldest deletes whole segments while they hold only records to drop,
// as diskstore does: eviction granularity is a segment.
func (s *segments) dropOldest(n int) error {
	for len(s.count) > 1 && s.count[0] >= 0 && s.count[0] <= n {
		if err := os.Remove(filepath.Join(s.dir, fmt.Sprintf("seg-%08d", s.first))); err != nil {
			return err
		}
		n -= s.count[0]
		s.count = s.count[1:]
		s.first++
	}
	return nil
}

func (s *segments) close() error {
	if err := s.f.Sync(); err != nil {
		return err
	}
	return s.f.Close()
}

// bbolt: one bucket, keys are a big-endian sequence, values kind+time+payload;
// one transaction per record.
type boltEngine struct {
	db   *bolt.DB
	next uint64
}

var bucket = []byte("records")

func openBolt(dir string) (engine, error) {
	db, err := bolt.Open(filepath.Join(dir, "bolt.db"), 0o600, &bolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, err
	}
	e := &boltEngine{db: db}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		if k, _ := b.Cursor().Last(); k != nil {
			e.next = binary.BigEndian.Uint64(k) + 1
		}
		return nil
	})
	return e, err
}

func value(kind byte, at int64, payload []byte) []byte {
	v := make([]byte, 9+len(payload))
	v[0] = kind
	binary.LittleEndian.PutUint64(v[1:], uint64(at))
	copy(v[9:], payload)
	return v
}

func (e *boltEngine) append(kind byte, at int64, payload []byte, durable bool) error {
	e.db.NoSync = !durable // without fsync, a commit still reaches the OS (pwrite)
	return e.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		b.FillPercent = 1 // append-only keys
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], e.next)
		e.next++
		return b.Put(k[:], value(kind, at, payload))
	})
}

func (e *boltEngine) readAll(fn func(byte, int64, []byte) error) error {
	return e.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, v []byte) error {
			return fn(v[0], int64(binary.LittleEndian.Uint64(v[1:])), v[9:])
		})
	})
}

func (e *boltEngine) dropOldest(n int) error {
	return e.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, _ := c.First(); k != nil && n > 0; k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
			n--
		}
		return nil
	})
}

func (e *boltEngine) close() error { return e.db.Close() }

// pebble: same keys and values. Without Sync a write is in the WAL's
// buffer, which a background goroutine writes soon after: unlike the
// others it may not have reached the OS when Set returns.
type pebbleEngine struct {
	db   *pebble.DB
	next uint64
}

func openPebble(dir string) (engine, error) {
	db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, err
	}
	e := &pebbleEngine{db: db}
	it, err := db.NewIter(nil)
	if err != nil {
		return nil, err
	}
	if it.Last() {
		e.next = binary.BigEndian.Uint64(it.Key()) + 1
	}
	return e, it.Close()
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

func (e *pebbleEngine) append(kind byte, at int64, payload []byte, durable bool) error {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], e.next)
	e.next++
	opts := pebble.NoSync
	if durable {
		opts = pebble.Sync
	}
	return e.db.Set(k[:], value(kind, at, payload), opts)
}

func (e *pebbleEngine) readAll(fn func(byte, int64, []byte) error) error {
	it, err := e.db.NewIter(nil)
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		v := it.Value()
		if err := fn(v[0], int64(binary.LittleEndian.Uint64(v[1:])), v[9:]); err != nil {
			_ = it.Close()
			return err
		}
	}
	return it.Close()
}

func (e *pebbleEngine) dropOldest(n int) error {
	it, err := e.db.NewIter(nil)
	if err != nil {
		return err
	}
	var first uint64
	if it.First() {
		first = binary.BigEndian.Uint64(it.Key())
	}
	if err := it.Close(); err != nil {
		return err
	}
	var lo, hi [8]byte
	binary.BigEndian.PutUint64(lo[:], first)
	binary.BigEndian.PutUint64(hi[:], first+uint64(n))
	if err := e.db.DeleteRange(lo[:], hi[:], pebble.NoSync); err != nil {
		return err
	}
	return e.db.Compact(lo[:], hi[:], true)
}

func (e *pebbleEngine) close() error { return e.db.Close() }
