package schedsync

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// TestInPlaceKey: in_place is true unless the table says false.
func TestInPlaceKey(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      bool
	}{
		{"default", "", true},
		{"true", "in_place = true", true},
		{"false", "in_place = false", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			must(t, config.Decode("s.toml", "mode = \"primary\"\ndir = \"/srv/data\"\n"+tt.src, &c))
			must(t, c.Validate())
			if c.InPlace == nil || *c.InPlace != tt.want {
				t.Fatalf("in_place = %v, want %v", c.InPlace, tt.want)
			}
		})
	}
}

// TestPairInPlaceOff: with in_place = false on the secondary, a small
// change to a large file is installed as a complete file renamed over the
// old one (a new inode), never written into the file a reader may hold.
func TestPairInPlaceOff(t *testing.T) {
	off := false
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, func(_, b *Config) { b.InPlace = &off })
	data := bigData(2<<20, 3)
	src := filepath.Join(p.dir, "big.bin")
	must(t, os.WriteFile(src, data, 0o644))
	waitSame(t, p, s, "initial copy")
	dst := filepath.Join(s.dir, "big.bin")
	ino := inode(t, dst)
	f, err := os.OpenFile(src, os.O_RDWR, 0)
	must(t, err)
	data[len(data)/2] ^= 0xff
	_, err = f.WriteAt(data[len(data)/2:len(data)/2+1], int64(len(data)/2))
	must(t, err)
	must(t, f.Close())
	testutil.Eventually(t, 10*time.Second, "the change on the secondary", func() bool {
		got, err := os.ReadFile(dst)
		return err == nil && bytes.Equal(got, data)
	})
	if inode(t, dst) == ino {
		t.Fatal("the file was written in place although in_place = false")
	}
}

// TestUnfinishedJournalShown: an in-place update a crash left that cannot
// be finished at start (here its journal cannot be read) is an ERR health
// entry in the status, not a log line alone, until the node is Synced
// again (its files then match the primary's).
func TestUnfinishedJournalShown(t *testing.T) {
	a, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryCopy, nil)
	must(t, os.MkdirAll(filepath.Join(b.Dir, filepath.FromSlash(journalDir), "unreadable"), 0o755))
	journalHealth := func(n *Node) string {
		for _, h := range n.Status()[0].Health {
			if h.Name == "journal" && h.State == "ERR" {
				return h.Reason
			}
		}
		return ""
	}
	n, err := New(b, Options{Version: "test"})
	must(t, err)
	if r := journalHealth(n); !strings.Contains(r, "could not be finished") {
		t.Fatalf("status after start: journal health %q, want the unfinished update", r)
	}
	must(t, n.w.close())

	startNode(t, a, lnA)
	s := startNode(t, b, lnB)
	testutil.Eventually(t, 10*time.Second, "Synced without the journal entry", func() bool {
		return s.state() == StateSynced && journalHealth(s.Node) == ""
	})
}
