package voter

import (
	"net/netip"
	"time"
)

// authReplyEvery is the least time between two auth replies to one source
// address for packets the server does not know (digest 0 or unknown).
// Clients retry every 500 ms, so they never notice; a peer that answers
// every reply cannot drive more than a few packets a second.
const authReplyEvery = 200 * time.Millisecond

// replyLimiterMax bounds the table; when it is full, entries older than
// authReplyEvery go, and if that frees nothing the table starts over.
const replyLimiterMax = 4096

// replyLimiter remembers when each source was last answered (g.mu held).
type replyLimiter struct {
	last map[netip.AddrPort]time.Time
}

// allow reports whether to may get a reply now, and records it if so.
func (l *replyLimiter) allow(to netip.AddrPort, now time.Time) bool {
	if l.last == nil {
		l.last = map[netip.AddrPort]time.Time{}
	}
	if t, ok := l.last[to]; ok && now.Sub(t) < authReplyEvery && now.Sub(t) >= 0 {
		return false
	}
	if len(l.last) >= replyLimiterMax {
		for a, t := range l.last {
			if now.Sub(t) >= authReplyEvery {
				delete(l.last, a)
			}
		}
		if len(l.last) >= replyLimiterMax {
			clear(l.last)
		}
	}
	l.last[to] = now
	return true
}
