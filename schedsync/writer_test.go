package schedsync

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriterAtomicInstall(t *testing.T) {
	dir := t.TempDir()
	w, err := openWriter(dir)
	must(t, err)
	t.Cleanup(func() { _ = w.close() })
	writeFile(t, dir, "a/b.txt", "old", 0o644)
	tf, err := w.create("a/b.txt", false)
	must(t, err)
	_, _ = tf.WriteString("new content")
	mt := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	e := Entry{Path: "a/b.txt", Kind: KindFile, Mode: 0o640, MTime: mt.UnixNano()}
	must(t, w.finish(tf, e, true))
	if b, _ := os.ReadFile(filepath.Join(dir, "a/b.txt")); string(b) != "old" {
		t.Fatalf("target changed before install: %q", b)
	}
	must(t, w.install(tf.rel, e.Path, true))
	fi, err := os.Stat(filepath.Join(dir, "a/b.txt"))
	must(t, err)
	if fi.Mode().Perm() != 0o640 || !fi.ModTime().Equal(mt) {
		t.Fatalf("mode %v mtime %v", fi.Mode(), fi.ModTime())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "a/b.txt")); string(b) != "new content" {
		t.Fatalf("content %q", b)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "a"))
	if len(entries) != 1 {
		t.Fatalf("temporary file left behind: %v", entries)
	}
}

func TestWriterRefusesEscapes(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	w, err := openWriter(dir)
	must(t, err)
	t.Cleanup(func() { _ = w.close() })
	must(t, os.Symlink(outside, filepath.Join(dir, "evil")))
	// The symlink where a directory must be is refused (nothing is
	// written below a link), never followed; it stays where it is.
	if tf, err := w.create("evil/x", false); err == nil {
		_, _ = tf.WriteString("x")
		w.discard(tf)
		t.Fatal("a file was made below the symlink evil")
	} else if !errors.Is(err, errBelowLink) {
		t.Errorf("create below a symlink: %v, want errBelowLink", err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "evil")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink evil was replaced: %v %v", fi, err)
	}
	if _, err := w.root.OpenFile("../x", os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		t.Fatal("os.Root let ../ through")
	}
	if err := w.symlink(Entry{Path: "l", Kind: KindLink, Target: "../../etc"}); err == nil {
		t.Fatal("created a symlink pointing out")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("files appeared outside: %v", ents)
	}
}

// TestInstallViaHandlesRefusesPlantedLink: a batch's directory replaced by
// a symlink to outside after the batch made it (create was told its parent
// is ready, so nothing looked): the install through held directories
// opens them through the root, so it fails and nothing lands outside.
func TestInstallViaHandlesRefusesPlantedLink(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	w, err := openWriter(dir)
	must(t, err)
	t.Cleanup(func() { _ = w.close() })
	must(t, os.Symlink(outside, filepath.Join(dir, "evil")))
	tf, err := w.create("evil/x", true)
	must(t, err)
	_, _ = tf.WriteString("x")
	must(t, w.finish(tf, Entry{Path: "evil/x", Kind: KindFile, Mode: 0o644, MTime: 1e18}, false))
	dh := w.handles()
	defer dh.close()
	if err := w.installVia(dh, tf.rel, "evil/x", false); err == nil {
		t.Fatal("installed through a symlink planted where a directory was")
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Fatalf("files appeared outside: %v", ents)
	}
}

func TestWriterMoveAsideAndClean(t *testing.T) {
	dir := t.TempDir()
	w, err := openWriter(dir)
	must(t, err)
	t.Cleanup(func() { _ = w.close() })
	writeFile(t, dir, "d/edited.txt", "mine", 0o644)
	writeFile(t, dir, ".redund/tmp/abc", "partial", 0o600)
	writeFile(t, dir, "d/.redund-tmp-abc", "a user's file", 0o600)
	must(t, w.moveAside("d/edited.txt", "local edit"))
	n, last := w.conflicts.snapshot()
	if n != 1 || !strings.HasPrefix(last[0].Saved, ".redund/conflicts/") {
		t.Fatalf("conflicts %d %+v", n, last)
	}
	if b, err := os.ReadFile(filepath.Join(dir, last[0].Saved)); err != nil || string(b) != "mine" {
		t.Fatalf("moved file: %q %v", b, err)
	}
	if n, _ := w.cleanTemps(); n != 1 {
		t.Fatalf("cleanTemps removed %d", n)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "d/.redund-tmp-abc")); err != nil || string(b) != "a user's file" {
		t.Fatalf("cleanTemps touched a user's file: %q %v", b, err)
	}
	// A directory still holding unsynced files is moved aside, not lost.
	writeFile(t, dir, "gone/keep.txt", "x", 0o644)
	must(t, w.remove("gone"))
	if _, err := os.Stat(filepath.Join(dir, "gone")); !os.IsNotExist(err) {
		t.Fatal("directory still there")
	}
	if n, _ := w.conflicts.snapshot(); n != 2 {
		t.Fatalf("want 2 conflicts, got %d", n)
	}
}

// TestWriterTempDirRemoved: the writer keeps .redund/tmp open; when the
// directory is removed meanwhile (by hand), the next file is written to a
// new .redund/tmp, not into the removed one (whose files could never be
// renamed into place), and mode and mtime still reach the installed file.
func TestWriterTempDirRemoved(t *testing.T) {
	dir := t.TempDir()
	w, err := openWriter(dir)
	must(t, err)
	t.Cleanup(func() { _ = w.close() })
	mt := time.Date(2021, 5, 6, 7, 8, 9, 123456789, time.UTC)
	for i, name := range []string{"a.txt", "b.txt"} {
		tf, err := w.create(name, false)
		must(t, err)
		_, _ = tf.WriteString(name)
		e := Entry{Path: name, Kind: KindFile, Mode: 0o604, MTime: mt.UnixNano()}
		must(t, w.finish(tf, e, i == 0))
		must(t, w.install(tf.rel, name, true))
		fi, err := os.Stat(filepath.Join(dir, name))
		must(t, err)
		if fi.Mode().Perm() != 0o604 || !fi.ModTime().Equal(mt) {
			t.Fatalf("%s: mode %v mtime %v", name, fi.Mode(), fi.ModTime())
		}
		must(t, os.RemoveAll(filepath.Join(dir, filepath.FromSlash(tempDir))))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "b.txt")); err != nil || string(b) != "b.txt" {
		t.Fatalf("b.txt: %q %v", b, err)
	}
}
