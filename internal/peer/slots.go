package peer

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/redund/redund/internal/netlimit"
)

// Limits on connections that have not authenticated yet (listener side).
// A stranger who can reach the peer port can hold at most maxPerSource
// handshakes, each for at most firstFrameTimeout unless it sends a valid
// first frame, and reads of at most preAuthMaxFrame bytes per frame; when
// a source or the whole table is full the OLDEST unauthenticated
// handshake is evicted, so a flood delays the real peer by no more than
// the time its own handshake takes. A flood from more sources than the
// table has slots evicts in arrival order, which a peer far enough away
// (a handshake that takes 32 of the flood's connections) loses every
// time. So a handshake is never evicted once its first frame has proved
// the secret (or TLS has verified the pinned certificate), even on a
// listener that has never seen the peer; besides, a source that
// authenticated before (the peer's address, once it has connected) is
// evicted only to make room for itself, and within a full source (an
// IPv6 /64 that the peer shares with its LAN) the peer's own address is
// evicted last.
const (
	// preAuthMaxFrame is the largest frame read before the link is up;
	// Options.MaxFrame applies afterwards.
	preAuthMaxFrame = 64 << 10
	// maxFirstFrame is the largest first frame a listener reads: the
	// dialer's is 78 bytes (protocol 2; 38 in protocol 1), and a later
	// version's must stay below it to be told "another version".
	maxFirstFrame = 1 << 10
	// preAuthBuffer is the size of a connection's read and write buffers
	// until it is up (a stranger's connection costs little); linkBuffer
	// afterwards.
	preAuthBuffer = 4 << 10
	linkBuffer    = 64 << 10
	// firstFrameTimeout bounds the transport (TLS) handshake and the
	// first frame of an incoming connection.
	firstFrameTimeout = time.Second
	// maxHandshakes bounds the incoming connections being set up at once.
	maxHandshakes = 32
	// maxPerSource bounds those from one source (an IPv4 address or an
	// IPv6 /64).
	maxPerSource = 4
	// maxKnown is how many sources that authenticated are remembered.
	maxKnown = 4
)

// slot is one incoming connection being set up.
type slot struct {
	src     string // sourceKey
	addr    string // the IP address alone
	nc      net.Conn
	authed  bool // a credential (pinned certificate, first-frame proof) was verified
	evicted bool // closed to make room; its drop is counted by its owner
}

// slotTable admits incoming connections; every method is safe for
// concurrent use, and no method does I/O.
type slotTable struct {
	mu        sync.Mutex
	live      []*slot // admission order, oldest first
	known     []slot  // sources (src, addr) that authenticated, most recent first
	perSource int
	total     int
}

func newSlotTable() *slotTable {
	return &slotTable{perSource: maxPerSource, total: maxHandshakes}
}

// admit takes a slot for nc. It returns the slot, or nil when nc must be
// refused, and the slot evicted to make room (its connection is for the
// caller to close).
func (t *slotTable) admit(nc net.Conn) (s, victim *slot) {
	src := sourceKey(nc.RemoteAddr())
	t.mu.Lock()
	defer t.mu.Unlock()
	view := make([]slotView, len(t.live))
	for i, l := range t.live {
		view[i] = t.view(l)
	}
	switch v := pickVictim(view, src, t.perSource, t.total); {
	case v == refuseNew:
		return nil, nil
	case v >= 0:
		victim = t.live[v]
		victim.evicted = true
		t.live = append(t.live[:v:v], t.live[v+1:]...)
	}
	s = &slot{src: src, addr: addrOnly(nc.RemoteAddr()), nc: nc}
	t.live = append(t.live, s)
	return s, victim
}

// verified marks s as holding a connection whose first frame proved the
// secret: from then on it is never evicted, whatever arrives (it keeps
// the slot it took when it was accepted). Its source is remembered only
// once the whole handshake has authenticated it (authenticated).
func (t *slotTable) verified(s *slot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.authed = true
}

// authenticated marks s as holding a verified peer: it is never evicted,
// and its source is remembered as the peer's.
func (t *slotTable) authenticated(s *slot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.authed = true
	t.known = slices.DeleteFunc(t.known, func(k slot) bool { return k.addr == s.addr })
	t.known = slices.Insert(t.known, 0, slot{src: s.src, addr: s.addr})
	if len(t.known) > maxKnown {
		t.known = t.known[:maxKnown]
	}
}

// release frees s (a no-op when it was already freed or evicted).
func (t *slotTable) release(s *slot) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i, l := range t.live {
		if l == s {
			t.live = append(t.live[:i:i], t.live[i+1:]...)
			return
		}
	}
}

// wasEvicted reports whether s was closed to make room for a newer one.
func (t *slotTable) wasEvicted(s *slot) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return s.evicted
}

type slotView struct {
	src       string
	authed    bool
	known     bool // src authenticated before (see slotTable.known)
	knownAddr bool // and from this very address
}

// view is what pickVictim needs to know of l (t.mu held).
func (t *slotTable) view(l *slot) slotView {
	v := slotView{src: l.src, authed: l.authed}
	for _, k := range t.known {
		v.known = v.known || k.src == l.src
		v.knownAddr = v.knownAddr || k.addr == l.addr
	}
	return v
}

// Results of pickVictim other than an index.
const (
	fitsNew   = -1 // room for the new connection
	refuseNew = -2 // no room and nothing may be evicted
)

// pickVictim decides how a connection from src gets a slot among live
// (oldest first): fitsNew, the index of the handshake to evict, or
// refuseNew. A source at its cap loses its own oldest unauthenticated
// handshake, one from the address of a known peer last; a full table loses the oldest unauthenticated handshake of
// the source holding the most of them, so a flood evicts its own
// connections before the real peer's single one. A full table spares the
// handshakes of known sources while there is another to evict.
func pickVictim(live []slotView, src string, perSource, total int) int {
	same := 0
	for _, l := range live {
		if l.src == src {
			same++
		}
	}
	switch {
	case same >= perSource:
		if v := oldest(live, func(l slotView) bool { return l.src == src && !l.knownAddr }); v != refuseNew {
			return v
		}
		return oldest(live, func(l slotView) bool { return l.src == src })
	case len(live) < total:
		return fitsNew
	}
	if v := busiest(live, func(l slotView) bool { return !l.known }); v != refuseNew {
		return v
	}
	return busiest(live, func(slotView) bool { return true })
}

// busiest is the oldest unauthenticated handshake, among those eligible,
// of the source holding the most of them (refuseNew when there is none).
func busiest(live []slotView, eligible func(slotView) bool) int {
	counts := map[string]int{}
	most := 0
	for _, l := range live {
		if !l.authed && eligible(l) {
			counts[l.src]++
			most = max(most, counts[l.src])
		}
	}
	return oldest(live, func(l slotView) bool { return eligible(l) && counts[l.src] == most })
}

// oldest is the first unauthenticated handshake that match accepts.
func oldest(live []slotView, match func(slotView) bool) int {
	for i, l := range live {
		if !l.authed && match(l) {
			return i
		}
	}
	return refuseNew
}

// addrOnly is the IP address of a (TCP) address, without port or zone.
func addrOnly(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return ip.Unmap().WithZone("").String()
		}
	}
	return a.String()
}

// sourceKey names the source a per-source cap applies to: the IPv4
// address, or the /64 of an IPv6 address, as every listener's caps count
// them (netlimit.Source).
func sourceKey(a net.Addr) string { return netlimit.Source(a).String() }
