package gateway

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestRebuiltMasterDoesNotWipeTheBackupsConfig: a master whose data_dir
// was lost comes back with no configuration. The backup, whose copy is
// the only one left, copied the master's empty configuration in full at
// once and lost every document. It now keeps them, says why (Sync failing,
// an event), and takes the empty copy only when an operator forces a
// re-sync.
func TestRebuiltMasterDoesNotWipeTheBackupsConfig(t *testing.T) {
	m, b, addr := pair(t, nil)
	if _, err := m.SetConfig("tags/pump", []byte("on")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the backup has the document", func() bool {
		return docValue(t, b, ProvConfig, "tags/pump") == "on"
	})
	mc := m.cfg
	m.stop()
	if err := os.RemoveAll(mc.DataDir); err != nil {
		t.Fatal(err)
	}
	waitRole(t, b, RoleActive, 5*time.Second)
	mc.JoinWait = 5_000_000_000
	m2 := startGW(t, mc, listen(t, addr))
	waitRole(t, m2, RoleActive, 5*time.Second)
	testutil.Eventually(t, 5*time.Second, "the backup refuses the empty copy and says so", func() bool {
		d := b.Status()[0]
		return d.State == "Sync failing" && len(d.Health) == 1 && strings.Contains(d.Health[0].Reason, "empty copy refused")
	})
	if v := docValue(t, b, ProvConfig, "tags/pump"); v != "on" {
		t.Fatalf("the backup's configuration was replaced by the rebuilt master's empty one: %s", v)
	}
	refused := 0
	for _, e := range b.Detail().Replica {
		if e.Kind == "full_sync_refused" {
			refused++
		}
	}
	if refused != 1 {
		t.Fatalf("%d full_sync_refused events, want 1: %+v", refused, b.Detail().Replica)
	}
	if _, err := b.Resync(); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "a forced re-sync takes the empty copy", func() bool {
		return docValue(t, b, ProvConfig, "tags/pump") == "<missing>" && b.Status()[0].State == "Synced"
	})
}
