package schedsync

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

func TestLinkVerdict(t *testing.T) {
	link := func(p, target string) Entry { return Entry{Path: p, Kind: KindLink, Target: target} }
	dir := func(p string) Entry { return Entry{Path: p, Kind: KindDir} }
	file := func(p string) Entry { return Entry{Path: p, Kind: KindFile} }
	tree := func(es ...Entry) Tree {
		t := Tree{}
		for _, e := range es {
			t[e.Path] = e
		}
		return t
	}
	chain := tree(dir("c"), link("c/l0", "."), link("c/l1", "l0/.."), link("c/l2", "l1/.."), link("c/pw", "l2/etc/passwd"))
	for _, tc := range []struct {
		name string
		t    Tree
		p    string
		bad  string // part of the verdict, "" for safe
	}{
		{"plain", tree(file("a"), link("l", "a")), "l", ""},
		{"dangling inside", tree(link("l", "nothing/here")), "l", ""},
		{"up and back", tree(dir("d"), link("d/l", "../d/x")), "d/l", ""},
		{"to the root", tree(dir("d"), link("d/l", "..")), "d/l", ""},
		{"out by text", tree(link("l", "../x")), "l", "points out"},
		{"absolute", tree(link("l", "/etc")), "l", "absolute"},
		{"chain l0", chain, "c/l0", ""},
		{"chain l1", chain, "c/l1", ""},
		{"chain l2", chain, "c/l2", "leads out"},
		{"chain pw", chain, "c/pw", "leads out"},
		{"through a link to the root", tree(link("x", "."), link("y", "x/..")), "y", "leads out"},
		{"into the state in another case", tree(link("x", "."), link("y", "x/.REDUND")), "y", "redund's state"},
		{"through a link, stays in", tree(dir("a"), dir("a/b"), link("x", "a/b"), link("y", "x/../f")), "y", ""},
		{"text out, resolution in", tree(dir("d1"), dir("d1/d2"), link("a", "d1/d2"), link("l", "a/../../x")), "l", "points out"},
		{"self loop", tree(link("l", "l")), "l", "loops"},
		{"two-link loop", tree(link("a", "b"), link("b", "a")), "a", "loops"},
		{"into state", tree(link("l", ".redund/state.json")), "l", "redund's state"},
		{"into state via a link", tree(dir("d"), link("d/up", ".."), link("l", "d/up/.redund")), "l", "redund's state"},
		{"to an absolute link", tree(link("a", "/etc"), link("l", "a/passwd")), "l", "absolute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := linkVerdict(tc.t, tc.p)
			if (tc.bad == "") != (got == "") || !strings.Contains(got, tc.bad) {
				t.Fatalf("linkVerdict(%s) = %q, want %q", tc.p, got, tc.bad)
			}
		})
	}
}

// chainLinks is the chain: each link's text stays inside, yet
// l2 and beyond lead above the directory and pw reaches /etc/passwd.
func chainLinks(t *testing.T, dir string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Join(dir, "chain"), 0o755))
	must(t, os.Symlink(".", filepath.Join(dir, "chain/l0")))
	for i := 1; i <= 6; i++ {
		must(t, os.Symlink("l"+string(rune('0'+i-1))+"/..", filepath.Join(dir, "chain/l"+string(rune('0'+i)))))
	}
	must(t, os.Symlink("l6/etc/passwd", filepath.Join(dir, "chain/pw")))
	must(t, os.Symlink("l1/chain/l0", filepath.Join(dir, "chain/ok"))) // chain/l1 is the root: inside
	must(t, os.Symlink("loop", filepath.Join(dir, "loop")))
}

