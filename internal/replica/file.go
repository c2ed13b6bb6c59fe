package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
)

// bbolt maps the database file and follows the page numbers its meta page
// names without checking that they lie inside the file: a file shorter
// than its last transaction left it (a full disk, a partial copy or
// restore) makes bolt.Open fault (SIGSEGV, which no recover catches)
// instead of returning an error. checkFile reads the two meta pages
// itself first and refuses such a file with an error that says so.

// The meta page as bbolt (format version 2) writes it, in the machine's
// byte order: a 16-byte page header, then magic, version, page size,
// flags (4 bytes each), the root bucket (16), the freelist page, the high
// water mark, the transaction id and an FNV-64a checksum of the fields
// before it (8 bytes each).
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	boltMetaOffset = 16
	boltMetaSum    = 56 // bytes of meta covered by the checksum
	boltMetaLen    = boltMetaSum + 8
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64 // high water mark: pages the file must hold
	txid     uint64
}

// parseBoltMeta decodes and checks a meta page (p starts at the page).
func parseBoltMeta(p []byte) (boltMeta, bool) {
	if len(p) < boltMetaOffset+boltMetaLen {
		return boltMeta{}, false
	}
	m := p[boltMetaOffset : boltMetaOffset+boltMetaLen]
	bo := binary.NativeEndian
	h := fnv.New64a()
	_, _ = h.Write(m[:boltMetaSum])
	if bo.Uint32(m[0:]) != boltMagic || bo.Uint32(m[4:]) != boltVersion || bo.Uint64(m[boltMetaSum:]) != h.Sum64() {
		return boltMeta{}, false
	}
	return boltMeta{pageSize: bo.Uint32(m[8:]), pgid: bo.Uint64(m[40:]), txid: bo.Uint64(m[48:])}, true
}

// checkFile refuses a database file shorter than its newest valid meta
// page says it is. A missing or empty file (bbolt creates it) and a file
// whose meta pages are both damaged (bbolt refuses it itself) pass.
func checkFile(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	readMeta := func(off int64) (boltMeta, bool) {
		p := make([]byte, boltMetaOffset+boltMetaLen)
		if _, err := f.ReadAt(p, off); err != nil && !errors.Is(err, io.EOF) {
			return boltMeta{}, false
		}
		return parseBoltMeta(p)
	}
	best, ok := readMeta(0)
	sizes := []uint32{best.pageSize}
	if !ok {
		sizes = []uint32{4096, 8192, 16384, 32768, 65536, uint32(os.Getpagesize())}
	}
	for _, ps := range sizes {
		if m, ok1 := readMeta(int64(ps)); ok1 && m.pageSize == ps {
			if !ok || m.txid > best.txid {
				best, ok = m, true
			}
			break
		}
	}
	if !ok || best.pageSize == 0 {
		return nil
	}
	if need := best.pgid * uint64(best.pageSize); uint64(fi.Size()) < need {
		return fmt.Errorf("the file is truncated: it holds %d bytes, its last transaction (%d) needs %d: "+
			"restore it, or move it aside to start with an empty store", fi.Size(), best.txid, need)
	}
	return nil
}
