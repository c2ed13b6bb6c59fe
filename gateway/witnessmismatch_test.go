package gateway

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/witness"
	"github.com/redund/redund/internal/witness/etcdtest"
)

// TestWitnessMismatchRefused: a pair whose nodes disagree on the witness
// (one with `witness = true`, the other without; or two whose [witness]
// prefixes put the lock at different keys) refuses to link, and both
// nodes say so: state Incompatible, the link Refused with a reason naming
// the witness. The backup stays standby while the master answers. Such a
// pair used to link as if nothing were wrong, and a cut link then made
// two active nodes although the lock was meant to rule that out.
func TestWitnessMismatchRefused(t *testing.T) {
	etcdtest.Need(t)
	cluster := etcdtest.Start(t, 3)
	for _, tt := range []struct {
		name       string
		mWit, bWit bool
		bPrefix    string
		want       string
	}{
		{"witness on the master only", true, false, "", `node "backup-node" has witness = false`},
		{"witness on the backup only", false, true, "", `node "master-node" has witness = false`},
		{"different prefixes", true, true, "/elsewhere/", "witness locks differ"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			mc, bc := baseCfg(t, ModeMaster, filepath.Join(dir, "m")), baseCfg(t, ModeBackup, filepath.Join(dir, "b"))
			mc.Witness, bc.Witness = tt.mWit, tt.bWit
			ln := listen(t, "127.0.0.1:0")
			bc.Peer = ln.Addr().String()
			wit := func(name, prefix string) *witness.Config {
				return &witness.Config{Endpoints: cluster.Endpoints(), Name: name, Prefix: prefix, TTL: config.Duration(witnessTTL)}
			}
			m := startGWWith(t, mc, Options{PeerListener: ln, Witness: wit(mc.NodeID, "")})
			b := startGWWith(t, bc, Options{Witness: wit(bc.NodeID, tt.bPrefix)})
			for _, n := range []*gw{m, b} {
				testutil.Eventually(t, 15*time.Second, n.cfg.NodeID+" reports the pair Incompatible", func() bool {
					d := n.Status()[0]
					l := n.Detail().Link
					return d.State == "Incompatible" && l.State == peer.Refused && strings.Contains(l.Reason, tt.want) &&
						d.Peer != nil && strings.Contains(d.Peer.Reason, tt.want)
				})
			}
			waitRole(t, m, RoleActive, 15*time.Second)
			waitRole(t, b, RoleStandby, 5*time.Second)
			stays(t, b, RoleStandby, time.Second)
			if b.Detail().PeerConnected || m.Detail().PeerConnected {
				t.Fatal("the nodes linked although they disagree on the witness")
			}
		})
	}
}

// TestWitnessCompat: the witness part of the pair's compatibility check,
// one row per case.
func TestWitnessCompat(t *testing.T) {
	hello := func(id, wit string) peer.Hello {
		h := peer.Hello{NodeID: id, App: map[string]string{}}
		if wit != "" {
			h.App[helloWitness] = wit
		}
		return h
	}
	for _, tt := range []struct {
		name           string
		local, remote  peer.Hello
		want, wantNode string // want: "" accepts; wantNode: the node named as having witness = false
	}{
		{"both off", hello("a", "off"), hello("b", "off"), "", ""},
		{"same lock", hello("a", "/redund/lock/gateway"), hello("b", "/redund/lock/gateway"), "", ""},
		{"an older peer that does not say", hello("a", "/redund/lock/gateway"), hello("b", ""), "", ""},
		{"on here, off there", hello("a", "/redund/lock/gateway"), hello("b", "off"), "witness differs", `"b" has witness = false`},
		{"off here, on there", hello("a", "off"), hello("b", "/redund/lock/gateway"), "witness differs", `"a" has witness = false`},
		{"different locks", hello("a", "/redund/lock/gateway"), hello("b", "/x/lock/gateway"), "witness locks differ", "/x/lock/gateway"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := witnessCompat(tt.local, tt.remote)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.wantNode)):
				t.Fatalf("got %v, want %q naming %q", err, tt.want, tt.wantNode)
			}
		})
	}
}
