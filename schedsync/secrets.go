package schedsync

import "time"

// reasonSecretsDiffer is the status reason (on both nodes) while the other
// node answers but authentication with the shared secret fails. It does
// not guess which side is wrong.
const reasonSecretsDiffer = "secrets differ"

// secretsDifferError is an answer that names this node's protocol but
// carries no valid proof for this node's secret: the primary's fixed 401
// refusal of this node's MAC, or an answer whose proof does not verify.
// The other node is alive (see failoverRule) and the secrets differ,
// unless an exchange authenticated recently (then the answer was changed
// on the way: see notePeerError). err is the signer's fixed text; nothing
// of the answer is used.
type secretsDifferError struct{ err error }

func (e *secretsDifferError) Error() string { return "schedsync: " + e.err.Error() }
func (e *secretsDifferError) Unwrap() error { return e.err }

// mismatchLocked reports whether the other node answered with secrets
// differing within peer_timeout (n.mu held).
func (n *Node) mismatchLocked() bool {
	return !n.peer.mismatchAt.IsZero() && time.Since(n.peer.mismatchAt) <= n.peerTimeout()
}

// noteMismatchLocked records an answer with secrets differing (n.mu held);
// it returns whether to log it (at most once per failLogEvery) and how
// many were not logged since.
func (n *Node) noteMismatchLocked(now time.Time) (bool, int) {
	p := &n.peer
	p.mismatchAt = now
	if !p.mismatchLogged.IsZero() && now.Sub(p.mismatchLogged) < failLogEvery {
		p.mismatchUnlogged++
		return false, 0
	}
	k := p.mismatchUnlogged
	p.mismatchLogged, p.mismatchUnlogged = now, 0
	return true, k
}

// logMismatch says that the other node answers but the secrets differ.
func (n *Node) logMismatch(repeated int) {
	what := "this node cannot tell which side is wrong"
	if n.cfg.Mode == ModeSecondaryFailover && n.wit == nil {
		what += "; it does not take over while the primary answers"
	}
	n.log.Warn("the other node answers, but authentication with the shared secret fails: "+reasonSecretsDiffer,
		"peer", n.cfg.Peer, "note", what, "repeated_since_last_log", repeated)
}
