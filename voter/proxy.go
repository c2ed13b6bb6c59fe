package voter

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// link is a secondary's liveness link to its primary: a separate UDP
// socket that authenticates as the primary's "connectivity" mix client.
//
// Every packet the link sends is an auth probe with a fresh random
// challenge of its own; a packet from the primary counts only when its
// digest is CRC(one of our last two probe challenges + host password).
// The VOTER digest covers nothing but challenge and password, so with one
// fixed challenge (chan_voter's) a reply can be replayed for ever, and the
// primary answers anyone who sends our challenge with exactly that reply.
type link struct {
	in     *instance
	addr   netip.AddrPort // primary's VOTER address
	uaddr  *net.UDPAddr
	pw     []byte // connectivity client's password
	conn   *net.UDPConn
	up     bool
	since  time.Time
	chal   Challenge // primary's challenge, zero until known
	chalOK bool
	resp   uint32 // CRC(primary challenge + connectivity password)
	// probe and prev are our last two probe challenges; want and wantPrev
	// the digests a primary that knows the host password answers them with.
	probe, prev    Challenge
	want, wantPrev uint32
	lastTx         time.Time
	lastRx         time.Time // last verified reply (zero: none)
	answering      time.Time // first verified flag-32 reply of this run (zero: none)
	lastDown       string
	newProbe       func() string // randomChallenge; tests fix it
}

// linkHoldDown is how long the primary must have answered every probe
// before the secondary hands its clients to it again, so a primary that
// comes and goes does not flap the clients between the two servers.
const linkHoldDown = 2 * time.Second

// linkLost is how long without a verified reply makes the link down.
const linkLost = 2 * time.Second

func newLink(in *instance, addr, pw string) *link {
	ap := netip.MustParseAddrPort(addr)
	return &link{in: in, addr: ap, uaddr: net.UDPAddrFromAddrPort(ap), pw: []byte(pw), since: time.Now(),
		lastDown: "not connected yet", newProbe: randomChallenge}
}

func (l *link) listen() error {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return err
	}
	l.conn = c
	return nil
}

func (l *link) close() {
	if l.conn != nil {
		l.conn.Close()
	}
}

func (l *link) readLoop() {
	buf := make([]byte, 2048)
	var h Header
	for {
		n, from, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if DecodeHeader(buf[:n], &h) != nil {
			continue
		}
		g := l.in.g
		g.mu.Lock()
		// The source address proves nothing (a multi-homed or NATed
		// primary answers from another one, and anyone can write it):
		// only the digest for a recent probe counts.
		l.receive(&h, replyFlags(buf[:n]), from, time.Now())
		g.mu.Unlock()
	}
}

// replyFlags is the flags byte of an auth reply (0 when absent).
func replyFlags(b []byte) byte {
	if len(b) > HeaderLen {
		return b[HeaderLen]
	}
	return 0
}

// linkNotAuth is the reason shown while the primary answers the link's
// auth packets without knowing the connectivity client: it replies to an
// unknown digest with its digest for our challenge but flags 0, where a
// known mix-mode client gets flag 32.
const linkNotAuth = "link not authenticated: the primary does not know the connectivity password"

// linkNewChallenge is the reason while the link starts over with a new
// primary challenge.
const linkNewChallenge = "primary challenge changed"

// linkBadDigest is the reason while auth replies from the primary's
// address do not prove the host password: a different [general] password
// there, or a stranger writing with the primary's address.
const linkBadDigest = "replies from the primary's address do not match our host password"

// linkHeld is the reason while the primary answers but has not yet
// answered for linkHoldDown.
const linkHeld = "primary answering; hold-down before proxying again"

// receive handles a packet on the link socket (g.mu held).
func (l *link) receive(h *Header, flags byte, from netip.AddrPort, now time.Time) {
	if h.Digest == 0 || (h.Digest != l.want && h.Digest != l.wantPrev) {
		l.in.g.stats.LinkUnverified++ // not an answer to a recent probe: no state from it
		if !l.up && l.answering.IsZero() && h.Type == TypeAuth && netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) == l.addr {
			l.setUp(false, now, linkBadDigest) // only our own words, for the operator
		}
		return
	}
	if !l.chalOK || h.Challenge != l.chal {
		l.chal, l.chalOK = h.Challenge, true
		l.resp = DigestBytes(l.chal.Bytes(), l.pw)
		l.lose(now, linkNewChallenge)
		return
	}
	if h.Type != TypeAuth && h.Type != TypeGPS {
		return
	}
	if h.Type == TypeAuth && flags&FlagMix == 0 {
		l.lose(now, linkNotAuth)
		return
	}
	l.lastRx = now
	if l.answering.IsZero() {
		l.answering = now
	}
	if now.Sub(l.answering) >= linkHoldDown {
		l.setUp(true, now, "")
	} else {
		l.setUp(false, now, linkHeld)
	}
}

// lose starts the hold-down over and takes the link down.
func (l *link) lose(now time.Time, why string) {
	l.answering = time.Time{}
	l.setUp(false, now, why)
}

func (l *link) setUp(up bool, now time.Time, why string) {
	if l.up == up {
		if !up && why != l.lastDown {
			l.lastDown = why
			lvl := slog.LevelWarn
			if why == linkNewChallenge || why == linkHeld { // first contact, or a restarted primary
				lvl = slog.LevelDebug
			}
			l.in.log.Log(context.Background(), lvl, "proxy link to primary not up", "primary", l.addr.String(), "reason", why)
		}
		return
	}
	l.up, l.since = up, now
	if up {
		l.in.log.Info("proxy link to primary up: forwarding clients", "primary", l.addr.String(),
			"hold_down_s", linkHoldDown.Seconds())
		l.in.unkey()
		return
	}
	l.lastDown = why
	l.in.log.Warn("proxy link to primary down: serving clients", "primary", l.addr.String(), "reason", why)
}

