package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The tests here change a node's mode between runs (edit `mode`, restart),
// as an operator does to swap the two machines' parts. Configuration is
// written on the master only, and a backup takes the master's configuration
// (Ignition's rule): after every change of mode both nodes must hold the
// same configuration, and a node that now writes its configuration must not
// be shown as following the other's.

// remode is n's configuration in mode; the node keeps its id and data_dir.
func remode(n Config, mode Mode, peer string) Config {
	c := n
	c.Mode, c.Peer = mode, ""
	if mode == ModeBackup {
		c.Peer = peer
	}
	return c
}

// startMaster starts cfg as a master on a new loopback port and waits until
// it is active.
func startMaster(t *testing.T, cfg Config) (*gw, string) {
	t.Helper()
	ln := listen(t, "127.0.0.1:0")
	m := startGW(t, remode(cfg, ModeMaster, ""), ln)
	waitRole(t, m, RoleActive, 5*time.Second)
	return m, ln.Addr().String()
}

// startBackup starts cfg as a backup of the master at addr and waits until
// it is standby.
func startBackup(t *testing.T, cfg Config, addr string) *gw {
	t.Helper()
	b := startGW(t, remode(cfg, ModeBackup, addr), nil)
	waitRole(t, b, RoleStandby, 5*time.Second)
	return b
}

// configOf lists a node's configuration as key=value text.
func configOf(t *testing.T, n *gw) string {
	t.Helper()
	items, err := n.ListDocs(ProvConfig, "")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, it := range items {
		fmt.Fprintf(&b, "%s=%s ", it.Key, it.Value)
	}
	return b.String()
}

// waitSameConfig waits until the backup holds exactly the master's
// configuration, want, with nothing pending.
func waitSameConfig(t *testing.T, m, b *gw, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mc, bc, st := configOf(t, m), configOf(t, b), b.Store().Stats(ProvConfig)
		if mc == want && bc == want && st.Pending == 0 && !st.FullSyncNeeded {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 5s the master holds %q, the backup %q (pending %d, full sync needed %v, status %q), want %q; backup events %+v",
				mc, bc, st.Pending, st.FullSyncNeeded, b.Status()[0].State, want, b.Detail().Replica)
		}
		time.Sleep(5 * time.Millisecond) // sleep: poll interval (the failure shows both nodes)
	}
}

// notFollowing fails if n's config log is marked as following another's.
func notFollowing(t *testing.T, n *gw) {
	t.Helper()
	pos := n.Store().Stats(ProvConfig).Position
	if pos.SrcLogID != "" || pos.Applied != 0 {
		t.Fatalf("%s (mode %s) shows its config log as following log %s at seq %d", n.cfg.NodeID, n.cfg.Mode, pos.SrcLogID, pos.Applied)
	}
}

// saysLeadsConfig fails unless n recorded that it now writes a config log
// of its own after following one.
func saysLeadsConfig(t *testing.T, n *gw) {
	t.Helper()
	for _, e := range n.Detail().Events {
		if e.Kind == "config" && strings.Contains(e.Message, "writes a new config log of its own") {
			return
		}
	}
	t.Fatalf("%s: no event about leading its config log: %+v", n.cfg.NodeID, n.Detail().Events)
}

// TestModeChangeBackupRanAsMasterAlone: a backup that ran as master alone
// (its master was down), then is a backup again, takes the master's
// configuration rather than keeping what it wrote meanwhile unseen by the
// master while showing itself in sync.
func TestModeChangeBackupRanAsMasterAlone(t *testing.T) {
	m, b, _ := pair(t, nil)
	if _, err := m.SetConfig("site", []byte("plant-1")); err != nil {
		t.Fatal(err)
	}
	waitSameConfig(t, m, b, "site=plant-1 ")
	acfg, bcfg := m.cfg, b.cfg
	b.stop()
	m.stop()

	// the backup's machine is made the master while the other is down
	b2, _ := startMaster(t, bcfg)
	notFollowing(t, b2)
	saysLeadsConfig(t, b2)
	for k, v := range map[string]string{"site": "plant-2", "line": "L2"} {
		if _, err := b2.SetConfig(k, []byte(v)); err != nil {
			t.Fatalf("the new master refused a config write: %v", err)
		}
	}
	if got := configOf(t, b2); got != "line=L2 site=plant-2 " {
		t.Fatalf("new master's configuration %q", got)
	}
	b2.stop()

	// the operator goes back: the first machine is the master again
	a3, addr := startMaster(t, acfg)
	notFollowing(t, a3)
	b3 := startBackup(t, bcfg, addr)
	waitSameConfig(t, a3, b3, "site=plant-1 ")
	// what it wrote as master is replaced, and it says so
	replaced := false
	for _, e := range b3.Detail().Replica {
		replaced = replaced || e.Provider == ProvConfig && e.Kind == "full_sync_done"
	}
	if !replaced {
		t.Fatalf("the backup's configuration was replaced without a full sync event: %+v", b3.Detail().Replica)
	}
	if _, err := a3.SetConfig("line", []byte("L3")); err != nil {
		t.Fatal(err)
	}
	waitSameConfig(t, a3, b3, "line=L3 site=plant-1 ")
}

// TestModeChangeSwapAndBack: the two machines swap parts while the backup
// had not pulled the master's last change, then swap back. The new master's
// configuration wins each time, and a change the old master wrote before
// the first swap does not come back into the backup later.
func TestModeChangeSwapAndBack(t *testing.T) {
	m, b, _ := pair(t, nil)
	if _, err := m.SetConfig("k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	waitSameConfig(t, m, b, "k=v1 ")
	acfg, bcfg := m.cfg, b.cfg
	b.stop()
	// the backup is down: it misses this change
	if _, err := m.SetConfig("k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	m.stop()

	// swap: B is the master, A its backup
	b2, addr := startMaster(t, bcfg)
	notFollowing(t, b2)
	saysLeadsConfig(t, b2)
	a2 := startBackup(t, acfg, addr)
	waitSameConfig(t, b2, a2, "k=v1 ")
	if _, err := b2.SetConfig("k", []byte("new")); err != nil {
		t.Fatal(err)
	}
	waitSameConfig(t, b2, a2, "k=new ")
	a2.stop()
	b2.stop()

	// and back: A is the master again
	a3, addr := startMaster(t, acfg)
	notFollowing(t, a3)
	saysLeadsConfig(t, a3)
	b3 := startBackup(t, bcfg, addr)
	waitSameConfig(t, a3, b3, "k=new ")
	if _, err := a3.SetConfig("j", []byte("1")); err != nil {
		t.Fatal(err)
	}
	waitSameConfig(t, a3, b3, "j=1 k=new ")
}
