package diskstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	magic         = "LOUPESEG"
	formatVersion = 1
	headerSize    = 16
	recordHeader  = 17 // length, crc, kind, time
	// maxPayload bounds a record's length field: anything larger is corrupt.
	maxPayload = 1 << 30
)

// Record kinds.
const (
	kindTraces  byte = 1
	kindMetrics byte = 2
	kindLogs    byte = 3
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func segmentName(seq uint64) string { return fmt.Sprintf("seg-%020d.loupe", seq) }

// listSegments returns the sequence numbers of dir's segments, sorted.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, e := range entries {
		name := e.Name()
		num, ok := strings.CutPrefix(name, "seg-")
		if !ok {
			continue
		}
		num, ok = strings.CutSuffix(num, ".loupe")
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(num, 10, 64)
		if err != nil {
			continue
		}
		seqs = append(seqs, seq)
	}
	slices.Sort(seqs)
	return seqs, nil
}

func encodeHeader() []byte {
	b := make([]byte, headerSize)
	copy(b, magic)
	binary.LittleEndian.PutUint32(b[8:], formatVersion)
	return b
}

// errFutureVersion is returned for a segment written by a newer loupe.
var errFutureVersion = errors.New("segment written in a newer format")

// checkHeader validates a segment's header.
func checkHeader(b []byte) error {
	if len(b) < headerSize || string(b[:8]) != magic {
		return errors.New("not a loupe segment (bad magic)")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != formatVersion {
		if v > formatVersion {
			return fmt.Errorf("%w: version %d, this loupe reads %d", errFutureVersion, v, formatVersion)
		}
		return fmt.Errorf("unknown format version %d", v)
	}
	return nil
}

// appendRecord encodes one record onto buf.
func appendRecord(buf []byte, kind byte, at int64, payload []byte) []byte {
	var h [recordHeader]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(payload)))
	h[8] = kind
	binary.LittleEndian.PutUint64(h[9:], uint64(at))
	crc := crc32.Update(0, castagnoli, h[8:])
	crc = crc32.Update(crc, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:], crc)
	buf = append(buf, h[:]...)
	return append(buf, payload...)
}

type record struct {
	kind    byte
	at      int64
	payload []byte
}

// nextRecord decodes the record at the start of b. It returns the record
// and its encoded size, or an error saying why b does not start with one.
func nextRecord(b []byte) (record, int, error) {
	if len(b) < recordHeader {
		return record{}, 0, fmt.Errorf("record header cut short (%d bytes)", len(b))
	}
	n := binary.LittleEndian.Uint32(b[0:])
	if n > maxPayload || int(n) > len(b)-recordHeader {
		return record{}, 0, fmt.Errorf("record of %d bytes cut short or implausible (%d bytes left)", n, len(b)-recordHeader)
	}
	end := recordHeader + int(n)
	crc := crc32.Update(0, castagnoli, b[8:end])
	if crc != binary.LittleEndian.Uint32(b[4:]) {
		return record{}, 0, errors.New("record CRC mismatch")
	}
	r := record{kind: b[8], at: int64(binary.LittleEndian.Uint64(b[9:])), payload: b[recordHeader:end]}
	if r.kind < kindTraces || r.kind > kindLogs {
		return record{}, 0, fmt.Errorf("unknown record kind %d", r.kind)
	}
	return r, end, nil
}

// writeSynced writes data to the file at path, replacing its content
// (flag os.O_TRUNC) or after it (os.O_APPEND; head first when the file is
// new or empty), and fsyncs it.
func writeSynced(path string, flag int, head, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|flag, 0o600)
	if err != nil {
		return err
	}
	if st, err := f.Stat(); err == nil && st.Size() == 0 && head != nil {
		data = append(head[:len(head):len(head)], data...)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readHeader reads a segment's header (or what there is of it) and its size.
func readHeader(path string) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	head := make([]byte, headerSize)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	return head[:n], st.Size(), nil
}

func segmentPath(dir string, seq uint64) string { return filepath.Join(dir, segmentName(seq)) }
