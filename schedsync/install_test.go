package schedsync

import (
	"os"
	"path/filepath"
	"testing"
)

// TestInstallOverDirectory: a file installed where a directory stands
// replaces an empty directory, and moves a directory that still holds
// files aside (to the conflicts) before taking its place. install tries
// the rename first and looks at what stands there only when it fails, so
// an ordinary install costs no lookup of its own.
func TestInstallOverDirectory(t *testing.T) {
	for _, c := range []struct {
		name      string
		holds     bool // the directory holds a file
		wantSaved bool
	}{
		{"empty directory", false, false},
		{"directory with a file", true, true},
		{"nothing there", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.name != "nothing there" {
				if err := os.Mkdir(filepath.Join(dir, "x"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if c.holds {
				if err := os.WriteFile(filepath.Join(dir, "x", "keep"), []byte("unsynced"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			w, err := openWriter(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer w.close()
			tf, err := w.create("x", false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tf.Write([]byte("new content")); err != nil {
				t.Fatal(err)
			}
			if err := w.finish(tf, Entry{Path: "x", Kind: KindFile, Mode: 0o644, MTime: 1e18}, false); err != nil {
				t.Fatal(err)
			}
			if err := w.install(tf.rel, "x", false); err != nil {
				t.Fatalf("install: %v", err)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "x")); err != nil || string(b) != "new content" {
				t.Fatalf("x reads %q, %v; want the installed file", b, err)
			}
			saved, _ := filepath.Glob(filepath.Join(dir, conflictDir, "*", "x", "keep"))
			if got := len(saved) == 1; got != c.wantSaved {
				t.Errorf("the directory's file saved in the conflicts: %v, want %v (%v)", got, c.wantSaved, saved)
			}
		})
	}
}
