package schedsync

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestModeBitsRoundTrip: the scanner reads setuid, setgid and sticky as
// POSIX bits (04000, 02000, 01000), the codec carries them and goMode
// turns them back into what os.Chmod wants.
func TestModeBitsRoundTrip(t *testing.T) {
	root := t.TempDir()
	modes := map[string]fs.FileMode{
		"suid": 0o755 | fs.ModeSetuid, "sgid": 0o750 | fs.ModeSetgid, "both": 0o700 | fs.ModeSetuid | fs.ModeSetgid,
		"plain": 0o644, "dir-sticky": 0o777 | fs.ModeSticky | fs.ModeDir, "dir-sgid": 0o775 | fs.ModeSetgid | fs.ModeDir,
	}
	want := map[string]uint32{"suid": 0o4755, "sgid": 0o2750, "both": 0o6700, "plain": 0o644,
		"dir-sticky": 0o1777, "dir-sgid": 0o2775}
	for name, m := range modes {
		p := filepath.Join(root, name)
		if m.IsDir() {
			must(t, os.Mkdir(p, 0o700))
		} else {
			must(t, os.WriteFile(p, []byte(name), 0o600))
		}
		must(t, os.Chmod(p, m))
	}
	tree, err := (&scanner{root: root, match: newMatcher(nil)}).scan(nil)
	must(t, err)
	var buf bytes.Buffer
	must(t, encodeBatch(&buf, Batch{LogID: "x", Entries: tree.sorted()}))
	got, err := decodeBatch(&buf)
	must(t, err)
	if len(got.Entries) != len(want) {
		t.Fatalf("decoded %d entries, want %d", len(got.Entries), len(want))
	}
	for _, e := range got.Entries {
		if e.Mode != want[e.Path] {
			t.Errorf("%s: mode %04o on the wire, want %04o", e.Path, e.Mode, want[e.Path])
		}
		if gm := goMode(e.Mode); gm != modes[e.Path]&^fs.ModeDir {
			t.Errorf("%s: goMode(%04o) = %v, want %v", e.Path, e.Mode, gm, modes[e.Path]&^fs.ModeDir)
		}
	}
}

// TestSetidAndStickyReplicated: a tree with setuid, setgid and sticky bits
// is replicated (the manifest used to carry Go's high bits, which the
// decoder refused: nothing reached the secondary). Sticky is kept;
// setuid/setgid only with preserve_setid, else dropped with one warning
// per path and counted.
func TestSetidAndStickyReplicated(t *testing.T) {
	for _, preserve := range []bool{false, true} {
		t.Run(fmt.Sprintf("preserve_setid=%v", preserve), func(t *testing.T) {
			rec := &recLog{}
			a, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
				b.PreserveSetid = preserve
				mkdirMode(t, a.Dir, "shared", 0o777|fs.ModeSticky)
				mkdirMode(t, a.Dir, "grp", 0o775|fs.ModeSetgid)
				writeFile(t, a.Dir, "grp/run", "#!/bin/sh\n", 0o755|fs.ModeSetuid)
				writeFile(t, a.Dir, "plain", "x", 0o644)
			})
			p, s := startNode(t, a, lnA), startNodeLog(t, b, lnB, rec.logger())
			testutil.Eventually(t, 15*time.Second, "initial copy, Synced", func() bool {
				_, err := os.Stat(filepath.Join(s.dir, "grp/run"))
				return err == nil && s.state() == StateSynced
			})
			writeFile(t, p.dir, "grp/later.txt", "written after the first sync", 0o644)
			testutil.Eventually(t, 15*time.Second, "a new file in the setgid directory", func() bool {
				b, err := os.ReadFile(filepath.Join(s.dir, "grp/later.txt"))
				return err == nil && string(b) == "written after the first sync" && s.state() == StateSynced
			})
			setid := fs.FileMode(0)
			if preserve {
				setid = fs.ModeSetgid
			}
			wantMode(t, s.dir, "shared", 0o777|fs.ModeSticky)
			wantMode(t, s.dir, "grp", 0o775|setid)
			if preserve {
				setid = fs.ModeSetuid
			}
			wantMode(t, s.dir, "grp/run", 0o755|setid)
			wantMode(t, s.dir, "plain", 0o644)
			testutil.Eventually(t, 10*time.Second, "primary Synced", func() bool { return p.state() == StateSynced })
			// A full comparison again: what was said is not said twice.
			must(t, s.Resync(context.Background()))
			testutil.Eventually(t, 10*time.Second, "Synced after resync", func() bool {
				return s.state() == StateSynced && metricValue(t, s.metrics.scans) >= 2
			})
			dropped, warned := 0, rec.count("setuid/setgid bit not replicated")
			if !preserve {
				dropped = 2
			}
			if got := metricValue(t, s.metrics.setidDropped); int(got) != dropped || warned != dropped {
				t.Fatalf("setid_dropped_total %v, %d warnings; want %d of each:\n%s", got, warned, dropped, rec)
			}
			if got := s.Status()[0].Details["setid_dropped"]; got != dropped {
				t.Fatalf("details.setid_dropped = %v, want %d", got, dropped)
			}
		})
	}
}

func mkdirMode(t *testing.T, root, rel string, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(root, rel)
	must(t, os.MkdirAll(p, 0o755))
	must(t, os.Chmod(p, mode))
}

func wantMode(t *testing.T, root, rel string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(filepath.Join(root, rel))
	must(t, err)
	if got := fi.Mode() &^ fs.ModeType; got != want {
		t.Errorf("%s on the secondary: mode %v, want %v", rel, got, want)
	}
}
