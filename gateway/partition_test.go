package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestPartitionHealDiscardsBackupStateWithEvent: while the link is cut
// both nodes are active; state written on the backup then is replaced by
// the master's when the link heals. That is the documented behaviour, but
// it happened without a word: the backup now records how many writes it
// discarded.
func TestPartitionHealDiscardsBackupStateWithEvent(t *testing.T) {
	var px *proxy
	m, b, _ := pair(t, func(mc, bc *Config) {
		px = newProxy(t, bc.Peer)
		bc.Peer = px.addr()
	})
	if _, err := m.SetState("alarms/pump1", []byte("master")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 3*time.Second, "state on the backup", func() bool { return docValue(t, b, ProvState, "alarms/pump1") == "master" })
	px.setCut(true)
	waitRole(t, b, RoleActive, 3*time.Second)
	if m.Role() != RoleActive {
		t.Fatalf("master is %s during the cut", m.Role())
	}
	const n = 50
	for i := range n {
		if _, err := b.SetState(fmt.Sprintf("cut/%02d", i), []byte("backup")); err != nil {
			t.Fatalf("write %d on the active backup: %v", i, err)
		}
	}
	px.setCut(false)
	waitRole(t, b, RoleStandby, 5*time.Second)
	want := fmt.Sprintf("discarded %d state writes", n)
	testutil.Eventually(t, 3*time.Second, "an event on the backup says "+want, func() bool {
		for _, e := range b.Detail().Events {
			if e.Kind == "state" && strings.Contains(e.Message, want) {
				return true
			}
		}
		return false
	})
	testutil.Eventually(t, 5*time.Second, "the backup follows the master's state again", func() bool {
		return docValue(t, b, ProvState, "cut/00") == "<missing>" && docValue(t, b, ProvState, "alarms/pump1") == "master"
	})
}
