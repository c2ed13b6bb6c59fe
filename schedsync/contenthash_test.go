package schedsync

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// treeRef computes the content hash from its definition, one chunk at a
// time.
func treeRef(b []byte) [32]byte {
	root := sha256.New()
	root.Write([]byte("redund-tree-v1"))
	root.Write(binary.AppendUvarint(nil, uint64(len(b))))
	for off := 0; off < len(b); off += 1 << 20 {
		d := sha256.Sum256(b[off:min(len(b), off+1<<20)])
		root.Write(d[:])
	}
	var sum [32]byte
	root.Sum(sum[:0])
	return sum
}

func TestContentHash(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"one byte", 1},
		{"partial chunk", mib - 1},
		{"one chunk", mib},
		{"one chunk and a byte", mib + 1},
		{"exact chunk multiple", 3 * mib},
		{"partial last chunk", 3*mib + 12345},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := bigData(tc.size, 7)
			want := treeRef(data)
			if got := contentSum(data); got != want {
				t.Fatalf("one-shot: %x, want %x", got, want)
			}
			for _, step := range []int{1, 7, 4093, mib - 1, mib, mib + 3, 2*mib + 1} {
				if step == 1 && tc.size > 2*mib {
					continue // too slow, and 7 covers it
				}
				h := newContentHash()
				h.Write([]byte("garbage before a reset"))
				h.Reset()
				for off := 0; off < len(data); off += step {
					h.Write(data[off:min(len(data), off+step)])
				}
				if got := [32]byte(h.Sum(nil)); got != want {
					t.Fatalf("writes of %d: %x, want %x", step, got, want)
				}
				// Sum does not change the state
				if got := [32]byte(h.Sum(nil)); got != want {
					t.Fatalf("writes of %d, second Sum: %x, want %x", step, got, want)
				}
			}
		})
	}
	t.Run("size is hashed", func(t *testing.T) {
		if contentSum(nil) == contentSum([]byte{0}) {
			t.Fatal("empty and one zero byte hash alike")
		}
	})
	t.Run("not plain SHA-256", func(t *testing.T) {
		if contentSum([]byte("x")) == sha256.Sum256([]byte("x")) {
			t.Fatal("content hash is plain SHA-256")
		}
	})
}

// poisonChunk makes the kept SHA-256 of chunk i of rel wrong, as an
// xxhash collision would.
func poisonChunk(t *testing.T, c *hashCache, rel string, i int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.m[rel]
	if !ok || len(h.chunks) <= i {
		t.Fatalf("no chunk %d kept for %s", i, rel)
	}
	h.chunks = append([]chunkSum(nil), h.chunks...)
	h.chunks[i].sum = [32]byte{}
	c.m[rel] = h
}

// TestChunksReused: a large file hashed again after a one-byte write
// takes the kept SHA-256 of every unchanged chunk (a poisoned one shows
// it), hashes the changed chunk, and after forget reads every byte.
func TestChunksReused(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f.bin")
	data := bigData(chunkCacheMin+contentChunk+100, 1)
	must(t, os.WriteFile(name, data, 0o644))
	var c hashCache
	sum, err := c.hashFileKept(name, "f.bin")
	must(t, err)
	if sum != contentSum(data) {
		t.Fatal("wrong hash of the first read")
	}
	if n := len(c.chunksOf("f.bin")); n != 10 {
		t.Fatalf("%d chunks kept, want 10", n)
	}
	poisonChunk(t, &c, "f.bin", 2)
	flipByte(t, name, data, 7*contentChunk+5)
	sum, err = c.hashFileKept(name, "f.bin")
	must(t, err)
	chunks := c.chunksOf("f.bin")
	if chunks[2].sum != ([32]byte{}) || sum == contentSum(data) {
		t.Fatal("the unchanged chunk 2 was hashed again, not reused")
	}
	if chunks[7].sum != sha256.Sum256(data[7*contentChunk:8*contentChunk]) {
		t.Fatal("the changed chunk 7 was not hashed again")
	}
	c.forget("f.bin")
	sum, err = c.hashFileKept(name, "f.bin")
	must(t, err)
	if sum != contentSum(data) {
		t.Fatal("after forget: wrong hash")
	}
}

