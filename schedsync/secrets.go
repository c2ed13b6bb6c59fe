package schedsync

import (
	"errors"
	"fmt"
	"time"

	"github.com/redund/redund/internal/peer"
)

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

// aliveReason says why err, a failed exchange, still shows the other node
// alive, or "" when it does not: an answer that names this node's protocol
// but fails authentication (secrets differ), or one that names another
// protocol version (a node of another redund version refusing this node's
// requests, see refusalText). Either way a node answered: it is not
// unreachable, and the pair cannot work (Incompatible, no failover).
func aliveReason(err error) string {
	var sd *secretsDifferError
	var pe *peer.ProtoError
	switch {
	case errors.As(err, &sd):
		return reasonSecretsDiffer
	case errors.As(err, &pe):
		return reasonProtoPrefix + fmt.Sprintf("this node speaks schedsync protocol %d, the other node %s: "+
			"run the same redund version on both nodes", ProtocolVersion, protoWords(pe.Remote))
	}
	return ""
}

// reasonProtoPrefix starts every reason about protocol versions (compat's
// and aliveReason's).
const reasonProtoPrefix = "different protocol versions: "

// mismatchLocked reports whether the other node answered without
// authenticating (aliveReason) within peer_timeout (n.mu held).
func (n *Node) mismatchLocked() bool {
	return !n.peer.mismatchAt.IsZero() && time.Since(n.peer.mismatchAt) <= n.peerTimeout()
}

// noteMismatchLocked records an answer that shows the other node alive
// but unusable, for why (n.mu held); it returns whether to log it (at most
// once per failLogEvery, and at once for another why) and how many were
// not logged since.
func (n *Node) noteMismatchLocked(now time.Time, why string) (bool, int) {
	n.peer.mismatchAt, n.peer.mismatchWhy = now, why
	return n.mismatchLog.AllowKey(now, why)
}

// logMismatch says that the other node answers but cannot be worked with.
func (n *Node) logMismatch(why string, repeated int) {
	what, msg := "this node cannot tell which side is wrong", "the other node answers, but it speaks another protocol version"
	if why == reasonSecretsDiffer {
		msg = "the other node answers, but authentication with the shared secret fails: " + reasonSecretsDiffer
	} else {
		what = why
	}
	if n.cfg.Mode == ModeSecondaryFailover && n.wit == nil {
		what += "; it does not take over while the primary answers"
	}
	n.log.Warn(msg, "peer", n.cfg.Peer, "note", what, "repeated_since_last_log", repeated)
}
