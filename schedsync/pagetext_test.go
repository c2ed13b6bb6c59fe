package schedsync

import (
	"strings"
	"testing"

	"github.com/redund/redund/internal/status"
)

// TestPageConsequences: what the page says each action will do, for each
// situation Node.Resync and Node.Promote tell apart.
func TestPageConsequences(t *testing.T) {
	up := &status.Peer{Address: "http://b:9190", Connected: true}
	down := &status.Peer{Address: "http://b:9190"}
	for _, tc := range []struct {
		name             string
		role, peerRole   Role
		peer             *status.Peer
		epoch, peerEpoch uint64
		resync, promote  string // wanted in the consequence, or "off: " + wanted in Disabled
		promoteDanger    bool
		state            State // default Synced
	}{
		{"secondary, primary alive", RoleSecondary, RolePrimary, up, 3, 3,
			"compares every file", "TWO PRIMARIES", true, ""},
		{"secondary, primary gone", RoleSecondary, RolePrimary, down, 3, 3,
			"compares every file", "new epoch (above 3)", false, ""},
		{"both secondaries", RoleSecondary, RoleSecondary, up, 3, 3,
			"off: both nodes are secondaries", "becomes primary", false, ""},
		{"primary, secondary alive", RolePrimary, RoleSecondary, up, 3, 3,
			"compares every file in full", "off: this node is primary", false, ""},
		{"primary alone", RolePrimary, "", nil, 1, 0, "No secondary is configured", "off: this node is primary", false, ""},
		{"two primaries, older here", RolePrimary, RolePrimary, up, 2, 4,
			"THIS NODE STEPS DOWN", "off: ", false, ""},
		{"two primaries, newer here", RolePrimary, RolePrimary, up, 4, 2,
			"THE PEER node-b (http://b:9190) IS ASKED TO STEP DOWN", "off: ", false, ""},
		{"two primaries, same epoch", RolePrimary, RolePrimary, up, 4, 4,
			"off: both primaries hold epoch 4", "off: ", false, ""},
		{"secondary, primary answers with another secret", RoleSecondary, "", down, 3, 0,
			"compares every file", "TWO PRIMARIES", true, StateIncompatible},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := pageData{Document: status.Document{Role: tc.role.String(), Peer: tc.peer, State: orDefault(tc.state.String(), StateSynced.String())},
				Epoch:    tc.epoch,
				PeerRole: tc.peerRole.String(), PeerEpoch: tc.peerEpoch, Dir: "/srv/schedule", LastContact: 0.2}
			if tc.peerRole != "" {
				d.PeerNode = "node-b"
			}
			if tc.state == StateIncompatible {
				d.Reason = reasonSecretsDiffer
			}
			for _, c := range []struct {
				a    pageAction
				want string
			}{{resyncAction(&d), tc.resync}, {promoteAction(&d), tc.promote}} {
				got := c.a.Consequence
				want, off := strings.CutPrefix(c.want, "off: ")
				if off {
					got = c.a.Disabled
				}
				if !strings.Contains(got, want) || (off == (c.a.Disabled == "")) {
					t.Errorf("%s: %s: consequence %q, disabled %q; want %q", tc.name, c.a.Name, c.a.Consequence, c.a.Disabled, c.want)
				}
			}
			if p := promoteAction(&d); p.Danger != tc.promoteDanger {
				t.Errorf("%s: Make primary marked dangerous: %v", tc.name, p.Danger)
			}
		})
	}
}

// TestPageWitnessConsequences: with the witness, Make primary asks for
// the lock and is refused while the other node holds it: the page said
// it made TWO PRIMARIES (in red) and that a returning old primary would
// be a second primary, neither of which the witness lets happen. A
// primary by its saved role without the lock ("primary (no witness
// lock)") is a primary for the actions, as Node.Promote sees it (the
// button was offered, and refused).
func TestPageWitnessConsequences(t *testing.T) {
	up := &status.Peer{Address: "http://b:9190", Connected: true}
	down := &status.Peer{Address: "http://b:9190"}
	for _, tc := range []struct {
		name    string
		role    string
		peer    *status.Peer
		holder  string
		promote string // wanted in the consequence, or "off: " + wanted in Disabled
		resync  string
	}{
		{"secondary, primary alive and holding the lock", "secondary", up, "node-b",
			"node-b holds it (fence 7)", "compares every file"},
		{"secondary, primary gone", "secondary", down, "",
			"no node is known to hold it", "compares every file"},
		{"primary without the lock", "primary (no witness lock)", up, "node-b",
			"off: this node is primary", "rescans its whole directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := pageData{Document: status.Document{Role: tc.role, Peer: tc.peer, State: StateUnavailable.String()},
				Epoch: 3, PeerNode: "node-b", PeerRole: RolePrimary.String(), PeerEpoch: 3, LastContact: 0.2,
				Witness: &pageWitness{Holder: tc.holder, HolderFence: 7, Reachable: "3/3"}}
			if tc.role != "secondary" {
				d.PeerRole = RoleSecondary.String()
			}
			p := promoteAction(&d)
			want, off := strings.CutPrefix(tc.promote, "off: ")
			got := p.Consequence
			if off {
				got = p.Disabled
			}
			if !strings.Contains(got, want) || p.Danger || (off == (p.Disabled == "")) {
				t.Fatalf("Make primary: consequence %q, disabled %q, danger %v; want %q", p.Consequence, p.Disabled, p.Danger, tc.promote)
			}
			if !off && (strings.Contains(p.Consequence, "TWO PRIMARIES") || !strings.Contains(p.Consequence, "never makes two primaries")) {
				t.Fatalf("Make primary with the witness: %q", p.Consequence)
			}
			if r := resyncAction(&d); !strings.Contains(r.Consequence, tc.resync) {
				t.Fatalf("Resync now: consequence %q, disabled %q; want %q", r.Consequence, r.Disabled, tc.resync)
			}
		})
	}
}
