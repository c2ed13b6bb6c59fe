package schedsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The node refuses to start on a .redund that is a symlink (into the tree
// or out of it), not a directory, or owned by another user: it would write
// its state, journal and conflicts where someone else decided.
func TestStateDirLinkRefused(t *testing.T) {
	cases := []struct {
		name   string
		plant  func(t *testing.T, dir string)
		refuse string // "" when the node starts
	}{
		{"missing: created", func(t *testing.T, dir string) {}, ""},
		{"own directory", func(t *testing.T, dir string) { must(t, os.Mkdir(filepath.Join(dir, ".redund"), 0o700)) }, ""},
		{"link into the tree", func(t *testing.T, dir string) {
			must(t, os.Mkdir(filepath.Join(dir, "docs"), 0o755))
			must(t, os.Symlink("docs", filepath.Join(dir, ".redund")))
		}, "symbolic link"},
		{"link outside", func(t *testing.T, dir string) {
			must(t, os.Symlink(t.TempDir(), filepath.Join(dir, ".redund")))
		}, "symbolic link"},
		{"dangling link", func(t *testing.T, dir string) {
			must(t, os.Symlink("nowhere", filepath.Join(dir, ".redund")))
		}, "symbolic link"},
		{"a file", func(t *testing.T, dir string) { writeFile(t, dir, ".redund", "x", 0o644) }, "not a directory"},
		{"another user's", func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("chown needs root")
			}
			must(t, os.Mkdir(filepath.Join(dir, ".redund"), 0o700))
			must(t, os.Chown(filepath.Join(dir, ".redund"), 65534, 65534))
		}, "owned by uid 65534"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			c.plant(t, dir)
			w, err := openWriter(dir)
			if c.refuse == "" {
				must(t, err)
				_ = w.close()
				fi, err := os.Lstat(filepath.Join(dir, ".redund"))
				must(t, err)
				if !fi.IsDir() {
					t.Fatalf(".redund is %v, want a directory", fi.Mode())
				}
				return
			}
			if err == nil {
				_ = w.close()
				t.Fatalf("started with a .redund that is %s", c.name)
			}
			if !strings.Contains(err.Error(), ".redund") || !strings.Contains(err.Error(), c.refuse) {
				t.Errorf("error %q does not name .redund and say %q", err, c.refuse)
			}
		})
	}
}
