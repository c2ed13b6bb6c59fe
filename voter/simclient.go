package voter

import (
	"errors"
	"net"
	"time"
)

// frame does one 20 ms step of a client and sends its packet, if any; a
// packet the kernel refused does not count as sent for the send gaps.
func (c *simState) frame(n uint64, ft, now time.Time) {
	if b := c.build(n, ft, now); b != nil {
		if c.send(b) == nil {
			c.noteSent(time.Now(), len(b))
		}
	}
}

// send writes b to the server: through the connected socket's writer
// (pace's goroutine only), or to the server's address (a shared socket).
func (c *simState) send(b []byte) error {
	if c.w != nil {
		return c.w.write(b)
	}
	_, err := c.conn.WriteToUDP(b, c.ua)
	return err
}

// sendGaps watches the time between a client's audio packets.
type sendGaps struct {
	last time.Time // when the last audio packet was sent
	over uint64    // gaps of more than 30 ms (a missed 20 ms frame)
	max  time.Duration
}

// noteSent records that a packet of size bytes left at t; only audio
// packets (longer than a frame) count, so auth and keepalives do not.
func (c *simState) noteSent(t time.Time, size int) {
	if size <= FrameLen {
		return
	}
	c.mu.Lock()
	g := &c.gaps
	if !g.last.IsZero() {
		d := t.Sub(g.last)
		g.max = max(g.max, d)
		if d > 30*time.Millisecond {
			g.over++
		}
	}
	g.last = t
	c.mu.Unlock()
}

// build makes a client's packet for one 20 ms step: auth until connected,
// then audio (or keepalives); it drops the server after 6 s of silence.
// The result is valid until the next build.
func (c *simState) build(n uint64, ft, now time.Time) []byte {
	c.mu.Lock()
	if c.connected && !c.blind && now.Sub(c.lastRx) > 6*time.Second {
		c.connected, c.authed = false, false
	}
	h := Header{Sec: uint32(ft.Unix()), Nsec: uint32(ft.Nanosecond()), Challenge: c.chal, Digest: c.digest}
	var p Packet
	switch {
	case !c.connected:
		if now.Sub(c.lastAuth) < 500*time.Millisecond {
			c.mu.Unlock()
			return nil
		}
		c.lastAuth = now
		p = Packet{Header: h, Kind: TypeAuth, HasFlags: c.Mix, Flags: FlagMix}
	case c.Silent:
		if now.Sub(c.lastTx) < 1500*time.Millisecond {
			c.mu.Unlock()
			return nil
		}
		p = Packet{Header: h, Kind: TypeGPS}
	default:
		if c.Mix {
			h.Nsec = c.seq
			c.seq++
		}
		rssi := byte(200)
		if c.RSSI != nil {
			rssi = c.RSSI(n)
		}
		audio := c.frameBuf[:] // a field: a local array escapes, 160 bytes per packet
		copy(audio, silence)
		if c.Audio != nil {
			c.Audio(n, audio)
		}
		p = Packet{Header: h, Kind: TypeULaw, RSSI: rssi, Audio: audio}
	}
	c.buf = p.Append(c.buf[:0])
	c.lastTx = now
	c.sent++
	c.mu.Unlock()
	return c.buf
}

func (c *simState) readLoop() {
	buf := make([]byte, 2048)
	var p Packet
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if Decode(buf[:n], &p) != nil {
			continue
		}
		c.receive(&p)
	}
}

// receive checks the server's digest and follows its challenge. The
// server's digest alone does not prove that the server knows this client:
// chan_voter answers an unknown digest with the same auth reply, flags 0.
// The client counts as authenticated when an auth reply carries flags (a
// known client's options, 32 for mix mode) or the server sends it a
// keepalive or audio, which it does only to known clients; a flags-0 auth
// reply takes that back (the server did not recognise the last packet).
func (c *simState) receive(p *Packet) {
	c.mu.Lock()
	if c.blind {
		c.mu.Unlock()
		return
	}
	if p.Challenge != c.srvChal {
		c.srvChal = p.Challenge
		c.digest = Digest(c.srvChal.Bytes(), c.Password)
		c.connected, c.authed = false, false
	}
	if p.Digest != c.hostDigest {
		c.mu.Unlock()
		return
	}
	c.lastRx = time.Now()
	if p.Kind == TypeAuth {
		c.flags = 0
		if p.HasFlags {
			c.flags = p.Flags
		}
		c.connected = !(c.Mix && c.flags&FlagMix == 0)
		c.authed = c.flags != 0
		c.mu.Unlock()
		return
	}
	c.authed = true
	cb := c.OnAudio
	switch p.Kind {
	case TypeULaw:
		c.rxAudio++
		for _, u := range p.Audio {
			v := int(ulawToLinear[u])
			c.rxPeak = max(c.rxPeak, v, -v)
		}
	case TypeGPS:
		c.rxKeep++
	case TypePing:
		c.echoPing(p)
	}
	c.mu.Unlock()
	if cb != nil && p.Kind == TypeULaw {
		cb(&p.Header, p.Audio)
	}
}

// echoPing answers a server's ping as a VOTER board does: the same body
// back under the client's own header (c.mu held).
func (c *simState) echoPing(p *Packet) {
	e := Packet{Header: Header{Sec: p.Sec, Nsec: p.Nsec, Challenge: c.chal, Digest: c.digest}, Kind: TypePing, Ping: p.Ping}
	b := e.Append(make([]byte, 0, PingPacketLen))
	if c.w != nil { // connected: Write is safe beside the pacing goroutine's writer
		_, _ = c.conn.Write(b)
		return
	}
	_, _ = c.conn.WriteToUDP(b, c.ua)
}
