package voter

import (
	"net/netip"
	"time"

	redundtext "github.com/redund/redund/internal/text"
)

// handle processes one received datagram (g.mu held).
func (g *group) handle(b []byte, from netip.AddrPort, now time.Time) {
	g.stats.Received++
	p := &g.pkt
	if err := Decode(b, p); err != nil {
		g.countBad(err)
		return
	}
	if p.Digest == 0 {
		g.stats.Unauthenticated++
		g.replyAuth(p, from, now)
		return
	}
	c := g.byDigest[p.Digest]
	if c == nil {
		g.stats.UnknownDigest++
		g.replyUnknown(p, from, now)
		return
	}
	if p.Proxied {
		g.handleProxy(c, p, from, now)
		return
	}
	if !g.follow(c, p, from, now) {
		return
	}
	c.proxied = false
	c.lastHeard, c.lastSeen = now, now
	if p.Challenge != c.respChal || c.respDigest == 0 {
		c.respChal = p.Challenge
		c.respDigest = DigestBytes(p.Challenge.Bytes(), g.hostPw)
	}
	c.packets++
	g.dispatch(c, p, b, now)
}

// dispatch handles a packet of a known client by its (inner) type.
func (g *group) dispatch(c *client, p *Packet, raw []byte, now time.Time) {
	switch p.Kind {
	case TypeAuth:
		g.handleAuth(c, p, now)
	case TypeULaw, TypeADPCM:
		c.heard = true
		g.handleAudio(c, p, raw, now)
	case TypeGPS:
		c.heard = true
		g.handleGPS(c, p, now)
	case TypePing:
		c.heard = true
		g.pingReply(c, p.Ping, g.arrival(now)) // the round trip without the reader's delay
	default: // "nulaw" audio (type 4) is forwarded by a secondary, not decoded
		c.heard = true
		if c.inst.proxying() && !c.mix && !c.cfg.Master {
			g.forward(c, p)
			return
		}
		g.stats.Unsupported++
		c.drops++
	}
}

func (g *group) countBad(err error) {
	switch err {
	case ErrShort:
		g.stats.BadShort++
	case ErrTooLarge:
		g.stats.BadLarge++
	case ErrType:
		g.stats.BadType++
	default:
		g.stats.BadSize++
	}
}

// connectLogEvery is the least time between two "client connected" lines
// for one client. A session can be made to end and start again per packet
// (an auth request the server refuses, then one it accepts; the flags
// byte is not covered by the digest), so the line is bounded, and the
// next one counts the sessions it did not log.
const connectLogEvery = 10 * time.Second

// logConnected logs a new session of c, at most once per connectLogEvery.
func (g *group) logConnected(c *client, now time.Time) {
	if since := now.Sub(c.connectLog); !c.connectLog.IsZero() && since >= 0 && since < connectLogEvery {
		c.connectsUnlogged++
		return
	}
	args := []any{"instance", c.inst.name, "client", c.name, "addr", c.addr.String(), "mix", c.mix}
	if c.connectsUnlogged > 0 {
		args = append(args, "sessions_unlogged", c.connectsUnlogged)
	}
	g.log.Info("client connected", args...)
	c.connectLog, c.connectsUnlogged = now, 0
}

// mixRefusedLogEvery is the least time between two log lines about one
// master timing source asking for mix mode.
const mixRefusedLogEvery = time.Minute

// timingLogEvery bounds the lines of the master timing source coming and
// going (see group.lostLog).
const timingLogEvery = 10 * time.Second

// handleAuth answers a payload-0 packet of a known client.
func (g *group) handleAuth(c *client, p *Packet, now time.Time) {
	c.rxseq, c.txseq, c.txseqKeyed = 0, 0, 0
	c.mix = false
	if p.HasFlags {
		if c.cfg.Master {
			// A board whose PPS setting disagrees with `master` asks
			// every 500 ms, and the flags byte is not covered by the
			// digest: once a minute is enough to tell the operator.
			g.stats.AuthRejected++
			if c.mixRefusedLog.IsZero() || now.Sub(c.mixRefusedLog) >= mixRefusedLogEvery || now.Before(c.mixRefusedLog) {
				g.log.Warn("master timing source asked for mix mode; not answered (the board's PPS setting and master disagree)",
					"instance", c.inst.name, "client", c.name)
				c.mixRefusedLog = now
			}
			c.disconnect()
			return
		}
		c.mix = p.Flags&FlagMix != 0
	}
	if !c.mix && !g.hasMaster() {
		g.stats.AuthRejected++
		c.heard, c.respDigest = false, 0
		g.sendAuth(0, 0, c.addr, now)
		return
	}
	if !c.heard {
		g.logConnected(c, now)
	}
	c.heard = true
	g.sendAuth(c.respDigest, c.flags(), c.addr, now)
}

