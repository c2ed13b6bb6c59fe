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
type link struct {
	in       *instance
	addr     netip.AddrPort // primary's VOTER address
	uaddr    *net.UDPAddr
	pw       []byte // connectivity client's password
	conn     *net.UDPConn
	up       bool
	since    time.Time
	chal     Challenge // primary's challenge, zero until known
	chalOK   bool
	resp     uint32 // CRC(primary challenge + connectivity password)
	lastTx   time.Time
	lastRx   time.Time
	lastDown string
}

func newLink(in *instance, addr, pw string) *link {
	ap := netip.MustParseAddrPort(addr)
	return &link{in: in, addr: ap, uaddr: net.UDPAddrFromAddrPort(ap), pw: []byte(pw), since: time.Now(),
		lastDown: "not connected yet"}
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
		// A multi-homed or NATed primary may answer from another address:
		// from there, only a reply with our digest counts.
		if netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) == l.addr || h.Digest == g.ownDigest {
			l.receive(&h, replyFlags(buf[:n]), time.Now())
		}
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

// receive handles a packet from the primary on the link socket.
func (l *link) receive(h *Header, flags byte, now time.Time) {
	g := l.in.g
	if !l.chalOK || h.Challenge != l.chal {
		l.chal, l.chalOK = h.Challenge, true
		l.resp = DigestBytes(l.chal.Bytes(), l.pw)
		l.setUp(false, now, linkNewChallenge)
		return
	}
	if h.Type != TypeAuth && h.Type != TypeGPS {
		return
	}
	switch {
	case h.Digest != g.ownDigest:
		l.setUp(false, now, "primary's digest does not match our password")
	case h.Type == TypeAuth && flags&FlagMix == 0:
		l.setUp(false, now, linkNotAuth)
	default:
		l.lastRx = now
		l.setUp(true, now, "")
	}
}

func (l *link) setUp(up bool, now time.Time, why string) {
	if l.up == up {
		if !up && why != l.lastDown {
			l.lastDown = why
			lvl := slog.LevelWarn
			if why == linkNewChallenge { // first contact, or a restarted primary
				lvl = slog.LevelDebug
			}
			l.in.log.Log(context.Background(), lvl, "proxy link to primary not up", "primary", l.addr.String(), "reason", why)
		}
		return
	}
	l.up, l.since = up, now
	if up {
		l.in.log.Info("proxy link to primary up: forwarding clients", "primary", l.addr.String())
		l.in.unkey()
		return
	}
	l.lastDown = why
	l.in.log.Warn("proxy link to primary down: serving clients", "primary", l.addr.String(), "reason", why)
}

// tick sends auth (until up) or keepalives, and detects loss.
func (l *link) tick(now time.Time) {
	if l.up && now.Sub(l.lastRx) >= 2*time.Second {
		l.chalOK = false
		l.setUp(false, now, "no reply from primary for 2 s")
	}
	if b := l.packet(now); b != nil {
		l.lastTx = now
		_, _ = l.conn.WriteToUDP(b, l.uaddr)
	}
}

// packet is the link's next packet to the primary, nil when none is due:
// a 25-byte auth with flags 32 every 500 ms until up, then a 24-byte
// keepalive every second.
func (l *link) packet(now time.Time) []byte {
	g := l.in.g
	h := Header{Sec: g.masterSec, Nsec: uint32(g.count), Challenge: g.chal, Digest: l.resp}
	switch {
	case !l.up && now.Sub(l.lastTx) >= 500*time.Millisecond:
		p := Packet{Header: h, Kind: TypeAuth, HasFlags: true, Flags: FlagMix}
		return p.Append(make([]byte, 0, HeaderLen+1))
	case l.up && now.Sub(l.lastTx) >= time.Second:
		p := Packet{Header: h, Kind: TypeGPS}
		return p.Append(make([]byte, 0, HeaderLen))
	}
	return nil
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
		g.stats.ProxiedIn++
		if !c.proxied || c.addr != from {
			g.log.Info("client reached through secondary", "instance", in.name, "client", c.name, "via", from.String())
		}
		c.setAddr(from)
		c.proxied = true
		c.realAddr = addrFrom4(p.Proxy.Addr, p.Proxy.Port)
		c.savedChal = g.secondaryChallenge(c, p.Proxy.Challenge, from)
		c.mix = p.Proxy.Flags&FlagMix != 0
		c.heard = true
		c.lastHeard = now
		c.packets++
		g.dispatch(c, p, nil, now)
	case in.link != nil && (from == in.link.addr || in.link.up) && p.Kind != TypeAuth:
		// The digest proves the sender knows the client's password, so
		// while the link is up a primary answering from another address
		// (multi-homed, NAT) is accepted, as chan_voter does.
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
	g.queue(out.Append(g.next()), addrFrom4(p.Proxy.Addr, p.Proxy.Port))
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
