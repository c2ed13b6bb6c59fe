package schedsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestStaleHashRepaired: a same-size edit with the mtime restored leaves
// the primary's manifest with the old hash (its quick check trusts size
// and mtime). A secondary that must fetch the file fails the hash check;
// it used to fetch it again every 2 s forever. Now it tells the primary,
// which hashes the file again and publishes the right entry.
func TestStaleHashRepaired(t *testing.T) {
	rec := &recLog{}
	a, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		must(t, os.WriteFile(filepath.Join(a.Dir, "f.bin"), bigData(4096, 1), 0o644))
	})
	p := startNodeLog(t, a, lnA, rec.logger())
	testutil.Eventually(t, 10*time.Second, "the primary's first scan", func() bool {
		cl := p.currentLog()
		return cl != nil && func() bool { _, ok := cl.entry("f.bin"); return ok }()
	})
	fi, err := os.Stat(filepath.Join(a.Dir, "f.bin"))
	must(t, err)
	edited := bigData(4096, 2)
	must(t, os.WriteFile(filepath.Join(a.Dir, "f.bin"), edited, 0o644))
	must(t, os.Chtimes(filepath.Join(a.Dir, "f.bin"), fi.ModTime(), fi.ModTime()))
	writeFile(t, a.Dir, "marker", "after the edit", 0o644)
	testutil.Eventually(t, 10*time.Second, "the edit's events processed", func() bool {
		_, ok := p.currentLog().entry("marker")
		return ok
	})
	if e, _ := p.currentLog().entry("f.bin"); e.Hash != contentSum(bigData(4096, 1)) {
		t.Fatal("precondition: the manifest was expected to keep the stale hash")
	}
	s := startNode(t, b, lnB)
	testutil.Eventually(t, 15*time.Second, "the edited content on the secondary, Synced", func() bool {
		got, err := os.ReadFile(filepath.Join(s.dir, "f.bin"))
		return err == nil && string(got) == string(edited) && s.state() == StateSynced
	})
	if e, _ := p.currentLog().entry("f.bin"); e.Hash != contentSum(edited) {
		t.Fatal("the primary's manifest still has the stale hash")
	}
	if rec.count("content changed without a size or mtime change", "path=f.bin") != 1 {
		t.Fatalf("the primary did not say what it repaired:\n%s", rec)
	}
}

// TestUnfixableHashGivesUp: when the primary cannot correct its entry
// (here a primary whose manifest hash is wrong for good), the secondary
// stops after a bounded number of tries and says Not synced naming the
// file; the rest of the tree is synced; a corrected entry ends it.
func TestUnfixableHashGivesUp(t *testing.T) {
	f := newFake(t)
	f.put(Entry{Path: "good.txt", Kind: KindFile, Size: 4, Mode: 0o644, Hash: contentSum([]byte("good"))}, []byte("good"))
	f.put(Entry{Path: "bad.bin", Kind: KindFile, Size: 5, Mode: 0o644, Hash: contentSum([]byte("other"))}, []byte("hello"))
	s := startSecondaryOf(t, f, &recLog{})
	testutil.Eventually(t, 20*time.Second, "Not synced naming bad.bin", func() bool {
		d := s.Status()[0]
		return State(d.State) == StateNotSynced && strings.Contains(d.Reason, "bad.bin")
	})
	if b, err := os.ReadFile(filepath.Join(s.dir, "good.txt")); err != nil || string(b) != "good" {
		t.Fatalf("good.txt: %q %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "bad.bin")); err == nil {
		t.Fatal("a file that fails its hash check was installed")
	}
	tries := f.count(f.fetched, "bad.bin")
	if tries > maxFetchTries || f.count(f.rehashed, "bad.bin") == 0 {
		t.Fatalf("%d fetches (max %d), %d rehash requests", tries, maxFetchTries, f.count(f.rehashed, "bad.bin"))
	}
	time.Sleep(3 * time.Second) // sleep: nothing to wait for: checking that nothing happens
	if n := f.count(f.fetched, "bad.bin"); n != tries {
		t.Fatalf("still fetching after giving up: %d fetches, then %d", tries, n)
	}
	f.put(Entry{Path: "bad.bin", Kind: KindFile, Size: 5, Mode: 0o644, Hash: contentSum([]byte("hello"))}, []byte("hello"))
	testutil.Eventually(t, 15*time.Second, "Synced once the entry is right", func() bool { return s.state() == StateSynced })
}

// TestSyncErrorsShownAndCleared: a primary that answers hellos but sends
// a malformed change batch leaves the secondary Not synced with the
// reason (it used to stay Synced), logged once, not at every retry; it
// clears when the batches are good again.
func TestSyncErrorsShownAndCleared(t *testing.T) {
	f := newFake(t)
	f.put(Entry{Path: "a.txt", Kind: KindFile, Size: 1, Mode: 0o644, Hash: contentSum([]byte("a"))}, []byte("a"))
	rec := &recLog{}
	s := startSecondaryOf(t, f, rec)
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	f.setGarbage(true)
	testutil.Eventually(t, 10*time.Second, "Not synced with the reason", func() bool {
		d := s.Status()[0]
		return State(d.State) == StateNotSynced && strings.Contains(d.Reason, "malformed manifest")
	})
	sent := f.garbageSent()
	testutil.Eventually(t, 10*time.Second, "three retries after the failure (backoff 0.2 s, 0.4 s, 0.8 s)", func() bool {
		return f.garbageSent() >= sent+3
	})
	if n := rec.count("WARN sync failed", "malformed manifest"); n != 1 {
		t.Fatalf("the failure was logged %d times, want once:\n%s", n, rec)
	}
	f.setGarbage(false)
	f.put(Entry{Path: "b.txt", Kind: KindFile, Size: 1, Mode: 0o644, Hash: contentSum([]byte("b"))}, []byte("b"))
	testutil.Eventually(t, 10*time.Second, "Synced again, with b.txt", func() bool {
		_, err := os.Stat(filepath.Join(s.dir, "b.txt"))
		return err == nil && s.state() == StateSynced
	})
	if rec.count("sync works again") != 1 {
		t.Fatalf("the recovery was not logged:\n%s", rec)
	}
}
