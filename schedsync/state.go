package schedsync

import (
	"time"
)

// State is a node's sync status; its text ("Not synced") is what the
// status, the page, the metrics and the peer carry.
type State string

// The statuses, exactly as LTN Schedule shows them.
const (
	StateNoRedundancy State = "No redundancy" // primary without a configured secondary
	StateConnecting   State = "Connecting"    // connecting and doing the first sync
	StateSyncing      State = "Syncing"       // changes are being transferred
	StateSynced       State = "Synced"        // the secondary holds the primary's tree
	StateNotSynced    State = "Not synced"    // local edits or errors on the secondary: resync
	StateUnavailable  State = "Unavailable"   // the peer is gone: promote (Make primary)
	StateIncompatible State = "Incompatible"  // same mode on both ends, or different versions
)

// String returns the status as Schedule shows it.
func (s State) String() string { return string(s) }

// States lists every status (for metrics and docs).
var States = []State{StateNoRedundancy, StateConnecting, StateSyncing, StateSynced,
	StateNotSynced, StateUnavailable, StateIncompatible}

// syncState is a status with its reason and since-when.
type syncState struct {
	Name   State
	Reason string
	Since  time.Time
}

// peerView is what this node knows about the other one.
type peerView struct {
	info      nodeInfo  // from the last successful exchange
	seen      bool      // ever exchanged since start
	last      time.Time // last authenticated exchange (either direction)
	upSince   time.Time // start of the current run of successful exchanges
	refused   string    // compat reason, when incompatible
	lastErr   string    // last error talking to it
	connected bool
	// mismatchAt is the last answer that showed the peer alive but
	// unusable (aliveReason: secrets differ, another protocol), mismatchWhy
	// why (both zero after an authenticated exchange); Node.mismatchLog
	// says when it is logged.
	mismatchAt  time.Time
	mismatchWhy string
}

// setState changes the status (n.mu held); since moves only when the name
// changes.
func (n *Node) setStateLocked(name State, reason string) {
	if n.st.Name != name {
		if n.st.Name != "" {
			n.log.Info("status changed", "from", n.st.Name, "to", name, "reason", reason)
		}
		n.st = syncState{Name: name, Reason: reason, Since: time.Now()}
		n.metrics.setState(name)
		return
	}
	n.st.Reason = reason
}

func (n *Node) setState(name State, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.setStateLocked(name, reason)
}

// notePeer records an authenticated exchange with the peer.
func (n *Node) notePeer(info nodeInfo, refused string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	if !n.peer.connected {
		n.peer.upSince = now
	}
	n.peer.info, n.peer.seen, n.peer.last, n.peer.connected = info, true, now, true
	n.peer.refused, n.peer.lastErr, n.peer.mismatchAt, n.peer.mismatchWhy = refused, "", time.Time{}, ""
	n.metrics.peerConnected.Set(1)
	if info.Epoch > n.peerEpochMax {
		n.peerEpochMax = info.Epoch
	}
}

// refusedReason is why the pair is refused, in this node's words: a 409
// carries the reason as the peer sees it ("epoch 1 here" meant the peer's
// epoch), so it is worked out again from this node's side. Refusals that
// are not about the pair ("this node is not primary") keep the peer's
// words, marked as the peer's.
func (n *Node) refusedReason(re *refusedError) string {
	if re.peer.Node == "" { // no usable node info in the answer
		return "peer: " + re.reason
	}
	if r := compat(n.info(), re.peer); r != "" {
		return r
	}
	return "peer: " + re.reason
}

// notePeerError records a failed exchange; the peer counts as gone once
// nothing succeeded for peer_timeout. An answer that shows the peer alive
// but unusable (aliveReason: secrets differ, another protocol version) is
// recorded and logged at most once a minute, unless an exchange
// authenticated within peer_timeout (then the answer was changed on the
// way); alive is its reason ("" for any other failure).
func (n *Node) notePeerError(err error) (alive string) {
	n.mu.Lock()
	n.peer.lastErr = shortErr(err)
	recent := n.peer.seen && time.Since(n.peer.last) <= n.peerTimeout()
	if n.peer.connected && !recent {
		n.peer.connected = false
		n.peer.upSince = time.Now()
		n.metrics.peerConnected.Set(0)
	}
	var logIt bool
	var repeated int
	if why := aliveReason(err); why != "" && !recent {
		alive, n.peer.lastErr = why, why
		logIt, repeated = n.noteMismatchLocked(time.Now(), why)
	}
	n.mu.Unlock()
	if logIt {
		n.logMismatch(alive, repeated)
	}
	return alive
}

// primaryState derives a primary's status from what it knows of its
// secondary (n.mu held).
func (n *Node) primaryStateLocked() (State, string) {
	p := n.peer
	switch {
	case !n.mayPublish():
		return StateNotSynced, errNotPublishing
	case n.cfg.Peer == "":
		return StateNoRedundancy, "no peer configured"
	case p.refused != "" && p.connected:
		return StateIncompatible, p.refused
	case !p.connected && n.mismatchLocked():
		return StateIncompatible, p.mismatchWhy
	case !p.seen:
		return StateConnecting, orDefault(p.lastErr, "waiting for the secondary")
	case !p.connected:
		return StateUnavailable, "secondary unreachable: " + orDefault(p.lastErr, "no contact")
	}
	id, seq := n.clogCurrentLocked()
	switch p.info.State {
	case StateSynced:
		// a position counts only in this node's current change log: the
		// numbers of another one (before a restart or a rescan) say nothing
		switch {
		case id == "":
			return StateSyncing, "scanning the directory"
		case p.info.LogID != id:
			return StateSyncing, "the secondary has not compared with this node's current change log yet"
		case p.info.Seq >= seq:
			return StateSynced, ""
		}
		return StateSyncing, "secondary is catching up"
	case StateNotSynced:
		return StateNotSynced, "secondary: " + p.info.Reason
	case StateIncompatible:
		return StateIncompatible, "secondary: " + p.info.Reason
	}
	if p.info.Progress != nil {
		return StateSyncing, "secondary: " + p.info.Progress.String()
	}
	return StateSyncing, "secondary is " + p.info.State.String()
}

func (n *Node) clogCurrentLocked() (string, uint64) {
	if n.clog == nil {
		return "", 0
	}
	return n.clog.current()
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