// TestPoisonedChunkRepaired: a kept chunk digest gone wrong (what an
// xxhash collision would do) gives the manifest a wrong hash after a
// write; the secondary's fetch fails its check, the rehash it asks for
// forgets the kept chunks, and the secondary converges.
func TestPoisonedChunkRepaired(t *testing.T) {
	data := bigData(chunkCacheMin+contentChunk/2, 3)
	a, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		must(t, os.WriteFile(filepath.Join(a.Dir, "f.bin"), data, 0o644))
	})
	p := startNode(t, a, lnA)
	testutil.Eventually(t, 10*time.Second, "the primary's first scan", func() bool {
		cl := p.currentLog()
		return cl != nil && func() bool { _, ok := cl.entry("f.bin"); return ok }()
	})
	poisonChunk(t, &p.hashes, "f.bin", 0)
	flipByte(t, filepath.Join(a.Dir, "f.bin"), data, 5*contentChunk+1)
	writeFile(t, a.Dir, "marker", "after the edit", 0o644)
	testutil.Eventually(t, 10*time.Second, "the edit's events processed", func() bool {
		_, ok := p.currentLog().entry("marker")
		return ok
	})
	if e, _ := p.currentLog().entry("f.bin"); e.Hash == contentSum(data) {
		t.Fatal("precondition: the poisoned chunk was expected in the manifest's hash")
	}
	s := startNode(t, b, lnB)
	testutil.Eventually(t, 20*time.Second, "the edited content on the secondary, Synced", func() bool {
		got, err := os.ReadFile(filepath.Join(s.dir, "f.bin"))
		return err == nil && bytes.Equal(got, data) && s.state() == StateSynced
	})
	if e, _ := p.currentLog().entry("f.bin"); e.Hash != contentSum(data) {
		t.Fatal("the primary's manifest still has the wrong hash")
	}
}

// BenchmarkHashAfterOneByte: the primary's hash of a 100 MiB file after a
// one-byte write, with the kept chunks ("kept") and without ("whole").
func BenchmarkHashAfterOneByte(b *testing.B) {
	dir := b.TempDir()
	name := filepath.Join(dir, "f.bin")
	data := bigData(100<<20, 1)
	if err := os.WriteFile(name, data, 0o644); err != nil {
		b.Fatal(err)
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for _, kept := range []bool{true, false} {
		b.Run(map[bool]string{true: "kept", false: "whole"}[kept], func(b *testing.B) {
			var c hashCache
			if _, err := c.hashFileKept(name, "f.bin"); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			for i := 0; b.Loop(); i++ {
				off := int64(len(data)/2 + i%1000)
				data[off] ^= 0xff
				if _, err := f.WriteAt(data[off:off+1], off); err != nil {
					b.Fatal(err)
				}
				if !kept {
					c.forget("f.bin")
				}
				if _, err := c.hashFileKept(name, "f.bin"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHashFileKeptSmall: the scan's hash of a small file (100 KB, the
// bench tree's mean), per file; -benchmem shows what it allocates (a new
// MiB buffer per file made a 10,000-file scan 4x slower).
func BenchmarkHashFileKeptSmall(b *testing.B) {
	name := filepath.Join(b.TempDir(), "small.bin")
	if err := os.WriteFile(name, bigData(100_000, 2), 0o644); err != nil {
		b.Fatal(err)
	}
	var c hashCache
	b.ReportAllocs()
	b.SetBytes(100_000)
	for b.Loop() {
		if _, err := c.hashFileKept(name, "small.bin"); err != nil {
			b.Fatal(err)
		}
	}
}

// flipByte inverts the byte at off in the file name (in place, size
// kept) and in data, its expected content.
func flipByte(t *testing.T, name string, data []byte, off int) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	must(t, err)
	data[off] ^= 0xff
	_, err = f.WriteAt(data[off:off+1], int64(off))
	must(t, err)
	must(t, f.Close())
}
