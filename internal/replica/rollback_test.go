package replica

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/redund/redund/internal/testutil"
)

// TestFollowerDetectsARolledBackLeader: a leader whose store is put back
// to an earlier copy (a restored backup, a VM snapshot) keeps its log id;
// written again, it numbers new entries as the old ones the follower
// already applied. The follower went on from its own position, mixing
// the two histories (here it kept b1 and b2, which the leader no longer
// has, and lacked c1 and c2), and showed in sync. It now checks, at the
// start of each run, that the leader still holds the entry it applied
// last, and copies a full snapshot when it does not.
func TestFollowerDetectsARolledBackLeader(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(filepath.Join(dir, "l.db"), Options{Providers: []string{"config"}, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a1", "a2", "a3"} {
		if _, err := l.Put("config", k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := l.DB().View(func(tx *bolt.Tx) error { return tx.CopyFile(copyPath, 0o600) }); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"b1", "b2"} {
		if _, err := l.Put("config", k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	f := open(t, Options{Providers: []string{"config"}, NoSync: true})
	stop := follow(t, f, l, "config")
	waitConverged(t, f, l, "config")
	stop()
	l.Close()

	back, err := Open(copyPath, Options{Providers: []string{"config"}, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { back.Close() })
	for _, k := range []string{"c1", "c2", "c3"} {
		if _, err := back.Put("config", k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	follow(t, f, back, "config")
	testutil.Eventually(t, 10*time.Second, "the follower holds the restored leader's documents", func() bool {
		a, _ := back.List("config", "")
		b, _ := f.List("config", "")
		return sameItems(a, b)
	})
	found := false
	for _, e := range f.Events() {
		found = found || e.Kind == "full_sync_needed" && strings.Contains(e.Message, "restored or rolled back")
	}
	if !found {
		t.Fatalf("no full sync for the rolled-back leader: %+v", f.Events())
	}
}
