package schedsync

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
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

// forgedDemote sends to's demote endpoint a request signed with the pair's
// secret whose X-Redund-Node and query claim claim: what an authenticated
// peer (or anyone holding the secret) can put in a request. It returns the
// HTTP status.
func forgedDemote(t *testing.T, to *testNode, claim nodeInfo) int {
	t.Helper()
	auth, err := newLinkAuth(testSecret)
	must(t, err)
	uri := "http://" + to.Addr() + demotePath + "?epoch=" + strconv.FormatUint(claim.Epoch, 10)
	req, err := http.NewRequest(http.MethodPost, uri, http.NoBody)
	must(t, err)
	req.Header.Set(nodeHeader, encodeInfo(claim))
	auth.SignRequest(req, nil)
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestDemoteRequestJudgedOnVerifiedEpochs: a demote request claiming a
// newer epoch than the peer really holds is refused. The node compares its
// own saved epoch with the epoch in the peer's hello, which it fetches and
// verifies itself; the number in the request (header and query) used to be
// believed, so the node holding the newer epoch stepped down.
func TestDemoteRequestJudgedOnVerifiedEpochs(t *testing.T) {
	a, b := startPair(t, ModePrimary, ModePrimary, func(a, b *Config) {
		writeState(t, a.Dir, `{"role": "primary", "epoch": 1}`)
	})
	testutil.Eventually(t, 10*time.Second, "Incompatible on both", func() bool {
		return a.state() == StateIncompatible && b.state() == StateIncompatible
	})
	claim := b.info()
	claim.Epoch = 7 // b really holds epoch 0
	if code := forgedDemote(t, a, claim); code != http.StatusConflict {
		t.Errorf("forged demote answered %d, want %d (refused)", code, http.StatusConflict)
	}
	if a.Role() != RolePrimary {
		t.Fatal("the node holding the newer epoch stepped down on a claimed epoch")
	}
	// b's own resync (the older epoch) still resolves the pair: b steps down.
	must(t, b.Resync(context.Background()))
	testutil.Eventually(t, 10*time.Second, "older primary demoted", func() bool { return b.Role() == RoleSecondary })
	if a.Role() != RolePrimary {
		t.Fatal("the newer primary stepped down")
	}
}
