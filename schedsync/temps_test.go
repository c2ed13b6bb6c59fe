package schedsync

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestTempFilesOnlyUnderRedund: names that look like redund's temporary
// files are the user's: the primary does not delete them at start (it
// removed ".redund-tmp-evil", "temporary files left by a crash") and they
// are synced like any file. Crash leftovers live only in .redund/tmp and
// are removed from there.
func TestTempFilesOnlyUnderRedund(t *testing.T) {
	user := map[string]string{".redund-tmp-evil": "mine", "sub/.redund-tmp-0123456789abcdef": "mine too"}
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		for rel, c := range user {
			writeFile(t, a.Dir, rel, c, 0o644)
		}
		for _, d := range []string{a.Dir, b.Dir} {
			writeFile(t, d, ".redund/tmp/0011223344556677", "left by a crash", 0o600)
		}
	})
	waitSame(t, p, s, "initial copy")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	for rel, c := range user {
		for _, n := range []*testNode{p, s} {
			b, err := os.ReadFile(filepath.Join(n.dir, rel))
			if err != nil || string(b) != c {
				t.Errorf("%s in %s: %q %v, want %q", rel, n.cfg.NodeID, b, err, c)
			}
		}
	}
	for _, n := range []*testNode{p, s} {
		if ents, _ := os.ReadDir(filepath.Join(n.dir, ".redund/tmp")); len(ents) != 0 {
			t.Errorf("%s: crash leftovers in .redund/tmp not removed: %v", n.cfg.NodeID, ents)
		}
	}
	// Writes on the secondary go through .redund/tmp, never next to the file.
	writeFile(t, p.dir, "sub/new.txt", "new", 0o644)
	waitSame(t, p, s, "after a new file")
	ents, err := os.ReadDir(filepath.Join(s.dir, "sub"))
	must(t, err)
	if len(ents) != 2 {
		t.Fatalf("secondary's sub/ holds %v, want the two synced files only", ents)
	}
}

// tempsLeft lists what is in dir's .redund/tmp.
func tempsLeft(dir string) []string {
	ents, _ := os.ReadDir(filepath.Join(dir, filepath.FromSlash(tempDir)))
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// waitNoTemps: .redund/tmp empties once the attempt is over. A temporary
// file of an attempt still running (the expected tree being saved) goes
// within the deadline; a leaked one stays for good.
func waitNoTemps(t *testing.T, dir, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for left := tempsLeft(dir); len(left) > 0; left = tempsLeft(dir) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: temporary files left in .redund/tmp: %v", what, left)
		}
		time.Sleep(20 * time.Millisecond) // sleep: poll interval (the failure names the files left)
	}
}

// TestDuplicatePathLeavesNoTemp: a change batch naming the same file twice
// (a primary does not send that, but the secondary must not trust it)
// fetches it twice in one group; the file is installed once and the other
// temporary file is removed, not left in .redund/tmp.
func TestDuplicatePathLeavesNoTemp(t *testing.T) {
	f := newFake(t)
	f.put(Entry{Path: "a.txt", Kind: KindFile, Size: 1, Mode: 0o644, Hash: contentSum([]byte("a"))}, []byte("a"))
	s := startSecondaryOf(t, f, &recLog{})
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	b := Entry{Path: "b.txt", Kind: KindFile, Size: 1, Mode: 0o644, MTime: 1e18, Hash: contentSum([]byte("b"))}
	f.mu.Lock() // both records in one change batch
	f.content[b.Path] = []byte("b")
	for range 2 {
		b.Seq = uint64(len(f.log) + 1)
		f.tree[b.Path] = b
		f.log = append(f.log, b)
	}
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	testutil.Eventually(t, 10*time.Second, "b.txt installed", func() bool {
		got, err := os.ReadFile(filepath.Join(s.dir, "b.txt"))
		return err == nil && string(got) == "b"
	})
	waitNoTemps(t, s.dir, "after a batch naming b.txt twice")
}

// TestCancelMidTransferLeavesNoTemp: a node stopped while a file is half
// fetched (its context cancelled while the job runs) removes the
// temporary files of every job, the unfinished one and the finished ones.
func TestCancelMidTransferLeavesNoTemp(t *testing.T) {
	f := newFake(t)
	big := bigData(2<<20, 9)
	f.put(Entry{Path: "big.bin", Kind: KindFile, Size: int64(len(big)), Mode: 0o644, Hash: contentSum(big)}, big)
	for i := range 300 { // more than one group: finished jobs beside the held one
		c := []byte(strconv.Itoa(i))
		f.put(Entry{Path: "small/" + strconv.Itoa(i), Kind: KindFile, Size: int64(len(c)), Mode: 0o644,
			Hash: contentSum(c)}, c)
	}
	release := f.holdHalf("big.bin")
	t.Cleanup(release)
	s := startSecondaryOf(t, f, &recLog{})
	testutil.Eventually(t, 10*time.Second, "big.bin half written", func() bool {
		p := s.prog.Load()
		return p != nil && p.bytesDone.Load() >= int64(len(big)/2)
	})
	s.stop()
	if left := tempsLeft(s.dir); len(left) > 0 {
		t.Fatalf("temporary files left after a cancelled transfer: %v", left)
	}
}
