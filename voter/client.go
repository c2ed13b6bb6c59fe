package voter

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// client is the server's state for one configured VOTER client.
type client struct {
	name   string
	inst   *instance
	cfg    ClientConfig
	pw     []byte
	digest uint32 // CRC(server challenge + password): how packets name the client

	respDigest uint32    // CRC(client challenge + host password): what we send
	respChal   Challenge // the client challenge respDigest was made from
	fwdDigest  uint32    // CRC(primary challenge + password), secondary side
	fwdChal    Challenge // the primary challenge fwdDigest was made from
	heard      bool      // authenticated and talking
	mix        bool      // mix / general-purpose mode (sequence-numbered)
	addr       netip.AddrPort
	// follow: when the last packet taken from addr arrived, and the time
	// stamps of the last audio/auth packet and of the last keepalive
	lastAtAddr  time.Time
	lastStamp   uint64
	lastKeepSec uint32

	// primary side: reached through a secondary
	proxied   bool
	realAddr  netip.AddrPort // the client's own address from the proxy header
	savedChal Challenge      // the secondary's challenge from the proxy header

	lastHeard, lastSent time.Time
	mixRefusedLog       time.Time // the last log line about this master asking for mix mode
	connectLog          time.Time // the last "client connected" line
	connectsUnlogged    uint64    // sessions started since then without a line
	lastSeen            time.Time // last packet with the client's digest; unlike lastHeard, kept after a disconnect

	// receive buffer (chan_voter layout: audio ring + per-sample RSSI)
	audio, rssi []byte
	drain       int
	drain40     int  // drain index at the start of the current 40 ms (ADPCM placement)
	odd         bool // second 20 ms of a 40 ms period
	adpcm       [2 * FrameLen]byte
	txseq       uint32
	txseqKeyed  uint32
	rxseq       uint32
	lastRSSI    int

	// puckit: the client's and the master's GPS time (ns) at the
	// client's last GPS packet
	lastGPS, lastMasterGPS int64

	ping *pingRun // a running `voter ping`

	lastAudio [FrameLen]int16 // mixminus: this mix client's last frame

	// observability
	packets, drops uint64
	gps            string         // the position of the client's last GPS packet in this session
	gpsAt          time.Time      // when it arrived
	gpsFileAt      time.Time      // when its GPS file was last queued for writing
	rec            [FrameLen]byte // last drained frame, for the recorder
}

func newClient(name string, inst *instance, cc *ClientConfig, chal []byte, buf int) *client {
	c := &client{name: name, inst: inst, cfg: *cc, pw: []byte(cc.Password.Reveal())}
	c.digest = DigestBytes(chal, c.pw)
	c.audio = make([]byte, buf)
	c.rssi = make([]byte, buf)
	c.clearBuffer()
	return c
}

func (c *client) clearBuffer() {
	for i := range c.audio {
		c.audio[i] = 0xff
		c.rssi[i] = 0
	}
}

// setAddr records where the client's packets come from (and where ours go).
func (c *client) setAddr(a netip.AddrPort) {
	c.addr = a
}

// disconnect forgets the client's session (it must authenticate again).
func (c *client) disconnect() {
	c.heard = false
	c.respDigest = 0
	c.lastHeard = time.Time{}
	c.proxied = false
	c.rxseq, c.txseq = 0, 0
	c.gps, c.gpsAt = "", time.Time{} // a client that is gone reports no position
}

// flags is the flags byte the server gives this client in its auth reply.
func (c *client) flags() byte {
	var f byte
	if c.cfg.Master {
		f |= FlagSendAlways | FlagMaster
	}
	if c.cfg.ADPCM {
		f |= FlagADPCM
	}
	if c.mix {
		f |= FlagMix
	}
	if c.cfg.NoDeemp || c.inst.cfg.HostDeemp {
		f |= FlagFlat
	}
	if c.cfg.NoPLFilter {
		f |= FlagNoCTCSS
	}
	return f
}

// prio is the voting priority: higher wins, -1 locks out.
func (c *client) prio() int { return c.cfg.Prio }

// timeout is how long the client may stay silent.
func (c *client) timeout() time.Duration {
	if c.cfg.Master {
		return 100 * time.Millisecond
	}
	return 3000 * time.Millisecond
}

// readFrame copies the 160 bytes at the drain index into dst (unless nil)
// and, when clear is set, marks them silent. It returns the mean RSSI of
// the frame.
func (c *client) readFrame(dst []byte, clear bool) int {
	rssi := c.frameRSSI()
	if dst != nil {
		c.copyFrame(dst)
	}
	if clear {
		c.clearFrame()
	}
	return rssi
}

// frameParts are the one or two ring ranges of the frame at the drain
// index (the frame may wrap): [start, start+n) and [0, FrameLen-n).
func (c *client) frameParts() (start, n int) {
	return c.drain, min(FrameLen, len(c.audio)-c.drain)
}

// frameRSSI is the mean RSSI of the frame at the drain index.
func (c *client) frameRSSI() int {
	s, n := c.frameParts()
	return (sumBytes(c.rssi[s:s+n]) + sumBytes(c.rssi[:FrameLen-n])) / FrameLen
}

// copyFrame copies the audio of the frame at the drain index into dst.
func (c *client) copyFrame(dst []byte) {
	s, n := c.frameParts()
	copy(dst[copy(dst, c.audio[s:s+n]):], c.audio[:FrameLen-n])
}

// clearFrame marks the frame at the drain index silent, RSSI 0.
func (c *client) clearFrame() {
	s, n := c.frameParts()
	copy(c.audio[s:s+n], silence)
	copy(c.audio, silence[:FrameLen-n])
	clear(c.rssi[s : s+n])
	clear(c.rssi[:FrameLen-n])
}

// sumBytes adds the bytes of b eight at a time: four 16-bit lanes of even
// bytes and four of odd bytes, flushed before a lane can overflow (the
// cycle sums every client's 160 RSSI bytes; a byte loop was a tenth of
// the server's CPU at 1,000 clients).
func sumBytes(b []byte) int {
	const lanes = 0x00ff00ff00ff00ff
	sum := 0
	for len(b) >= 8 {
		var acc uint64
		for k := 0; k < 128 && len(b) >= 8; k++ { // 128 x 510 < 65536
			w := binary.LittleEndian.Uint64(b)
			acc += w&lanes + (w>>8)&lanes
			b = b[8:]
		}
		sum += int(acc&0xffff + acc>>16&0xffff + acc>>32&0xffff + acc>>48)
	}
	for _, v := range b {
		sum += int(v)
	}
	return sum
}

// fillBytes sets every byte of b to v.
func fillBytes(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for k := 1; k < len(b); k *= 2 {
		copy(b[k:], b[:k])
	}
}

// place writes one 160-byte frame at sample offset index from the drain
// point, with its RSSI.
func (c *client) place(index int, rssi byte, frame []byte) { c.placeAt(index+c.drain, rssi, frame) }

// placeAt writes frame (any length up to the buffer) at ring offset pos.
func (c *client) placeAt(pos int, rssi byte, frame []byte) {
	n := len(c.audio)
	start := pos % n
	first := min(len(frame), n-start)
	copy(c.audio[start:], frame[:first])
	copy(c.audio, frame[first:])
	fillBytes(c.rssi[start:start+first], rssi)
	fillBytes(c.rssi[:len(frame)-first], rssi)
}

func (c *client) advance() {
	if !c.odd {
		c.drain40 = c.drain
	}
	c.odd = !c.odd
	c.drain += FrameLen
	if c.drain >= len(c.audio) {
		c.drain -= len(c.audio)
	}
}
