package voter

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// mixMinusGroup: instance with mixminus and three connected mix clients
// a, b, c (all transmit) and a µ-law GPS client u without transmit.
func mixMinusGroup(t *testing.T) (*group, map[string]*client) {
	t.Helper()
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{
		"a": {Password: "apw", Transmit: true}, "b": {Password: "bpw", Transmit: true},
		"c": {Password: "cpw", Transmit: true}, "u": {Password: "upw"}})
	cfg.Challenge, cfg.MixMinus = "12345678", true
	g := offlineGroup(t, map[string]*Config{"x": cfg})
	cs := map[string]*client{}
	for i, c := range g.clients {
		c.heard, c.respDigest, c.mix = true, Digest([]byte("999"), "hostpw"), c.name != "u"
		c.setAddr(netip4(4000 + i))
		c.txseq = uint32(10 + i)
		cs[c.name] = c
	}
	g.masterSec = 1700000000
	return g, cs
}

// The bytes chan_voter's mixminus sends: for each transmit client, the
// transmit audio (none here) plus every other mix client with signal,
// sum clipped to ±32767 and µ-law encoded; a client with nothing to add
// and no transmit audio gets nothing; a client without transmit never.
func TestMixMinusPackets(t *testing.T) {
	g, cs := mixMinusGroup(t)
	fill := func(c *client, v int16, rssi int) {
		for i := range c.lastAudio {
			c.lastAudio[i] = v
		}
		c.lastRSSI = rssi
	}
	fill(cs["a"], 1000, 100)
	fill(cs["b"], 32000, 50)
	fill(cs["c"], 5000, 0) // no signal: not mixed into the others
	g.insts[0].transmit(emitNow)
	want := map[uint16]int32{ // by destination port: the sum it must carry
		4000: 32000, // a: b
		4001: 1000,  // b: a
		4002: 32767, // c: a+b = 33000, clipped
	}
	got := sent(g)
	if len(got) != 3 {
		t.Fatalf("%d packets, want 3 (a, b, c; not u)", len(got))
	}
	for i, b := range got {
		c := g.clients[i]
		if len(b) != ULawPacketLen || binary.BigEndian.Uint16(b[22:24]) != TypeULaw || b[24] != 0 {
			t.Fatalf("packet to %s: % x", c.name, b[:25])
		}
		if sec, seq := binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8]); sec != 1700000000 || seq != c.txseq {
			t.Errorf("to %s: time %d/%d, want master seconds and its sequence %d", c.name, sec, seq, c.txseq)
		}
		w := linearToULaw(int16(want[c.addr.Port()]))
		for _, x := range b[25:] {
			if x != w {
				t.Fatalf("to %s: audio %#x, want %#x", c.name, x, w)
			}
		}
	}
	// transmit audio is added under the mix for everyone who transmits
	in := g.insts[0]
	for f := 0; f < 3; f++ {
		in.queueRTP(rtpPacket(uint16(f+1), fill8(FrameLen, linearToULaw(-2000))))
	}
	in.transmit(emitNow)
	base := int32(ulawToLinear[linearToULaw(-2000)])
	for i, b := range sent(g) {
		others := map[string]int32{"a": 32000, "b": 1000, "c": 33000}[g.clients[i].name]
		if w := linearToULaw(int16(min(base+others, 32767))); b[25] != w {
			t.Errorf("to %s with transmit audio: %#x, want %#x", g.clients[i].name, b[25], w)
		}
	}
}

func fill8(n int, v byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = v
	}
	return b
}

// Over real sockets: with mixminus, a mix client with signal is heard by
// the other transmitting mix client and not by itself.
func TestMixMinusEndToEnd(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{
		"a": {Password: "apw", Transmit: true}, "b": {Password: "bpw", Transmit: true}})
	cfg.MixMinus = true
	srv := startServer(t, map[string]*Config{"x": cfg})
	var aGot, bGot atomic.Int64
	a := sim("a", "apw", srv.Addr("x"))
	a.Mix, a.Audio, a.RSSI = true, constAudio(0x20), func(uint64) byte { return 100 }
	a.OnAudio = func(_ *Header, au []byte) { aGot.Add(1) }
	b := sim("b", "bpw", srv.Addr("x"))
	b.Mix, b.RSSI = true, func(uint64) byte { return 0 }
	b.OnAudio = func(_ *Header, au []byte) {
		if allBytes(au, 0x20) {
			bGot.Add(1)
		}
	}
	startSim(t, a, b)
	testutil.Eventually(t, 5*time.Second, "a's audio at b", func() bool { return bGot.Load() > 10 })
	if n := aGot.Load(); n != 0 {
		t.Errorf("a got %d audio packets of its own", n)
	}
}