// TestLinksJudgedByResolution: the primary publishes only the links that
// stay inside once resolved through the tree; the secondary never gets a
// path to /etc/passwd. Each skipped link is logged once.
func TestLinksJudgedByResolution(t *testing.T) {
	rec := &recLog{}
	a, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		a.ScanInterval = config.Duration(time.Second)
		chainLinks(t, a.Dir)
		writeFile(t, a.Dir, "marker", "m", 0o644)
	})
	p, s := startNodeLog(t, a, lnA, rec.logger()), startNode(t, b, lnB)
	testutil.Eventually(t, 15*time.Second, "Synced", func() bool {
		_, err := os.Lstat(filepath.Join(s.dir, "marker"))
		return err == nil && s.state() == StateSynced
	})
	if b, err := os.ReadFile(filepath.Join(s.dir, "chain/pw")); err == nil {
		t.Fatalf("chain/pw on the secondary reads %d bytes from outside the directory", len(b))
	}
	for _, gone := range []string{"chain/l2", "chain/l3", "chain/l6", "chain/pw", "loop"} {
		if _, err := os.Lstat(filepath.Join(s.dir, gone)); err == nil {
			t.Errorf("%s was synced", gone)
		}
	}
	for _, kept := range []string{"chain/l0", "chain/l1", "chain/ok"} {
		if fi, err := os.Lstat(filepath.Join(s.dir, kept)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s (inside) was not synced: %v", kept, err)
		}
	}
	// Repointing l0 out of the tree turns l1 and ok unsafe: withdrawn.
	must(t, os.Remove(filepath.Join(p.dir, "chain/l0")))
	must(t, os.Symlink("../..", filepath.Join(p.dir, "chain/l0")))
	testutil.Eventually(t, 15*time.Second, "l1 and ok withdrawn", func() bool {
		_, e1 := os.Lstat(filepath.Join(s.dir, "chain/l1"))
		_, e2 := os.Lstat(filepath.Join(s.dir, "chain/ok"))
		return os.IsNotExist(e1) && os.IsNotExist(e2)
	})
	// Two full scans later, each skipped link has been logged once.
	scans := metricValue(t, p.metrics.scans)
	testutil.Eventually(t, 10*time.Second, "two full scans", func() bool { return metricValue(t, p.metrics.scans) >= scans+2 })
	for _, l := range []string{"chain/l2", "chain/pw", "loop", "chain/l1"} {
		if n := rec.count("not synced", "path="+l+" "); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", l, n, rec)
		}
	}
}

// TestSecondaryRefusesEscapingLinks: the secondary does not rely on the
// primary's verdict. A primary that sends the chain gets its escaping
// links refused (not created), and the secondary says Not synced.
func TestSecondaryRefusesEscapingLinks(t *testing.T) {
	f := newFake(t)
	f.put(Entry{Path: "chain", Kind: KindDir, Mode: 0o755}, nil)
	f.put(Entry{Path: "chain/l0", Kind: KindLink, Target: ".", Mode: 0o777}, nil)
	f.put(Entry{Path: "chain/l1", Kind: KindLink, Target: "l0/..", Mode: 0o777}, nil)
	f.put(Entry{Path: "chain/l2", Kind: KindLink, Target: "l1/..", Mode: 0o777}, nil)
	rec := &recLog{}
	s := startSecondaryOf(t, f, rec)
	testutil.Eventually(t, 15*time.Second, "Not synced naming the refused link", func() bool {
		d := s.Status()[0]
		return State(d.State) == StateNotSynced && strings.Contains(d.Reason, "chain/l2")
	})
	if _, err := os.Lstat(filepath.Join(s.dir, "chain/l2")); err == nil {
		t.Fatal("chain/l2 (leads out) was created")
	}
	if _, err := os.Lstat(filepath.Join(s.dir, "chain/l1")); err != nil {
		t.Fatal("chain/l1 (inside) was not created")
	}
	// Later changes: pw through l2, which this node does not hold (a
	// dangling link here, harmless); l0 is then repointed out through a
	// new link up (-> .., the root: inside), which makes l1 unsafe: the l1
	// already on disk is removed.
	f.put(Entry{Path: "chain/pw", Kind: KindLink, Target: "l2/etc/passwd", Mode: 0o777}, nil)
	f.put(Entry{Path: "chain/up", Kind: KindLink, Target: "..", Mode: 0o777}, nil)
	f.put(Entry{Path: "chain/l0", Kind: KindLink, Target: "up/..", Mode: 0o777}, nil)
	defer func() {
		if t.Failed() {
			t.Logf("status %+v\n%s", s.Status()[0], rec)
		}
	}()
	testutil.Eventually(t, 15*time.Second, "l1 removed, pw refused", func() bool {
		_, e1 := os.Lstat(filepath.Join(s.dir, "chain/l1"))
		_, e2 := os.Lstat(filepath.Join(s.dir, "chain/up"))
		return os.IsNotExist(e1) && e2 == nil && s.state() == StateNotSynced
	})
	if b, err := os.ReadFile(filepath.Join(s.dir, "chain/pw")); err == nil {
		t.Fatalf("chain/pw reads %d bytes from outside the directory", len(b))
	}
	if n := rec.count("refused an entry", "path=chain/l2 "); n != 1 {
		t.Errorf("chain/l2 refusal logged %d times, want once", n)
	}
	// The primary stops sending escaping links: Synced again.
	for _, p := range []string{"chain/l0", "chain/l1", "chain/l2", "chain/pw", "chain/up"} {
		f.put(Entry{Path: p, Kind: KindLink, Deleted: true}, nil)
	}
	testutil.Eventually(t, 15*time.Second, "Synced once nothing is refused", func() bool { return s.state() == StateSynced })
}
