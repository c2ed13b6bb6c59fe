package schedsync

import "time"

// The failover rule without the witness (docs/schedsync.md, "Failover and
// two primaries"): a secondary-failover node promotes itself once its
// primary has not answered at all for failover_offset. An authenticated
// exchange is an answer, and so is an answer that names this node's
// protocol but fails authentication (the primary's fixed 401 refusal of
// this node's MAC, or an answer whose proof does not verify with this
// node's secret), and so is an answer naming another protocol version (a
// node of another redund version refusing this node's requests): a node
// that answers is alive, and promoting would make two primaries; the
// secrets differ (which side is wrong cannot be told), or the versions do.
// With witness = true the witness rule (witness_rules.go) decides instead.

// failoverFacts is what the failover rule looks at.
type failoverFacts struct {
	Mode     Mode          // the configured mode
	Witness  bool          // witness = true: the witness rule decides
	Unheard  time.Duration // since the last authenticated exchange with the primary (since the start when none)
	Mismatch bool          // the primary answered unusably (secrets differ, another protocol) since the last authenticated exchange
	// SinceMismatch is the time since the last such answer (with Mismatch).
	SinceMismatch time.Duration
	Offset        time.Duration // failover_offset
}

// silent is how long the primary has not answered at all.
func (f failoverFacts) silent() time.Duration {
	if f.Mismatch && f.SinceMismatch < f.Unheard {
		return f.SinceMismatch
	}
	return f.Unheard
}

// failoverRule reports whether the node promotes itself now.
func failoverRule(f failoverFacts) bool {
	return f.Mode == ModeSecondaryFailover && !f.Witness && f.silent() >= f.Offset
}

// failoverFactsLocked gathers the facts (n.mu held).
func (n *Node) failoverFactsLocked() failoverFacts {
	last := n.peer.last
	if !n.peer.seen {
		last = n.started
	}
	f := failoverFacts{Mode: n.cfg.Mode, Witness: n.wit != nil, Unheard: time.Since(last),
		Offset: n.set().FailoverOffset.D()}
	if !n.peer.mismatchAt.IsZero() {
		f.Mismatch, f.SinceMismatch = true, time.Since(n.peer.mismatchAt)
	}
	return f
}
