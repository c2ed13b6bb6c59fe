package schedsync

import (
	"strings"
	"testing"
	"time"
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
	waitFor(t, 10*time.Second, "Incompatible on both", func() bool {
		return a.state() == StateIncompatible && b.state() == StateIncompatible
	})
	want := map[*testNode]string{a: "two primaries (epoch 0 here, 1 on the peer)", b: "two primaries (epoch 1 here, 0 on the peer)"}
	deadline := time.Now().Add(3 * time.Second)
	samples := 0
	for time.Now().Before(deadline) {
		for n, w := range want {
			d := n.Status()[0]
			if d.State != StateIncompatible || !strings.HasPrefix(d.Reason, w) {
				t.Fatalf("node %s after %d samples: %s %q, want Incompatible %q", n.cfg.NodeID, samples, d.State, d.Reason, w)
			}
		}
		samples++
		time.Sleep(10 * time.Millisecond)
	}
}
