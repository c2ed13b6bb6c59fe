package schedsync

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// conflictEntries lists the entries of dir's conflicts directory, oldest first.
func conflictEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash(conflictDir)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// moveAsideFiles writes and moves aside files f0..f(n-1) of size bytes
// each, in that order, and returns where each was saved.
func moveAsideFiles(t *testing.T, w *writer, dir string, n, size int) []string {
	t.Helper()
	saved := make([]string, n)
	for i := range n {
		rel := "f" + strconv.Itoa(i)
		writeFile(t, dir, rel, strings.Repeat("x", size), 0o644)
		must(t, w.moveAside(rel, "test"))
		_, last := w.conflicts.snapshot()
		saved[i] = last[len(last)-1].Saved
	}
	return saved
}

func exists(dir, rel string) bool {
	_, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(rel)))
	return err == nil
}

// TestConflictsBounded: .redund/conflicts keeps at most conflicts_keep
// entries and conflicts_max_bytes bytes, removing the oldest first and
// never the newest; what is removed leaves the status list, and what an
// earlier run left is counted (it grew without bound before).
func TestConflictsBounded(t *testing.T) {
	for _, tt := range []struct {
		name     string
		keep     int
		maxBytes int64
		n, size  int
		want     int // newest entries left
	}{
		{"count", 3, 1 << 20, 5, 10, 3},
		{"bytes", 100, 250, 5, 100, 2},
		{"the newest is kept even when larger than the bound", 100, 50, 3, 100, 1},
		{"within both bounds nothing goes", 10, 1 << 20, 5, 10, 5},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := openWriter(dir)
			must(t, err)
			t.Cleanup(func() { _ = w.close() })
			w.conflicts.setLimits(tt.keep, tt.maxBytes)
			saved := moveAsideFiles(t, w, dir, tt.n, tt.size)
			if got := conflictEntries(t, dir); len(got) != tt.want {
				t.Fatalf("%d entries left (%v), want %d", len(got), got, tt.want)
			}
			for i, s := range saved {
				if kept := i >= tt.n-tt.want; exists(dir, s) != kept {
					t.Errorf("f%d (%s): on disk %v, want %v", i, s, !kept, kept)
				}
			}
			total, last := w.conflicts.snapshot()
			if total != tt.n || len(last) != tt.want || w.conflicts.rotatedCount() != tt.n-tt.want {
				t.Errorf("total %d, listed %d, rotated %d; want %d, %d, %d",
					total, len(last), w.conflicts.rotatedCount(), tt.n, tt.want, tt.n-tt.want)
			}
		})
	}
}

// TestConflictsLeftByEarlierRunsBounded: at start, a node removes the
// oldest entries an earlier run left beyond its bounds, and counts the
// rest against them (here a directory entry of two files).
func TestConflictsLeftByEarlierRunsBounded(t *testing.T) {
	dir := t.TempDir()
	w, err := openWriter(dir)
	must(t, err)
	w.conflicts.setLimits(100, 1<<20)
	saved := moveAsideFiles(t, w, dir, 4, 10)
	writeFile(t, dir, "d/a", "12345", 0o644)
	writeFile(t, dir, "d/b", "12345", 0o644)
	must(t, w.moveAside("d", "test"))
	must(t, w.close())
	writeFile(t, dir, filepath.Join(conflictDir, "not-an-entry"), "kept", 0o644)

	n, err := New(&Config{Mode: ModePrimary, Dir: dir, ConflictsKeep: 3, ConflictsMaxBytes: 1 << 20}, Options{})
	must(t, err)
	n.boundConflicts()
	t.Cleanup(func() { _ = n.w.close() })
	for i, s := range saved {
		if kept := i >= 2; exists(dir, s) != kept {
			t.Errorf("f%d (%s): on disk %v, want %v", i, s, !kept, kept)
		}
	}
	if !exists(dir, filepath.Join(conflictDir, "not-an-entry")) {
		t.Error("a file redund did not name was removed")
	}
	if c := n.w.conflicts.rotatedCount(); c != 2 {
		t.Errorf("rotated %d, want 2", c)
	}
	// what is left (30 bytes) is counted: one more 1-byte move with a
	// 25-byte bound removes the oldest entries until it fits
	n.w.conflicts.setLimits(100, 25)
	moveAsideFiles(t, n.w, dir, 1, 1)
	var bytes int64
	_ = filepath.WalkDir(filepath.Join(dir, filepath.FromSlash(conflictDir)), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && d.Name() != "not-an-entry" {
			fi, _ := d.Info()
			bytes += fi.Size()
		}
		return nil
	})
	if bytes > 25 {
		t.Errorf("%d bytes left in the conflicts directory, bound 25", bytes)
	}
}
