package schedsync

import (
	"fmt"
	"strings"
	"time"
)

// stateRow is one of the seven statuses with what it means on each end.
type stateRow struct {
	Name, Primary, Secondary string
	Current                  bool
}

// stateMeanings are the statuses' meanings, as docs/schedsync.md states them.
var stateMeanings = map[State][2]string{
	StateNoRedundancy: {"no peer configured: nothing is replicated", "-"},
	StateConnecting:   {"the secondary has not answered yet", "connecting and doing the first full sync"},
	StateSyncing:      {"the secondary is fetching changes", "fetching changes"},
	StateSynced:       {"the secondary has every change", "holds the primary's tree, durably: it can take over"},
	StateNotSynced: {"the secondary reports a problem: local edits, files it could not write or gave up on, refused symlinks, a failing sync",
		"same, with the reason: Resync now"},
	StateUnavailable: {"the secondary has not answered for peer_timeout",
		"the primary has not answered for peer_timeout: Make primary"},
	StateIncompatible: {"both ends primary, both secondary, different versions or protocol, or the secrets differ: see the reason", "same, on both ends"},
}

func stateRows(current State) []stateRow {
	rows := make([]stateRow, 0, len(States))
	for _, s := range States {
		m := stateMeanings[s]
		rows = append(rows, stateRow{Name: s.String(), Primary: m[0], Secondary: m[1], Current: s == current})
	}
	return rows
}

// pageAction is an operator action as the page offers it: the endpoint it
// posts to and what it will do, stated before the operator confirms.
type pageAction struct {
	Name, Label, Path string
	Consequence       string
	Danger            bool   // the consequence is two primaries
	Disabled          string // why the action does not apply now ("": it does)
}

// peerName names the peer for the consequences: its node id and URL.
func (d *pageData) peerName() string {
	p := d.peer()
	switch {
	case d.PeerNode != "" && p.Address != "":
		return d.PeerNode + " (" + p.Address + ")"
	case p.Address != "":
		return p.Address
	}
	return "the peer"
}

// resyncAction says what "Resync now" does in the node's situation
// (mirroring Node.Resync).
func resyncAction(d *pageData) pageAction {
	a := pageAction{Name: "resync", Label: "Resync now", Path: ActionPath("resync")}
	p := d.peer()
	bothPrimary := d.role() == RolePrimary && p.Connected && Role(d.PeerRole) == RolePrimary
	switch {
	case d.role() == RoleSecondary && p.Connected && Role(d.PeerRole) == RoleSecondary:
		a.Disabled = "both nodes are secondaries: make one primary first"
	case d.role() == RoleSecondary:
		a.Consequence = fmt.Sprintf("This node compares every file in %s with the primary %s, each one hashed again, "+
			"and repairs what differs. Files changed here are moved to .redund/conflicts/ first, not lost. "+
			"The status is Syncing until it is done.", d.Dir, d.peerName())
	case bothPrimary && d.Epoch == d.PeerEpoch:
		a.Disabled = fmt.Sprintf("both primaries hold epoch %d: refused; demote one (redund schedsync demote)", d.Epoch)
	case bothPrimary && d.Epoch < d.PeerEpoch:
		a.Consequence = fmt.Sprintf("Two primaries: this node holds the older epoch (%d here, %d on the peer), so THIS NODE "+
			"STEPS DOWN: it becomes secondary, follows %s and runs on_demote; what differs here from the peer is moved to "+
			".redund/conflicts/.", d.Epoch, d.PeerEpoch, d.peerName())
	case bothPrimary:
		a.Consequence = fmt.Sprintf("Two primaries: this node holds the newer epoch (%d here, %d on the peer), so THE PEER "+
			"%s IS ASKED TO STEP DOWN and follow this node; what differs there is moved to its .redund/conflicts/.",
			d.Epoch, d.PeerEpoch, d.peerName())
	case d.Peer == nil:
		a.Consequence = "This node rescans its whole directory. No secondary is configured."
	default:
		a.Consequence = "This node rescans its whole directory and starts a new change log: the secondary " +
			d.peerName() + " compares every file in full (asked at once if it is reachable, else when it returns)."
	}
	return a
}

