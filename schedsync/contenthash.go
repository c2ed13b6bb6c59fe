package schedsync

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
)

// The content hash of a file, the one the manifest, the file streams, the
// delta answers and the journal carry, is a chunked tree hash:
//
//	chunk digest i = SHA-256(bytes [i MiB, (i+1) MiB) of the content)
//	content hash   = SHA-256("redund-tree-v1" || uvarint size || chunk digests)
//
// The last chunk may be shorter; an empty file has no chunk, and a size
// that is a multiple of a MiB has no empty last chunk. It costs what one
// SHA-256 of the content costs, but the chunks can be hashed apart: the
// primary keeps each large file's chunk digests and, after a write, hashes
// again only the chunks that changed (hashcache.go).
const contentChunk = 1 << 20

var contentDomain = []byte("redund-tree-v1")

// contentHash computes the content hash as a hash.Hash.
type contentHash struct {
	chunk   hash.Hash // SHA-256 of the bytes of the current chunk
	inChunk int       // how many: below contentChunk
	size    int64
	digests []byte // of the complete chunks
}

var _ hash.Hash = (*contentHash)(nil)

func newContentHash() *contentHash { return &contentHash{chunk: sha256.New()} }

// contentSum returns the content hash of b.
func contentSum(b []byte) [32]byte {
	h := newContentHash()
	h.Write(b)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func (h *contentHash) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if h.inChunk == 0 && len(p) >= contentChunk {
			d := sha256.Sum256(p[:contentChunk])
			h.addChunk(contentChunk, d)
			p = p[contentChunk:]
			continue
		}
		k := min(len(p), contentChunk-h.inChunk)
		h.chunk.Write(p[:k])
		h.inChunk += k
		h.size += int64(k)
		p = p[k:]
		if h.inChunk == contentChunk {
			h.digests = h.chunk.Sum(h.digests)
			h.chunk.Reset()
			h.inChunk = 0
		}
	}
	return n, nil
}

// addChunk adds a chunk of n bytes whose SHA-256 is already known. It is
// only valid at a chunk boundary, and n is contentChunk but for the last.
func (h *contentHash) addChunk(n int, digest [32]byte) {
	if h.inChunk != 0 || n > contentChunk {
		panic("schedsync: contentHash.addChunk off a chunk boundary")
	}
	h.digests = append(h.digests, digest[:]...)
	h.size += int64(n)
}

// Sum appends the content hash of what was written to b.
func (h *contentHash) Sum(b []byte) []byte {
	root := sha256.New()
	root.Write(contentDomain)
	root.Write(binary.AppendUvarint(nil, uint64(h.size)))
	root.Write(h.digests)
	if h.inChunk > 0 {
		var d [32]byte
		root.Write(h.chunk.Sum(d[:0]))
	}
	return root.Sum(b)
}

func (h *contentHash) Reset() {
	h.chunk.Reset()
	h.inChunk, h.size, h.digests = 0, 0, h.digests[:0]
}

func (h *contentHash) Size() int      { return sha256.Size }
func (h *contentHash) BlockSize() int { return sha256.BlockSize }
