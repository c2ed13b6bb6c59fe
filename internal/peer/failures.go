package peer

import (
	"errors"
	"net"
	"strings"
	"time"
)

// logEvery is how often a repeated warning (a dropped connection, a
// mismatch) is logged at most; the lines in between are counted.
const logEvery = time.Minute

// drop counts an incoming connection that ended without changing the
// link's state, and logs it (at most once per logEvery). why is this
// node's own words, never text from the other end.
func (n *Node) drop(from net.Addr, why string) {
	n.mu.Lock()
	n.st.Dropped++
	total := n.st.Dropped
	n.mu.Unlock()
	if ok, held := n.dropLog.Allow(time.Now()); ok {
		n.log.Warn("dropped a connection on the peer port", "from", from.String(), "reason", why,
			"dropped_total", total, "not_logged_since_last", held)
	}
}

// mismatch reports that the other end answers as a redund node with a
// different secret, certificate, clock or protocol version: a Mismatch
// event on every answer (a sign of life), a log line at most once per
// logEvery.
func (n *Node) mismatch(why string, from net.Addr) {
	now := time.Now()
	if ok, held := n.mismatchLog.Allow(now); ok {
		n.log.Warn(mismatchLogLine(why), "peer", from.String(), "not_logged_since_last", held)
	}
	n.emit(Event{State: Mismatch, Reason: why, Time: now, LastHeard: now})
}

// mismatchLogLine is the warning for a Mismatch with reason why.
func mismatchLogLine(why string) string {
	fix := ""
	switch why {
	case reasonSecrets:
		fix = "set the same secret on both nodes"
	case reasonCerts:
		fix = "check tls_peer_fingerprint against the other node's certificate, on both nodes"
	case reasonClock:
		return "peer link: " + why + ": the other node answers but refuses our clock; synchronise both nodes' clocks (NTP)"
	default:
		return "peer link: " + why
	}
	return "peer link: " + why + ": the other node answers but the credentials do not match; " + fix
}

// acceptFailed handles a failed incoming handshake. Before the other end
// authenticated, nothing it did reaches the state, events or hooks: the
// connection is a counted drop. The exception is a TLS-pinned peer (so
// the real one) whose secret differs: Mismatch. After authentication a
// failure is reported as usual, unless the link is up with the peer.
func (n *Node) acceptFailed(sl *slot, s *shake, err error) {
	from := sl.nc.RemoteAddr()
	var mm *mismatchError
	switch {
	case n.slots.wasEvicted(sl):
		n.drop(from, "evicted: the oldest unauthenticated handshake made room for a newer connection")
	case s != nil && s.pinned && errors.As(err, &mm) && n.current() == nil:
		n.mismatch(mm.why, from)
	case s == nil || !s.trusted:
		n.drop(from, preAuthReason(err))
	case n.current() != nil:
		n.drop(from, "refused while the link is up: "+err.Error())
	default:
		n.reportFailure(err, from)
	}
}

// preAuthReason describes a failure before authentication in this node's
// words.
func preAuthReason(err error) string {
	var mm *mismatchError
	switch {
	case errors.Is(err, ErrFrameTooLarge):
		return "frame too large before authentication"
	case errors.As(err, &mm) && mm.why == reasonSecrets:
		return "credentials differ (a node with another secret, or not a redund node)"
	case errors.As(err, &mm):
		return mm.Error()
	case errors.Is(err, ErrAuth):
		return err.Error()
	case errors.Is(err, errUntrustedRefuse):
		return errUntrustedRefuse.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "no valid frame before the handshake deadline"
	}
	return err.Error()
}

// dialFailed handles a failed outgoing handshake: Mismatch when a redund
// node with another secret or certificate answered (it then returns
// true), otherwise Refused when the authenticated peer refused, Down when
// anything else went wrong (no text from an unauthenticated other end).
func (n *Node) dialFailed(err error, from net.Addr) bool {
	var mm *mismatchError
	switch {
	case errors.Is(err, ErrAuth) || certRejected(err):
		n.mismatch(reasonCerts, from)
	case errors.As(err, &mm):
		n.mismatch(mm.why, from)
	default:
		n.reportFailure(err, from)
		return false
	}
	return true
}

// certRejected reports the TLS alert a listener sends when our
// certificate does not match its pin (TLS 1.3: it arrives on the first
// read after our side of the handshake).
func certRejected(err error) bool {
	s := err.Error()
	return strings.Contains(s, "remote error: tls: bad certificate") ||
		strings.Contains(s, "remote error: tls: certificate required") ||
		strings.Contains(s, "remote error: tls: unknown certificate")
}

// reportFailure reports a handshake failure with an authenticated peer.
func (n *Node) reportFailure(err error, from net.Addr) {
	var ref *RefusedError
	if errors.As(err, &ref) {
		// a refused peer redials every backoff: one line per reason and logEvery
		if ok, held := n.refusedLog.AllowKey(time.Now(), ref.Reason); ok {
			n.log.Warn("peer link refused", "peer", from.String(), "reason", ref.Reason, "by_peer", ref.ByPeer,
				"not_logged_since_last", held)
		}
		ev := Event{State: Refused, Reason: ref.Reason, Time: time.Now()}
		if ref.Remote != nil {
			ev.Remote = *ref.Remote
		}
		n.emit(ev)
		return
	}
	n.emit(Event{State: Down, Reason: "handshake: " + err.Error()})
}
