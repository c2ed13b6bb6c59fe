package schedsync

import (
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The primary hashes a changed file once: the scan's SHA-256 is kept with
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

// hashCacheMin: smaller files are never sent as deltas.
const (
	hashCacheMin     = 64 << 10
	hashCacheEntries = 1 << 16
)

type fileKey struct {
	dev, ino           uint64
	size, mtime, ctime int64
}

type hashedFile struct {
	key fileKey
	sum [32]byte
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
// in c when the file did not change while it was read.
func (c *hashCache) hashFileKept(name, rel string) ([32]byte, error) {
	var sum [32]byte
	f, err := os.Open(name)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	start := coarseNow()
	fi1, err := f.Stat()
	if err != nil {
		return sum, err
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, f, make([]byte, 1<<20)); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	fi2, err := f.Stat()
	if err != nil {
		return sum, nil
	}
	k1, ok1 := statKey(fi1)
	k2, ok2 := statKey(fi2)
	if ok1 && ok2 && k1 == k2 && k1.size >= hashCacheMin && k1.settled(start) {
		c.put(rel, hashedFile{key: k1, sum: sum})
	}
	return sum, nil
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
	return h.sum, ok && h.key == k
}
