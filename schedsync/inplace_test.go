package schedsync

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	must(t, err)
	_, ino, _ := fileID(fi)
	return ino
}

// TestPairInPlaceUpdate: bytes changed in a large synced file reach the
// secondary as writes into its file (same inode, no temporary file), with
// the primary's mtime and mode, recorded with the new hash, and no
// journal left; a change that moves the content is still installed by
// rename.
func TestPairInPlaceUpdate(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, nil)
	data := bigData(2<<20, 1)
	must(t, os.WriteFile(filepath.Join(p.dir, "big.bin"), data, 0o644))
	waitSame(t, p, s, "initial copy")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	dst := filepath.Join(s.dir, "big.bin")
	ino := inode(t, dst)
	for i := range 3 {
		f, err := os.OpenFile(filepath.Join(p.dir, "big.bin"), os.O_RDWR, 0)
		must(t, err)
		off := int64(len(data)/2 + i*70000)
		data[off] ^= 0xff
		_, err = f.WriteAt(data[off:off+1], off)
		must(t, err)
		must(t, f.Close())
		want := contentSum(data)
		testutil.Eventually(t, 10*time.Second, "the change on the secondary, recorded", func() bool {
			got, err := os.ReadFile(dst)
			e, ok := s.app.expectedCopy()["big.bin"]
			return err == nil && bytes.Equal(got, data) && ok && e.Hash == want
		})
		if inode(t, dst) != ino {
			t.Fatalf("change %d: the file was replaced, not updated in place", i)
		}
	}
	waitSame(t, p, s, "after the changes") // mtime and mode too
	// the primary's rescan kept its hash for the delta answers: a flip is
	// hashed once there (the rescan starts 15 ms after the write at least,
	// later than the coarse clock's tick)
	fi, err := os.Stat(filepath.Join(p.dir, "big.bin"))
	must(t, err)
	if sum, ok := p.hashes.get("big.bin", fi); !ok || sum != contentSum(data) {
		t.Fatal("the primary did not keep the hash of the changed file")
	}
	if ents, _ := os.ReadDir(filepath.Join(s.dir, filepath.FromSlash(journalDir))); len(ents) != 0 {
		t.Fatalf("%d journals left", len(ents))
	}
	shifted := append([]byte("inserted"), data...)
	must(t, os.WriteFile(filepath.Join(p.dir, "big.bin"), shifted, 0o644))
	waitSame(t, p, s, "after the shift")
	if inode(t, dst) == ino {
		t.Fatal("a delta moving all the content was applied in place")
	}
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
}

// TestNodeStartFinishesInPlaceUpdate: a node started over a journal left
// by a crash between the journal and the writes finishes the update before
// anything else and records the file as written, so it is not taken for
// a local edit.
func TestNodeStartFinishesInPlaceUpdate(t *testing.T) {
	c := newCrashFixture(t, 0)
	_, err := c.w.writeJournal(c.j)
	must(t, err)
	f := openRW(t, c.dir)
	_, err = f.WriteAt(c.j.writes[0].data, c.j.writes[0].off) // crashed after the first write
	must(t, err)
	_, b, _, _ := pairConfigs(t, ModePrimary, ModeSecondaryCopy, nil)
	b.Dir = c.dir
	n, err := New(b, Options{Version: "test"})
	must(t, err)
	defer n.w.close()
	if !bytes.Equal(c.content(t), c.cur) {
		t.Fatal("the update was not finished at start")
	}
	if e := n.app.expectedCopy()["f.bin"]; e.Hash != c.j.hash || e.Size != c.j.newSize || e.MTime != c.j.mtime {
		t.Fatalf("expected entry %+v, want the journal's", e)
	}
	if c.journals(t) != 0 {
		t.Fatal("the journal was left")
	}
}

// TestHashKeptUntilChanged: the primary's kept hash stands for the file
// only while its stat data (ctime included) is unchanged: content
// rewritten with the same size and the old mtime put back is not vouched
// for.
func TestHashKeptUntilChanged(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f.bin")
	must(t, os.WriteFile(name, bigData(hashCacheMin, 1), 0o644))
	fi, err := os.Stat(name)
	must(t, err)
	k, _ := statKey(fi)
	testutil.Eventually(t, 5*time.Second, "the coarse clock past the file's ctime", func() bool { return k.settled(coarseNow()) })
	var c hashCache
	sum, err := c.hashFileKept(name, "f.bin")
	must(t, err)
	if sum != contentSum(bigData(hashCacheMin, 1)) {
		t.Fatal("wrong hash")
	}
	if got, ok := c.get("f.bin", fi); !ok || got != sum {
		t.Fatal("the hash of an unchanged file was not kept")
	}
	must(t, os.WriteFile(name, bigData(hashCacheMin, 2), 0o644))
	must(t, os.Chtimes(name, fi.ModTime(), fi.ModTime()))
	fi2, err := os.Stat(name)
	must(t, err)
	if fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatal("precondition: same size and mtime")
	}
	if _, ok := c.get("f.bin", fi2); ok {
		t.Fatal("a kept hash vouched for rewritten content")
	}
}

// TestDeltaFlushesLongRuns: a long unchanged stretch reaches the
// secondary in pieces while the primary reads on (so it checks its copy
// meanwhile), not in one copy at the end; the delta stays correct.
func TestDeltaFlushesLongRuns(t *testing.T) {
	old := bigData(1<<20, 4) // 1,024 blocks of 1 KiB
	cur := bytes.Clone(old)
	cur[len(cur)-10] ^= 1
	sig, err := makeSignature(bytes.NewReader(old), int64(len(old)))
	must(t, err)
	var d bytes.Buffer
	var sentAtFlush []int
	must(t, writeDeltaFlushing(&d, bytes.NewReader(cur), sig, func() error {
		sentAtFlush = append(sentAtFlush, d.Len())
		return nil
	}))
	if len(sentAtFlush) < 3 || sentAtFlush[0] == 0 {
		t.Fatalf("flushed at %v bytes: want the unchanged blocks sent in pieces of %d", sentAtFlush, runFlush)
	}
	var out bytes.Buffer
	must(t, applyDelta(&d, bytes.NewReader(old), sig, &out, int64(len(cur))))
	if !bytes.Equal(out.Bytes(), cur) {
		t.Fatal("the flushed delta does not rebuild the new content")
	}
}
