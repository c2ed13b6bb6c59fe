package voter

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/testutil"
)

// docOf is the status document of one instance.
func docOf(s *running, inst string) status.Document {
	for _, d := range s.Status() {
		if d.Instance == inst {
			return d
		}
	}
	return status.Document{}
}

// A secondary whose primary = "addr,password" names a wrong connectivity
// password gets the primary's reply to an unknown digest: the right host
// digest, flags 0. That is not a link: the secondary keeps serving its
// clients and says "link not authenticated"; with the right password the
// primary answers with flag 32 and the link comes up.
func TestLinkWrongConnectivityPassword(t *testing.T) {
	prim := startServer(t, pairCfg("127.0.0.1:0", "", ""))
	paddr := prim.Addr("red")
	sec := startServer(t, pairCfg("127.0.0.1:0", "", fmt.Sprintf("%s,wrong-linkpw", paddr)))
	testutil.Eventually(t, 5*time.Second, "the primary's replies to the link", func() bool {
		return prim.Stats("red")["unknown_digest"] >= 2 && strings.Contains(docOf(sec, "red").Peer.Reason, "not authenticated")
	})
	// several more replies (one per 500 ms): still not up
	n := prim.Stats("red")["auth_replies"]
	testutil.Eventually(t, 5*time.Second, "more replies", func() bool { return prim.Stats("red")["auth_replies"] >= n+3 })
	d := docOf(sec, "red")
	if d.Peer.Connected || d.State == "proxying" || !strings.Contains(d.Reason, "link not authenticated") {
		t.Fatalf("secondary with a wrong connectivity password: state %q, peer connected %v, reason %q",
			d.State, d.Peer.Connected, d.Reason)
	}
	good := startServer(t, pairCfg("127.0.0.1:0", "", fmt.Sprintf("%s,linkpw", paddr)))
	testutil.Eventually(t, 5*time.Second, "link up with the right password", func() bool { return docOf(good, "red").Peer.Connected })
	if d := docOf(good, "red"); d.State != "proxying" {
		t.Errorf("right password: state %q, want proxying", d.State)
	}
}