// replyUnknown answers a packet with a digest no client has, unless it
// comes from another server: a proxy packet (clients never send type
// 0xF000) or another server's auth reply to us (its digest is
// CRC(our challenge + the shared host password)). Answering those makes
// two servers answer each other forever.
func (g *group) replyUnknown(p *Packet, from netip.AddrPort, now time.Time) {
	if p.Proxied || p.Digest == g.ownDigest {
		g.stats.PeerUnanswered++
		return
	}
	g.replyAuth(p, from, now)
}

// replyAuth answers a packet nobody consumed: our challenge, our digest
// for its challenge, flags 0; at most one per source per authReplyEvery.
func (g *group) replyAuth(p *Packet, to netip.AddrPort, now time.Time) {
	if !g.replies.allow(to, now) {
		g.stats.AuthLimited++
		return
	}
	g.stats.AuthReplies++
	d := DigestBytes(p.Challenge.Bytes(), g.hostPw)
	g.sendAuth(d, 0, to, now)
}

func (g *group) sendAuth(digest uint32, flags byte, to netip.AddrPort, now time.Time) {
	out := Packet{Header: Header{Sec: uint32(now.Unix()), Nsec: uint32(now.Nanosecond() / 1000 * 1000),
		Challenge: g.chal, Digest: digest}, Kind: TypeAuth, HasFlags: true, Flags: flags}
	g.queue(out.Append(g.next()), to)
}

// handleAudio places (or forwards) one µ-law frame.
func (g *group) handleAudio(c *client, p *Packet, raw []byte, now time.Time) {
	in := c.inst
	if in.proxying() && !c.mix && !c.cfg.Master {
		g.forward(c, p)
		return
	}
	if c.cfg.Master && g.currentMaster(c, now) {
		if g.masterSec == 0 {
			for _, x := range g.insts {
				x.txq = x.txq[:0]
			}
			g.timingSince = now
		}
		g.lastMaster = g.count
		g.masterSec, g.masterNsec = p.Sec, p.Nsec
		g.placeTimed(c, p, true)
		g.cycle(now)
		return
	}
	if c.mix {
		if p.Kind == TypeADPCM { // mix-mode ADPCM: not supported
			g.stats.Unsupported++
			c.drops++
			return
		}
		g.placeMix(c, p)
		return
	}
	if !g.hasMaster() {
		g.stats.NoTiming++ // GPS-timed audio needs a master timing source
		c.drops++
		return
	}
	if g.masterSec == 0 {
		c.drops++
		return
	}
	g.placeTimed(c, p, false)
}

// currentMaster reports whether c is the master timing source: as in
// chan_voter, the first configured master heard within 100 ms (so the
// first one takes over again as soon as it is back).
func (g *group) currentMaster(c *client, now time.Time) bool {
	cur := c
	for _, m := range g.masters {
		if m.heard && !m.lastHeard.IsZero() && now.Sub(m.lastHeard) <= 100*time.Millisecond {
			cur = m
			break
		}
	}
	if cur != c {
		return false
	}
	if g.master != c {
		if ok, held := g.gainLog.AllowKey(now, c.name); ok {
			g.log.Info("master timing source", "client", c.name, "repeated_since_last_log", held)
		}
	}
	g.master = c
	return true
}

func (g *group) handleGPS(c *client, p *Packet, now time.Time) {
	if c.inst.proxying() && !c.mix && !c.cfg.Master {
		g.forward(c, p)
		return
	}
	g.noteGPS(c, p)
	if p.GPS != nil {
		c.gps, c.gpsAt = gpsString(p.GPS), now
		g.queueGPSFile(c, p.GPS, now)
	}
}

// gpsString renders lat[9] lon[10] elev[7] as "lat lon elevM". The bytes
// are the client's: control and bidirectional-text characters are removed
// (text.Clean), since the position is shown on the page, in the status
// and in the GPS file (where a line break would add a line).
func gpsString(b []byte) string {
	field := func(f []byte) string {
		for i, x := range f {
			if x == 0 {
				return string(f[:i])
			}
		}
		return string(f)
	}
	if len(b) < 19 {
		return ""
	}
	return redundtext.Clean(field(b[0:9]) + " " + field(b[9:19]) + " " + field(b[19:]) + "M")
}
