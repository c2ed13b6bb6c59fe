package schedsync

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

func TestPairExcludesAndTypeChanges(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		a.Exclude = []string{"*.tmp", "cache/"}
		b.Exclude = a.Exclude
	})
	writeFile(t, p.dir, "keep.txt", "k", 0o644)
	writeFile(t, p.dir, "junk.tmp", "j", 0o644)
	writeFile(t, p.dir, "cache/blob", "c", 0o644)
	writeFile(t, p.dir, "x", "a file that becomes a directory", 0o644)
	writeFile(t, p.dir, "y/inner", "a directory that becomes a file", 0o644)
	testutil.Eventually(t, 10*time.Second, "keep.txt and y/inner", func() bool {
		_, e1 := os.Stat(filepath.Join(s.dir, "keep.txt"))
		_, e2 := os.Stat(filepath.Join(s.dir, "y/inner"))
		return e1 == nil && e2 == nil
	})
	for _, ex := range []string{"junk.tmp", "cache"} {
		if _, err := os.Lstat(filepath.Join(s.dir, ex)); err == nil {
			t.Errorf("excluded %s reached the secondary", ex)
		}
	}
	must(t, os.Remove(filepath.Join(p.dir, "x")))
	writeFile(t, p.dir, "x/now-a-dir", "d", 0o644)
	must(t, os.RemoveAll(filepath.Join(p.dir, "y")))
	writeFile(t, p.dir, "y", "now a file", 0o600)
	must(t, os.RemoveAll(filepath.Join(p.dir, "cache")))
	must(t, os.Remove(filepath.Join(p.dir, "junk.tmp")))
	waitSame(t, p, s, "after type changes")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	if n, _ := s.w.conflicts.snapshot(); n != 0 {
		_, last := s.w.conflicts.snapshot()
		t.Fatalf("synced content was treated as a conflict: %+v", last)
	}
}

// TestSecondaryStartsWithForeignFiles: files already in the secondary's
// directory that the primary does not have are moved aside, not deleted.
// The primary has its file before it starts: a primary seen empty would
// (rightly) trigger the empty-primary guard and keep the secondary's copy.
func TestSecondaryStartsWithForeignFiles(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		must(t, os.WriteFile(filepath.Join(a.Dir, "a"), []byte("1"), 0o644))
		must(t, os.WriteFile(filepath.Join(b.Dir, "precious.txt"), []byte("only here"), 0o644))
	})
	waitSame(t, p, s, "initial")
	assertSaved(t, s, "precious.txt", "only here")
}

// TestEmptyPrimaryGuard: a primary whose directory is suddenly empty does not
// wipe the secondary's copy without an operator's resync.
func TestEmptyPrimaryGuard(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, nil)
	writeFile(t, p.dir, "a/b.txt", "x", 0o644)
	waitSame(t, p, s, "copy")
	p.stop()
	must(t, os.RemoveAll(filepath.Join(p.dir, "a")))
	p2 := startNode(t, p.cfg, nil) // restarted on an empty directory: full manifest needed
	testutil.Eventually(t, 10*time.Second, "Not synced, copy kept", func() bool {
		return s.state() == StateNotSynced && strings.Contains(s.Status()[0].Reason, "empty")
	})
	if _, err := os.Stat(filepath.Join(s.dir, "a/b.txt")); err != nil {
		t.Fatal("the secondary's copy was wiped")
	}
	must(t, s.Resync(context.Background()))
	waitSame(t, p2, s, "after resync")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
}
