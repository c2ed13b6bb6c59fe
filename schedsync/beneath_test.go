package schedsync

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestBeneath: each operation of beneath, with openat2 (safe) and with the
// os.Root fallback, on a tree where x is a link to .redund and l a link to
// the file f. The last name is never followed in either mode; a link on the
// way (x/...) is refused with openat2 and, in the fallback, followed only
// where it stays inside the tree (what the checks before a batch are for).
func TestBeneath(t *testing.T) {
	for _, safe := range []bool{true, false} {
		name := map[bool]string{true: "openat2", false: "os.Root fallback"}[safe]
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "f", "f", 0o644)
			writeFile(t, dir, ".redund/state.json", "state", 0o600)
			must(t, os.Symlink(".redund", filepath.Join(dir, "x")))
			must(t, os.Symlink("f", filepath.Join(dir, "l")))
			r, err := os.OpenRoot(dir)
			must(t, err)
			defer r.Close()
			b, err := newBeneath(r)
			must(t, err)
			defer b.close()
			if safe && !b.safe {
				t.Skip("openat2 is refused here")
			}
			b.safe = safe

			// the last name: never followed
			if err := b.chmod("l", 0o600); err == nil {
				t.Error("chmod of the link l succeeded")
			}
			if fi, _ := os.Stat(filepath.Join(dir, "f")); fi.Mode().Perm() != 0o644 {
				t.Errorf("chmod went through the link l: f is %v", fi.Mode())
			}
			if f, err := b.openFile("l", os.O_RDONLY, 0); err == nil {
				f.Close()
				t.Error("opened the link l")
			}
			must(t, b.chtimes("l", 1e18))
			if fi, _ := os.Stat(filepath.Join(dir, "f")); fi.ModTime().UnixNano() == 1e18 {
				t.Error("utimensat went through the link l")
			}
			st, err := b.lstat("l")
			must(t, err)
			if !isLinkStat(st) {
				t.Errorf("lstat of l: mode %o", st.Mode)
			}

			// a link on the way
			_, err = b.openDir("x")
			_, ferr := b.openFile("x/state.json", os.O_RDWR, 0)
			rerr := b.remove("x/state.json")
			if safe {
				for _, e := range []error{err, ferr, rerr} {
					if !errors.Is(e, errBelowLink) {
						t.Errorf("through the link x: %v, want errBelowLink", e)
					}
				}
				if _, err := os.Stat(filepath.Join(dir, ".redund", "state.json")); err != nil {
					t.Errorf("state.json removed through the link x: %v", err)
				}
			}
			must(t, b.remove("l")) // the link itself
			if _, err := os.Stat(filepath.Join(dir, "f")); err != nil {
				t.Errorf("removing the link l removed f: %v", err)
			}

			// the ordinary operations
			must(t, b.mkdir("d", 0o700))
			must(t, b.chmod("d", 0o1755))
			must(t, b.rename("f", "d/g"))
			must(t, b.chmod("d/g", 0o640))
			must(t, b.chtimes("d/g", 2e18))
			fi, err := os.Lstat(filepath.Join(dir, "d", "g"))
			must(t, err)
			if fi.Mode().Perm() != 0o640 || fi.ModTime().UnixNano() != 2e18 {
				t.Errorf("d/g: %v %v", fi.Mode(), fi.ModTime())
			}
			if fi, _ := os.Lstat(filepath.Join(dir, "d")); fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o755 {
				t.Errorf("d: %v", fi.Mode())
			}
			must(t, b.remove("d/g"))
			must(t, b.remove("d"))
		})
	}
}

// TestServeNotThroughALink: the primary's scan saw x/state.json as a file
// of x; x then became a link to .redund. A request for x/state.json must
// not be answered with the node's own state.json (the os.Root followed
// the link: it stays inside the tree); the file is reported gone.
func TestServeNotThroughALink(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "x/state.json", "synced", 0o644)
	writeFile(t, dir, ".redund/state.json", "the node's own state", 0o600)
	w, err := openWriter(dir)
	must(t, err)
	defer w.close()
	if !w.symlinkSafe() {
		t.Skip("openat2 is refused here: the fallback follows a link that stays inside (documented)")
	}
	must(t, os.RemoveAll(filepath.Join(dir, "x")))
	must(t, os.Symlink(".redund", filepath.Join(dir, "x")))
	var out bytes.Buffer
	must(t, serveFiles(&out, w.openRead, []string{"x/state.json"}, nil))
	if bytes.Contains(out.Bytes(), []byte("own state")) {
		t.Fatalf("served .redund/state.json through the link x: %q", out.Bytes())
	}
}

// TestChmodHeld: the chmod used where fchmodat2 is missing (before Linux
// 6.6) changes a file through the descriptor it holds and refuses a link.
func TestChmodHeld(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "f", "f", 0o644)
	must(t, os.Symlink("f", filepath.Join(dir, "l")))
	d := mustOpen(t, dir)
	must(t, chmodHeld(int(d.Fd()), "f", 0o4750))
	if fi, _ := os.Lstat(filepath.Join(dir, "f")); fi.Mode().Perm() != 0o750 || fi.Mode()&os.ModeSetuid == 0 {
		t.Errorf("f: %v, want setuid 0750", fi.Mode())
	}
	if err := chmodHeld(int(d.Fd()), "l", 0o600); !errors.Is(err, errBelowLink) {
		t.Errorf("chmod of the link l: %v, want errBelowLink", err)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "f")); fi.Mode().Perm() != 0o750 {
		t.Errorf("the chmod of l went to f: %v", fi.Mode())
	}
}
