package schedsync

import (
	"sync"

	"github.com/cespare/xxhash/v2"
)

// maxCachedBlocks bounds the signature cache (12 bytes a block: 48 MB).
const maxCachedBlocks = 4 << 20

// sigBuilder computes a file's delta signature while the file is written,
// so the next delta for it does not have to read it again.
type sigBuilder struct {
	sig *signature
	buf []byte
}

func newSigBuilder(size int64) *sigBuilder {
	s := &signature{block: blockSizeFor(size), size: size}
	return &sigBuilder{sig: s, buf: make([]byte, 0, s.block)}
}

func (b *sigBuilder) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		take := min(cap(b.buf)-len(b.buf), len(p))
		b.buf = append(b.buf, p[:take]...)
		p = p[take:]
		if len(b.buf) == cap(b.buf) {
			b.flush()
		}
	}
	return n, nil
}

func (b *sigBuilder) flush() {
	if len(b.buf) == 0 {
		return
	}
	w, s := weakSum(b.buf)
	b.sig.weak = append(b.sig.weak, w|s<<16)
	b.sig.strong = append(b.sig.strong, xxhash.Sum64(b.buf))
	b.buf = b.buf[:0]
}

// done returns the signature (nil if the content was not size bytes).
func (b *sigBuilder) done() *signature {
	b.flush()
	if int64(len(b.sig.weak)) != (b.sig.size+int64(b.sig.block)-1)/int64(b.sig.block) {
		return nil
	}
	return b.sig
}

// sigCache holds the signatures of large files the secondary wrote, keyed
// by path and valid while size and mtime are unchanged.
type sigCache struct {
	mu     sync.Mutex
	m      map[string]cachedSig
	blocks int
}

type cachedSig struct {
	size, mtime int64
	sig         *signature
}

func (c *sigCache) put(path string, size, mtime int64, s *signature) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.blocks+len(s.weak) > maxCachedBlocks {
		c.m, c.blocks = map[string]cachedSig{}, 0
	}
	if old, ok := c.m[path]; ok {
		c.blocks -= len(old.sig.weak)
	}
	c.m[path] = cachedSig{size: size, mtime: mtime, sig: s}
	c.blocks += len(s.weak)
}

func (c *sigCache) get(path string, size, mtime int64) *signature {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[path]; ok && e.size == size && e.mtime == mtime {
		return e.sig
	}
	return nil
}

// asyncSig feeds a sigBuilder from another goroutine, so computing the
// signature overlaps with writing and hashing the file.
type asyncSig struct {
	ch   chan []byte
	done chan *signature
}

func newAsyncSig(size int64) *asyncSig {
	a := &asyncSig{ch: make(chan []byte, 64), done: make(chan *signature, 1)}
	go func() {
		b := newSigBuilder(size)
		for p := range a.ch {
			_, _ = b.Write(p)
		}
		a.done <- b.done()
	}()
	return a
}

func (a *asyncSig) Write(p []byte) (int, error) {
	a.ch <- append([]byte(nil), p...)
	return len(p), nil
}

// result ends the stream and returns the signature.
func (a *asyncSig) result() *signature {
	close(a.ch)
	return <-a.done
}
