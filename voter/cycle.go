package voter

import (
	"net/netip"
	"time"
)

var silence = func() []byte {
	b := make([]byte, FrameLen)
	for i := range b {
		b[i] = 0xff
	}
	return b
}()

// placeTimed puts a GPS-timed frame into the client's buffer relative to
// the master's time (chan_voter's index arithmetic, in samples).
func (g *group) placeTimed(c *client, p *Packet, isMaster bool) {
	buflen := len(c.audio)
	delay := buflen - 2*FrameLen
	btime := int64(g.masterSec)*1e9 + int64(g.masterNsec) + 40e6
	if isMaster {
		btime -= 20e6
	}
	ptime := int64(p.Sec)*1e9 + int64(p.Nsec)
	index := int((ptime - btime + int64(delay)*125000 - c.puckOffset()) / 125000)
	if index <= 0 || index >= delay {
		g.stats.Late++
		c.drops++
		return
	}
	g.put(c, index, p)
}

// placeMix puts a sequence-numbered frame of a mix-mode client.
func (g *group) placeMix(c *client, p *Packet) {
	seq := p.Nsec
	if seq > c.rxseq || c.txseq > c.txseqKeyed+4 {
		c.rxseq = 0
	}
	c.txseqKeyed = c.txseq
	if c.rxseq == 0 {
		c.rxseq = seq
	}
	delay := len(c.audio) - 2*FrameLen
	index := int(int32(seq-c.rxseq))*FrameLen + delay - 4*FrameLen
	if index <= 0 || index >= delay {
		c.rxseq = 0
		g.stats.Late++
		c.drops++
		return
	}
	g.put(c, index, p)
}

func (g *group) put(c *client, index int, p *Packet) {
	if p.Kind == TypeADPCM { // 40 ms, placed from the 40 ms drain point as chan_voter does
		DecodeADPCM(p.Audio, c.adpcm[:])
		if p.RSSI == 0 {
			copy(c.adpcm[:FrameLen], silence)
			copy(c.adpcm[FrameLen:], silence)
		}
		c.placeAt(index+c.drain40, p.RSSI, c.adpcm[:])
		return
	}
	audio := p.Audio
	if p.RSSI == 0 {
		audio = silence // no signal: treat as silence
	}
	c.place(index, p.RSSI, audio)
}

// cycle is one 20 ms voting/drain cycle for every instance of the group,
// started by the datagram being handled (a master packet) or the timer.
func (g *group) cycle(now time.Time) {
	start := time.Now()
	at := g.arrival(now) // when the master packet reached the socket
	for _, c := range g.clients {
		if c.heard && c.mix {
			c.txseq++
			if c.rxseq != 0 {
				c.rxseq++
			}
		}
	}
	for _, in := range g.insts {
		in.vote(now)
		in.transmit(now)
	}
	g.keepalives(now)
	g.timeouts(now)
	g.cycles.add(start, at, time.Since(start))
}

// sendAudio sends a header-only (keepalive) or µ-law packet to a client,
// encapsulated when the client is reached through a secondary.
func (g *group) sendTo(c *client, kind uint16, frame []byte, now time.Time) {
	p := Packet{Header: Header{Sec: g.masterSec, Nsec: g.masterNsec, Challenge: g.chal, Digest: c.respDigest}, Kind: kind}
	if c.mix {
		p.Nsec = c.txseq
	}
	if kind == TypeULaw || kind == TypeADPCM {
		p.Audio = frame
		c.puck(&p.Header, g.masterSec, g.masterNsec) // transmit audio carries the client's seconds
	}
	if c.proxied {
		p.Proxied = true
		p.Digest = DigestBytes(c.savedChal.Bytes(), c.pw)
		a := c.realAddr.Addr().As4()
		p.Proxy = ProxyHeader{Addr: a, Port: c.realAddr.Port()}
	}
	g.queue(p.Append(g.next()), c.addr)
	c.lastSent = now
}

// silent reports whether the server must not send to c: a secondary that
// is proxying leaves its non-mix clients to the primary.
func (c *client) silent() bool { return c.inst.proxying() && !c.mix }

// reachable reports whether packets can be sent to c.
func (c *client) reachable() bool {
	return c.heard && (c.respDigest != 0 || c.proxied) && c.addr.IsValid() && !c.silent()
}

func (g *group) keepalives(now time.Time) {
	for _, c := range g.clients {
		if c.reachable() && now.Sub(c.lastSent) >= time.Second {
			g.sendTo(c, TypeGPS, nil, now)
		}
	}
}

// sameAddress is chan_voter's client sanity check: two authenticated
// clients sending from one address and port are both disconnected (a
// misconfigured or cloned device). `sanity = false` turns it off.
func (g *group) sameAddress() {
	if g.seen == nil {
		g.seen = map[netip.AddrPort]*client{}
	}
	clear(g.seen)
	for _, c := range g.clients {
		if !c.inst.sanity || !c.heard || c.proxied || !c.addr.IsValid() {
			continue
		}
		if o := g.seen[c.addr]; o != nil {
			g.log.Warn("two clients send from one address: both disconnected", "address", c.addr.String(),
				"client", c.name, "other", o.name)
			g.stats.SameAddress++
			c.disconnect()
			o.disconnect()
			continue
		}
		g.seen[c.addr] = c
	}
}

func (g *group) timeouts(now time.Time) {
	for _, c := range g.clients {
		if c.lastHeard.IsZero() || now.Sub(c.lastHeard) <= c.timeout() {
			continue
		}
		g.log.Info("client disconnected (timeout)", "instance", c.inst.name, "client", c.name)
		c.disconnect()
		if g.master == c {
			g.master = nil
		}
	}
}

// addrFrom4 builds an address from a proxy header.
func addrFrom4(a [4]byte, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(a), port)
}