// tick sends probes and detects loss.
func (l *link) tick(now time.Time) {
	if !l.answering.IsZero() && now.Sub(l.lastRx) >= linkLost {
		l.chalOK = false
		l.lose(now, "no verified reply from primary for 2 s")
	}
	if b := l.packet(now); b != nil {
		l.lastTx = now
		_, _ = l.conn.WriteToUDP(b, l.uaddr)
	}
}

// packet is the link's next probe to the primary, nil when none is due:
// a 25-byte auth with flags 32 and a fresh challenge, every 500 ms until
// up, then every second.
func (l *link) packet(now time.Time) []byte {
	every := 500 * time.Millisecond
	if l.up {
		every = time.Second
	}
	if now.Sub(l.lastTx) < every {
		return nil
	}
	g := l.in.g
	l.prev, l.wantPrev = l.probe, l.want
	for l.want == 0 || l.want == l.wantPrev {
		l.probe = MakeChallenge(l.newProbe()) // 8 digits: chan_voter f232116 keeps only 8
		l.want = DigestBytes(l.probe.Bytes(), g.hostPw)
	}
	h := Header{Sec: g.masterSec, Nsec: uint32(g.count), Challenge: l.probe, Digest: l.resp}
	p := Packet{Header: h, Kind: TypeAuth, HasFlags: true, Flags: FlagMix}
	return p.Append(make([]byte, 0, HeaderLen+1))
}

// replyAge is the age of the primary's last verified reply (-1: none).
func (l *link) replyAge(now time.Time) float64 {
	if l.lastRx.IsZero() {
		return -1
	}
	return now.Sub(l.lastRx).Seconds()
}

// forward encapsulates a client's packet to the primary (secondary side).
func (g *group) forward(c *client, p *Packet) {
	l := c.inst.link
	out := *p
	out.Proxied = true
	if c.fwdChal != l.chal || c.fwdDigest == 0 {
		c.fwdChal, c.fwdDigest = l.chal, DigestBytes(l.chal.Bytes(), c.pw)
	}
	out.Digest = c.fwdDigest
	f := c.flags() &^ (FlagSendAlways | FlagMaster | FlagMix)
	out.Proxy = ProxyHeader{Addr: c.addr.Addr().As4(), Port: c.addr.Port(), Flags: f, Challenge: g.chal}
	g.queue(out.Append(g.next()), l.addr)
	g.stats.Forwarded++
}

// handleProxy takes an encapsulated packet: on a primary, from a secondary
// on behalf of a client; on a secondary, from the primary for a client.
func (g *group) handleProxy(c *client, p *Packet, from netip.AddrPort, now time.Time) {
	in := c.inst
	switch {
	case in.cfg.IsPrimary && p.Kind != TypeAuth:
		// A secondary's packets carry the client's digest and time stamp:
		// one of them, replayed from anywhere, must not take the client
		// from where it is (follow).
		moved := !c.proxied || c.addr != from
		if !g.follow(c, p, from, now) {
			return
		}
		g.stats.ProxiedIn++
		if moved {
			g.log.Info("client reached through secondary", "instance", in.name, "client", c.name, "via", from.String())
		}
		c.proxied = true
		c.realAddr = addrFrom4(p.Proxy.Addr, p.Proxy.Port)
		c.savedChal = g.secondaryChallenge(c, p.Proxy.Challenge, from)
		c.mix = p.Proxy.Flags&FlagMix != 0
		c.heard = true
		c.lastHeard, c.lastSeen = now, now
		c.packets++
		g.dispatch(c, p, nil, now)
	case in.link != nil && in.link.up && p.Kind != TypeAuth && c.heard && !c.proxied &&
		addrFrom4(p.Proxy.Addr, p.Proxy.Port) == c.addr:
		// Only while proxying (the link verified), and only to where the
		// client itself sends from: the client's digest is in every
		// packet it sends, so it proves nothing about the sender, and the
		// header's address is the sender's word. A primary answering from
		// another address (multi-homed, NAT) is accepted, as chan_voter
		// does.
		g.relay(c, p)
	default:
		g.stats.BadProxy++
		c.drops++
	}
}

// relay sends the primary's packet on to the client (secondary side),
// with our challenge and the client's digest.
func (g *group) relay(c *client, p *Packet) {
	out := *p
	out.Proxied = false
	out.Challenge = g.chal
	out.Digest = c.respDigest
	g.queue(out.Append(g.next()), c.addr)
	c.lastSent = time.Now()
	g.stats.Relayed++
}

// secondaryChallenge is the secondary's challenge to sign our packets to a
// proxied client with. chan_voter f232116 sends only its first 8
// characters in proxied audio (and all of them in GPS packets), but checks
// our digests against the whole challenge: a strict prefix of the saved
// challenge, or of the challenge the secondary's liveness link uses from
// the same IP, stands for that longer one.
func (g *group) secondaryChallenge(c *client, got Challenge, from netip.AddrPort) Challenge {
	var ch Challenge
	copy(ch[:], got.Bytes()) // bytes after the NUL may be garbage
	if strictPrefix(ch, c.savedChal) {
		return c.savedChal
	}
	for _, l := range g.clients {
		if l.mix && l.heard && !l.proxied && l.addr.Addr() == from.Addr() && strictPrefix(ch, l.respChal) {
			return l.respChal
		}
	}
	return ch
}

// strictPrefix reports whether a is a shorter, nonempty prefix of b.
func strictPrefix(a, b Challenge) bool {
	ab, bb := a.Bytes(), b.Bytes()
	return len(ab) > 0 && len(ab) < len(bb) && string(bb[:len(ab)]) == string(ab)
}