// promoteAction says what "Make primary" does: on a secondary whose
// primary is alive, that it makes two primaries.
func promoteAction(d *pageData) pageAction {
	a := pageAction{Name: "promote", Label: "Make primary", Path: ActionPath("promote")}
	p := d.peer()
	switch {
	case d.role() == RolePrimary:
		a.Disabled = "this node is primary"
	case d.Witness != nil:
		a.Consequence = witnessPromote(d)
	case State(d.State) == StateIncompatible && d.Reason == reasonSecretsDiffer:
		a.Danger = true
		a.Consequence = "THE PRIMARY ANSWERS, with another shared secret (secrets differ): it is alive. Making this " +
			"node primary now creates TWO PRIMARIES, which cannot even see each other until the secrets agree. " +
			"Fix the secret on the wrong side instead, or do this only if the primary is being shut down."
	case State(d.State) == StateIncompatible && strings.HasPrefix(d.Reason, reasonProtoPrefix):
		a.Danger = true
		a.Consequence = "THE PRIMARY ANSWERS, in another protocol version: it is alive. Making this node primary now " +
			"creates TWO PRIMARIES, which cannot sync until both run the same redund version. Upgrade (or downgrade) " +
			"one side instead, or do this only if the primary is being shut down."
	case p.Connected && Role(d.PeerRole) == RolePrimary:
		a.Danger = true
		a.Consequence = fmt.Sprintf("THE PRIMARY IS ALIVE: %s answered %s ago. Making this node primary now creates TWO "+
			"PRIMARIES: both accept changes, the pair reports Incompatible and nothing is synced until one is demoted, "+
			"or a resync keeps this node (the newer epoch) and demotes the other, whose changes since are moved to its "+
			".redund/conflicts/. Do this only if the primary is being shut down.",
			d.peerName(), secsString(d.LastContact))
	default:
		a.Consequence = fmt.Sprintf("This node becomes primary with a new epoch (above %d): it stops following, runs "+
			"on_promote and serves its directory as it is now (%s) to secondaries. If the old primary %s comes back, "+
			"both are primary (Incompatible) until a resync demotes the old one, which holds the older epoch.",
			d.Epoch, d.nowState(), d.peerName())
	}
	return a
}

// witnessPromote says what Make primary does with the witness: it asks
// for the lock and promotes only when etcd grants it, so it never makes
// two primaries (Node.promoteWithWitness).
func witnessPromote(d *pageData) string {
	held := "no node is known to hold it"
	if w := d.Witness; w.Holder != "" {
		held = fmt.Sprintf("%s holds it (fence %d)", w.Holder, w.HolderFence)
	}
	return fmt.Sprintf("This node asks etcd for the witness lock (%s) and becomes primary only when etcd grants it: "+
		"with a new epoch (above %d), it stops following, runs on_promote and serves its directory as it is now (%s). "+
		"While another node holds the lock the request is refused after two TTLs (demote that node first); "+
		"a primary that loses the lock stops publishing and steps down, so this never makes two primaries.",
		held, d.Epoch, d.nowState())
}

// nowState is the status with its reason, in a few words.
func (d *pageData) nowState() string {
	if d.Reason == "" {
		return d.State
	}
	return d.State + ": " + d.Reason
}

// LastSync tells when this node's copy was last known to match: Synced
// now, or what the last exchange with the peer was.
func (d *pageData) LastSync() string {
	if State(d.State) == StateSynced {
		return "in sync now (Synced since " + d.Since.Local().Format("2006-01-02 15:04:05") + ")"
	}
	if d.Peer == nil {
		return "nothing to sync: no peer"
	}
	if d.LastContact < 0 {
		return "never: no exchange with the peer yet"
	}
	return "not in sync (" + d.State + " since " + d.Since.Local().Format("15:04:05") +
		"); last exchange with the peer " + secsString(d.LastContact) + " ago"
}

func secsString(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(100 * time.Millisecond).String()
}
