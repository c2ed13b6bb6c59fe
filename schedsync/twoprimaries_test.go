package schedsync

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// writeState plants a node's persisted role and epoch, as a past
// promotion would have left them.
func writeState(t *testing.T, dir, body string) {
	t.Helper()
	writeFile(t, dir, ".redund/state.json", body, 0o600)
}

// TestIncompatibleReasonNamesOwnEpoch: with two primaries at epochs 0 and
// 1, each node's reason names its own epoch as "here", every time it is
// read (it flipped every ~0.6 s: the 409's reason, written from the
// peer's side, was shown as is).
func TestIncompatibleReasonNamesOwnEpoch(t *testing.T) {
	a, b := startPair(t, ModePrimary, ModePrimary, func(a, b *Config) {
		writeState(t, b.Dir, `{"role": "primary", "epoch": 1}`)
	})
	testutil.Eventually(t, 10*time.Second, "Incompatible on both", func() bool {
		return a.state() == StateIncompatible && b.state() == StateIncompatible
	})
	want := map[*testNode]string{a: "two primaries (epoch 0 here, 1 on the peer)", b: "two primaries (epoch 1 here, 0 on the peer)"}
	deadline := time.Now().Add(3 * time.Second)
	samples := 0
	for time.Now().Before(deadline) {
		for n, w := range want {
			d := n.Status()[0]
			if State(d.State) != StateIncompatible || !strings.HasPrefix(d.Reason, w) {
				t.Fatalf("node %s after %d samples: %s %q, want Incompatible %q", n.cfg.NodeID, samples, d.State, d.Reason, w)
			}
		}
		samples++
		time.Sleep(10 * time.Millisecond) // sleep: sampling interval of a window in which the state must hold
	}
}

// TestResyncOnNewerEpochDemotesPeer: the two-primaries case resync exists
// for, run on the node holding the newer epoch: it asks the peer to step
// down (the demote request used to be refused by the very compatibility
// check that reports two primaries).
func TestResyncOnNewerEpochDemotesPeer(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryFailover, nil)
	writeFile(t, p.dir, "shared.txt", "v1", 0o644)
	waitSame(t, p, s, "initial copy")
	p.stop()
	testutil.Eventually(t, 10*time.Second, "promotion", func() bool { return s.Role() == RolePrimary })
	writeFile(t, s.dir, "shared.txt", "v2 written on the promoted node", 0o644)
	writeFile(t, p.dir, "shared.txt", "v1b written on the old primary while cut off", 0o644)
	p2 := startNode(t, p.cfg, nil)
	testutil.Eventually(t, 10*time.Second, "Incompatible on both", func() bool {
		return p2.state() == StateIncompatible && s.state() == StateIncompatible
	})
	must(t, s.Resync(context.Background())) // newer epoch: demotes the peer
	testutil.Eventually(t, 10*time.Second, "old primary demoted", func() bool { return p2.Role() == RoleSecondary })
	if s.Role() != RolePrimary {
		t.Fatal("the node with the newer epoch stepped down")
	}
	waitSame(t, s, p2, "after resync")
	assertSaved(t, p2, "shared.txt", "v1b written on the old primary while cut off")
	if b, _ := os.ReadFile(filepath.Join(s.dir, "shared.txt")); !strings.HasPrefix(string(b), "v2") {
		t.Fatalf("the newer primary's file changed: %q", b)
	}
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return p2.state() == StateSynced && s.state() == StateSynced })
}
