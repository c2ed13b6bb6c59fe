package schedsync

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"github.com/cespare/xxhash/v2"
	"golang.org/x/sys/unix"
)

// The primary hashes a changed file once: the scan's content hash is kept with
// the file's identity, size, mtime and ctime (as git's index keeps a
// hash with the stat data), and the delta answer for that file repeats it
// instead of hashing the file again while all of these are unchanged.
//
// Any write or metadata change sets the ctime to the current time, which
// the file's owner cannot set back. A hash is kept only when the ctime it
// was computed for is older than the moment the reading started
// (CLOCK_REALTIME_COARSE, the clock file systems stamp with; "racy" in
// git's terms otherwise), so a write during or after the reading always
// changes the ctime the delta compares. A file system with whole-second
// timestamps gets a two-second margin.
//
// For a file of at least chunkCacheMin bytes the cache also keeps, per
// MiB chunk of the content hash (contenthash.go), the chunk's SHA-256 and
// its xxhash64, whatever the ctime said. After a write the scan reads the
// whole file again but takes the SHA-256 of each chunk whose offset,
// length and xxhash are unchanged from the cache: one changed byte in
// 100 MiB costs a read, an xxhash (about ten times faster than SHA-256)
// and one chunk's SHA-256. Should two chunks ever share an xxhash, the
// manifest's hash is wrong; the secondary's check of what it fetched then
// fails, and the rehash it asks for forgets the file's chunks first
// (rehash.go), so the corrected hash reads every byte.

// hashCacheMin: smaller files are never sent as deltas. chunkCacheMin:
// smaller files are hashed again whole.
const (
	hashCacheMin     = 64 << 10
	hashCacheEntries = 1 << 16
	chunkCacheMin    = 8 << 20
)

type fileKey struct {
	dev, ino           uint64
	size, mtime, ctime int64
}

type hashedFile struct {
	key     fileKey
	sum     [32]byte
	settled bool       // key and sum are kept (else only chunks)
	chunks  []chunkSum // a large file's chunks, or nil
}

// hashCache is shared by the primary's loop (which fills it) and the delta
// handlers (which read it).
type hashCache struct {
	mu sync.Mutex
	m  map[string]hashedFile
}

func statKey(fi fs.FileInfo) (fileKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, false
	}
	return fileKey{dev: uint64(st.Dev), ino: st.Ino, size: st.Size, mtime: fi.ModTime().UnixNano(),
		ctime: st.Ctim.Nano()}, true
}

func coarseNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_REALTIME_COARSE, &ts); err != nil {
		return 0 // nothing is kept
	}
	return ts.Nano()
}

// settled reports whether a hash read from start on may be kept for k.
func (k fileKey) settled(start int64) bool {
	margin := int64(0)
	if k.ctime%1e9 == 0 {
		margin = 2e9 // whole seconds: a later write may carry the same stamp
	}
	return k.ctime+margin < start
}

// hashFileKept hashes the file name (rel in the tree) and keeps the hash
// in c when the file did not change while it was read. A large file's
// chunks are hashed one by one, reusing the kept SHA-256 of each chunk
// whose place, length and xxhash are those it was kept for.
func (c *hashCache) hashFileKept(name, rel string) ([32]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return [32]byte{}, err
	}
	defer f.Close()
	return c.hashOpenKept(f, rel)
}

// hashOpenKept is hashFileKept of a file already open (the scan opens it
// without following links).
func (c *hashCache) hashOpenKept(f *os.File, rel string) ([32]byte, error) {
	var sum [32]byte
	start := coarseNow()
	fi1, err := f.Stat()
	if err != nil {
		return sum, err
	}
	var chunks []chunkSum
	if fi1.Size() >= chunkCacheMin {
		if chunks, err = hashChunks(f, c.chunksOf(rel)); err != nil {
			return sum, err
		}
		h := newContentHash()
		for _, ch := range chunks {
			h.addChunk(ch.n, ch.sum)
		}
		h.Sum(sum[:0])
	} else {
		h := newContentHash()
		buf := copyBufs.Get().(*[]byte) // not a new MiB per file: a scan of 10,000 files allocated 10 GB
		_, err := io.CopyBuffer(h, f, *buf)
		copyBufs.Put(buf)
		if err != nil {
			return sum, err
		}
		h.Sum(sum[:0])
	}
	fi2, err := f.Stat()
	if err != nil {
		return sum, nil
	}
	k1, ok1 := statKey(fi1)
	k2, ok2 := statKey(fi2)
	settled := ok1 && ok2 && k1 == k2 && k1.size >= hashCacheMin && k1.settled(start)
	switch {
	case settled:
		c.put(rel, hashedFile{key: k1, sum: sum, settled: true, chunks: chunks})
	case chunks != nil:
		// each chunk's xxhash and SHA-256 are of the same bytes, read
		// once: they may be kept even if the file changed meanwhile
		c.put(rel, hashedFile{chunks: chunks})
	}
	return sum, nil
}

// xxSeed seeds the chunks' xxhash: a file's writer does not know it, so
// cannot aim a write at an xxhash collision that would leave a stale
// chunk digest in the manifest.
var xxSeed = func() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}()

// chunkSum is what is kept of a chunk of a large file.
type chunkSum struct {
	xx  uint64   // xxhash64 (seeded by xxSeed) of the chunk's bytes
	n   int      // their count
	sum [32]byte // their SHA-256
}

// hashChunks reads r to its end, a chunk at a time, and returns the
// chunks' sums, taking the SHA-256 of chunk i from old[i] when the chunk
// has the same length and xxhash.
func hashChunks(r io.Reader, old []chunkSum) ([]chunkSum, error) {
	buf := make([]byte, contentChunk)
	xx := xxhash.NewWithSeed(xxSeed)
	var out []chunkSum
	for i := 0; ; i++ {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			xx.ResetWithSeed(xxSeed)
			xx.Write(buf[:n])
			cs := chunkSum{xx: xx.Sum64(), n: n}
			if i < len(old) && old[i].n == n && old[i].xx == cs.xx {
				cs.sum = old[i].sum
			} else {
				cs.sum = sha256.Sum256(buf[:n])
			}
			out = append(out, cs)
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			return out, nil
		case err != nil:
			return nil, err
		}
	}
}

// forget drops what is kept of rel: its next hash reads every byte.
func (c *hashCache) forget(rel string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, rel)
}

// chunksOf returns the chunk sums kept for rel.
func (c *hashCache) chunksOf(rel string) []chunkSum {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[rel].chunks
}

func (c *hashCache) put(rel string, h hashedFile) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= hashCacheEntries {
		c.m = map[string]hashedFile{}
	}
	c.m[rel] = h
}

// get returns the kept hash of rel if fi still has the key it was kept for.
func (c *hashCache) get(rel string, fi fs.FileInfo) ([32]byte, bool) {
	k, ok := statKey(fi)
	if !ok {
		return [32]byte{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[rel]
	return h.sum, ok && h.settled && h.key == k
}
