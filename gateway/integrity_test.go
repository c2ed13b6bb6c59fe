package gateway

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestDamagedStoreAtStartInStatus: a document of replica.db damaged on
// disk while the node was down (bytes flipped inside its stored value)
// does not stop the node: it starts, refuses the document with an error
// naming the file, the bucket and the key, and its status says so (an
// ERR health entry, the count in the details). Before the checksums the
// node served the flipped bytes as the document and showed healthy.
func TestDamagedStoreAtStartInStatus(t *testing.T) {
	cfg := Config{NodeID: "solo", Mode: ModeIndependent, DataDir: t.TempDir()}
	n := startGW(t, cfg, nil)
	waitRole(t, n, RoleActive, 3*time.Second)
	marker := []byte("setpoint-document-0123456789")
	if _, err := n.SetConfig("doc", marker); err != nil {
		t.Fatal(err)
	}
	n.stop()
	path := filepath.Join(cfg.DataDir, "replica.db")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for off := 0; ; found++ {
		i := bytes.Index(b[off:], marker)
		if i < 0 {
			break
		}
		b[off+i+4] ^= 0x55
		off += i + len(marker)
	}
	if found == 0 {
		t.Fatal("the document is not in the file")
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}

	n = startGW(t, cfg, nil)
	waitRole(t, n, RoleActive, 3*time.Second)
	it, ok, err := n.GetDoc(ProvConfig, "doc")
	if err == nil {
		t.Fatalf("the damaged document was served: %q (found %v)", it.Value, ok)
	}
	d := n.Status()[0]
	var health []string
	for _, h := range d.Health {
		if h.Name == "replica.db integrity" && h.State == "ERR" {
			health = append(health, h.Reason)
		}
	}
	if len(health) != 1 || !strings.Contains(health[0], path) || !strings.Contains(health[0], `bucket "p/config/`) ||
		!strings.Contains(health[0], `key "doc"`) {
		t.Fatalf("the status does not say which value is damaged: %+v", d.Health)
	}
	if det := n.Detail(); det.Damaged == 0 {
		t.Fatalf("damage not counted: %+v", det)
	}
}

// TestFormat1StoreMigrated: a replica.db written before the checksums
// (testdata/replica-format1.db: config doc/1 and doc/3, state tag/a, two
// cached history points, epoch 7) opens, its documents read back, its
// cached points count, and nothing is reported damaged.
func TestFormat1StoreMigrated(t *testing.T) {
	src, err := os.ReadFile("testdata/replica-format1.db")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{NodeID: "solo", Mode: ModeIndependent, DataDir: t.TempDir()}
	if err := os.WriteFile(filepath.Join(cfg.DataDir, "replica.db"), src, 0o600); err != nil {
		t.Fatal(err)
	}
	n := startGW(t, cfg, nil)
	waitRole(t, n, RoleActive, 3*time.Second)
	if v := docValue(t, n, ProvConfig, "doc/3"); v != `{"n":3}` {
		t.Fatalf("config doc/3: %q", v)
	}
	if v := docValue(t, n, ProvState, "tag/a"); v != "42" {
		t.Fatalf("state tag/a: %q", v)
	}
	d := n.Detail()
	if d.History.Cached != 2 || d.History.Quarantined != 0 || d.Epoch < 7 || d.Damaged != 0 {
		t.Fatalf("history %+v, epoch %d, damaged %d %s", d.History, d.Epoch, d.Damaged, d.DamageError)
	}
}

// TestBackupCopiesItsDamagedConfigAgain: a backup whose copy of a
// configuration document was damaged while it was down refuses the
// damaged bytes, takes a full copy from the master and then serves the
// master's document; its status counts the damage.
func TestBackupCopiesItsDamagedConfigAgain(t *testing.T) {
	m, b, _ := pair(t, nil)
	marker := []byte("replicated-setpoint-abcdefgh")
	if _, err := m.SetConfig("doc", marker); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the backup has the document", func() bool {
		it, ok, err := b.GetDoc(ProvConfig, "doc")
		return err == nil && ok && bytes.Equal(it.Value, marker)
	})
	bc := b.cfg
	b.stop()
	path := filepath.Join(bc.DataDir, "replica.db")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(raw, marker) == 0 {
		t.Fatal("the document is not in the backup's file")
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(raw, marker, []byte("replicated-setpoint-ABCDEFGH")), 0o600); err != nil {
		t.Fatal(err)
	}
	b2 := startGW(t, bc, nil)
	testutil.Eventually(t, 10*time.Second, "the backup serves the master's document again, after a full copy", func() bool {
		it, ok, err := b2.GetDoc(ProvConfig, "doc")
		// the copy is counted just after it replaced the data
		return err == nil && ok && bytes.Equal(it.Value, marker) && b2.Detail().Providers[0].FullSyncs > 0
	})
	if d := b2.Detail(); d.Damaged == 0 {
		t.Fatalf("damage not counted: %+v", d)
	}
}
