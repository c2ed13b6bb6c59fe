package gateway

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/replica"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/testutil"
)

// docProviders decodes the providers of a status document as a client of
// /v1/status sees them.
func docProviders(t *testing.T, d status.Document) map[string]replica.Stats {
	t.Helper()
	b, err := json.Marshal(d.Details["providers"])
	if err != nil {
		t.Fatal(err)
	}
	var ps []replica.Stats
	if err := json.Unmarshal(b, &ps); err != nil {
		t.Fatal(err)
	}
	out := map[string]replica.Stats{}
	for _, p := range ps {
		out[p.Provider] = p
	}
	return out
}

// TestStatusDocumentOfTheMaster: the master's PEER is the backup (it
// showed its own listen address), and its state provider, as the leader,
// shows its log and its follower's last pull (it showed "never", or after
// taking control back the time of its own last pull as a follower).
func TestStatusDocumentOfTheMaster(t *testing.T) {
	m, b, addr := pair(t, nil)
	const n = 40
	for i := range n {
		if _, err := m.SetState(fmt.Sprintf("k%02d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "the master's document: peer and leader figures", func() bool {
		d := m.Status()[0]
		st := docProviders(t, d)[ProvState]
		return d.Peer != nil && d.Peer.Connected && d.Peer.Address != addr && strings.HasPrefix(d.Peer.Address, "127.0.0.1:") &&
			st.Position.Last == n && st.Pending == 0 && time.Since(st.LastPull) < 1500*time.Millisecond
	})
	// the backup takes over, then the master takes control back: as the
	// leader again it shows the backup's pulls, not its own from before
	m.stop()
	waitRole(t, b, RoleActive, 3*time.Second)
	mc := m.cfg
	mc.JoinWait = 5_000_000_000
	m2 := startGW(t, mc, listen(t, addr))
	waitRole(t, m2, RoleActive, 5*time.Second)
	back := time.Now()
	for i := range n {
		if _, err := m2.SetState(fmt.Sprintf("again%02d", i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 6*time.Second, "the returned master's state provider shows its follower's recent pulls", func() bool {
		st := docProviders(t, m2.Status()[0])[ProvState]
		return time.Since(back) > 2*time.Second && time.Since(st.LastPull) < 1500*time.Millisecond &&
			st.Position.Last == n && st.Position.SrcLogID == "" && st.Pending == 0
	})
}

// TestMasterReasonFollowsTheLink: a master that became active without its
// peer ("no contact ...") said so while linked again with the backup.
func TestMasterReasonFollowsTheLink(t *testing.T) {
	m, b, addr := pair(t, func(mc, _ *Config) { mc.Recovery = RecoveryManual })
	m.stop()
	waitRole(t, b, RoleActive, 3*time.Second)
	mc := m.cfg
	mc.JoinWait = 5_000_000_000
	m2 := startGW(t, mc, listen(t, addr))
	waitRole(t, m2, RoleStandby, 5*time.Second) // manual recovery
	bc := b.cfg
	b.stop()
	waitRole(t, m2, RoleActive, 3*time.Second)
	if r := m2.Status()[0].Reason; !strings.Contains(r, "no contact") {
		t.Fatalf("master active without its backup: reason %q", r)
	}
	b2 := startGW(t, bc, nil)
	waitRole(t, b2, RoleStandby, 5*time.Second)
	testutil.Eventually(t, 3*time.Second, "the master's reason says it is linked", func() bool {
		d := m2.Status()[0]
		return d.Peer.Connected && strings.Contains(d.Reason, "linked with the backup") && !strings.Contains(d.Reason, "no contact")
	})
}
