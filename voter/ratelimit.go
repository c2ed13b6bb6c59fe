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

// replyLimiterMax bounds each of the limiter's two tables.
const replyLimiterMax = 4096

// replyLimiter remembers when each source was last answered (g.mu held),
// in two generations: cur since curStart, and prev, the one before. cur
// becomes prev when it is authReplyEvery old or full, and the old prev is
// forgotten; so a source answered at t is remembered until at least
// t+authReplyEvery unless more than replyLimiterMax new sources arrive in
// between (a flood: then some of them are answered early). Every packet
// costs two lookups and one insert; emptying a table is paid for by the
// replyLimiterMax inserts that filled it. (The limiter used to keep one
// table and, once it was full, walk all of it for every packet to find
// the expired entries: a flood of new sources tuned so that about one
// entry expired per packet cost the server some 90 µs per datagram under
// the socket's lock.)
type replyLimiter struct {
	cur, prev map[netip.AddrPort]time.Time
	curStart  time.Time
}

// allow reports whether to may get a reply now, and records it if so.
func (l *replyLimiter) allow(to netip.AddrPort, now time.Time) bool {
	if l.cur == nil {
		l.cur, l.prev = map[netip.AddrPort]time.Time{}, map[netip.AddrPort]time.Time{}
		l.curStart = now
	}
	if age := now.Sub(l.curStart); age >= authReplyEvery || age < 0 || len(l.cur) >= replyLimiterMax {
		l.prev, l.cur = l.cur, l.prev
		clear(l.cur)
		l.curStart = now
	}
	recent := func(m map[netip.AddrPort]time.Time) bool {
		t, ok := m[to]
		return ok && now.Sub(t) < authReplyEvery && now.Sub(t) >= 0
	}
	if recent(l.cur) || recent(l.prev) {
		return false
	}
	l.cur[to] = now
	return true
}
