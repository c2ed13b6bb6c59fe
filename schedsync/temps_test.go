package schedsync

import (
	"os"
	"path/filepath"
	"testing"
	"time"
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
	waitFor(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
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
