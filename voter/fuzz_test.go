package voter

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// Fuzz targets for wire input that the other files' targets (FuzzDecode,
// FuzzParseRTP, FuzzDecodeADPCM, FuzzPingReply) do not cover: the link
// socket's header reads, the transmit queue, the GPS text, and the whole
// receive path of the server. `go test` runs their seeds;
// `go test -fuzz=FuzzX ./voter/` explores.

func fuzzSeeds(f *testing.F) {
	chal := MakeChallenge("12345678")
	add := func(p Packet) { f.Add(p.Append(nil)) }
	add(Packet{Header: Header{Challenge: chal}, Kind: TypeAuth})
	add(Packet{Header: Header{Challenge: chal, Digest: 1}, Kind: TypeAuth, HasFlags: true, Flags: FlagMix})
	add(Packet{Header: Header{Sec: 1, Challenge: chal, Digest: 2}, Kind: TypeULaw, RSSI: 200, Audio: fill(FrameLen, 0x55)})
	add(Packet{Header: Header{Sec: 1, Challenge: chal, Digest: 2}, Kind: TypeADPCM, RSSI: 200, Audio: fill(ADPCMLen, 0x77)})
	add(Packet{Header: Header{Challenge: chal, Digest: 3}, Kind: TypeGPS, GPS: []byte("4807.038N01131.000E545.4\x00\x00")})
	add(Packet{Header: Header{Challenge: chal, Digest: 3}, Kind: TypeGPS})
	add(Packet{Header: Header{Challenge: chal, Digest: 4}, Kind: TypePing, Ping: fill(PingBodyLen, 0)})
	add(Packet{Header: Header{Challenge: chal, Digest: 5}, Kind: TypeULaw, Proxied: true, RSSI: 9, Audio: fill(FrameLen, 1),
		Proxy: ProxyHeader{Addr: [4]byte{127, 0, 0, 1}, Port: 1667, Challenge: chal}})
	f.Add([]byte{})
	f.Add(make([]byte, HeaderLen-1))
	f.Add(make([]byte, MaxPacketLen+1))
}

// FuzzDecodeHeader: the link socket reads only the header and the flags
// byte of what arrives.
func FuzzDecodeHeader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		if err := DecodeHeader(b, &h); err != nil {
			if len(b) >= HeaderLen {
				t.Fatalf("refused a %d-byte header", len(b))
			}
			return
		}
		if got := AppendHeader(nil, &h); !bytes.Equal(got, b[:HeaderLen]) {
			t.Fatalf("header round trip: %x != %x", got, b[:HeaderLen])
		}
		_ = replyFlags(b)
	})
}

// FuzzQueueRTP: the payload parseRTP returns lies after the fixed header,
// and the transmit queue stays bounded whatever the packet.
func FuzzQueueRTP(f *testing.F) {
	p := make([]byte, rtpHeaderLen+FrameLen)
	p[0] = 0x80
	f.Add(p)
	f.Add([]byte{0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4})
	f.Add([]byte{0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 9, 9, 2})
	f.Add([]byte{0xbf, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, payload, err := parseRTP(b)
		if err != nil {
			return
		}
		if len(b) < rtpHeaderLen || seq != binary.BigEndian.Uint16(b[2:4]) {
			t.Fatalf("accepted %x", b)
		}
		if len(payload) > len(b)-rtpHeaderLen {
			t.Fatalf("payload of %d bytes from a %d-byte packet", len(payload), len(b))
		}
		// The transmit queue takes whatever parseRTP accepts.
		in := &instance{}
		if !in.queueRTP(b) || len(in.txq) > txMaxQueue {
			t.Fatalf("queueRTP: %d frames", len(in.txq))
		}
	})
}

// FuzzGPSString: a client's position text reaches the page, the status and
// a GPS file: valid UTF-8 without control (line breaks included) or
// bidirectional characters.
func FuzzGPSString(f *testing.F) {
	f.Add([]byte("4807.038N01131.000E545.4\x00\x00"))
	f.Add([]byte("\x1b[31mred\n\u202eevil\r\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := gpsString(b)
		if !utf8.ValidString(s) {
			t.Fatalf("gpsString(%q) = %q: not UTF-8", b, s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
				t.Fatalf("gpsString(%q) = %q keeps %U", b, s, r)
			}
		}
	})
}

// FuzzHandle feeds datagrams to a server's receive path. Nothing panics; a
// datagram whose digest is no client's changes no client, gets at most
// one reply, and that reply is no larger than 25 bytes (the server is no
// amplifier for a spoofed source).
func FuzzHandle(f *testing.F) {
	fuzzSeeds(f)
	gpsID := "1"
	cfgs := map[string]*Config{"main": {Listen: "127.0.0.1:0", Password: "hostpw", Buflen: 160, Challenge: "12345678",
		Clients: map[string]*ClientConfig{"master": {Password: "mpw", Master: true}, "bob": cl("bpw"),
			"mixer": cl("xpw"), "gps": {Password: "gpw", GPSID: &gpsID}}}}
	chal := []byte("12345678")
	for _, pw := range []string{"mpw", "bpw", "xpw", "gpw"} {
		d := Digest(chal, pw)
		add := func(p Packet) { p.Challenge, p.Digest = MakeChallenge("777"), d; f.Add(p.Append(nil)) }
		add(Packet{Kind: TypeAuth})
		add(Packet{Kind: TypeAuth, HasFlags: true, Flags: FlagMix})
		add(Packet{Header: Header{Sec: 1}, Kind: TypeULaw, RSSI: 200, Audio: fill(FrameLen, 0x55)})
		add(Packet{Kind: TypeGPS, GPS: []byte("4807.038N01131.000E545.4\x00\x00")})
		add(Packet{Kind: TypePing, Ping: fill(PingBodyLen, 0)})
	}
	s, err := New(cfgs, Options{})
	if err != nil {
		f.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.close)
	g := s.groups[0]
	g.gpsq = make(chan gpsWrite, 1)                // no writer: GPS files are dropped
	from := netip.MustParseAddrPort("127.0.0.1:9") // discard
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, b []byte) {
		g.mu.Lock()
		defer g.mu.Unlock()
		now = now.Add(time.Second) // past the reply limiter's interval
		var h Header
		known := DecodeHeader(b, &h) == nil && g.byDigest[h.Digest] != nil
		before := make([]client, len(g.clients))
		for i, c := range g.clients {
			before[i] = *c
		}
		g.q = g.rq
		g.handle(b, from, now)
		n := g.rq.n
		var sizes []int
		for i := range n {
			sizes = append(sizes, len(g.rq.bufs[i]))
		}
		g.rq.flush()
		g.q = g.tq
		if known {
			return
		}
		if n > 1 || (n == 1 && sizes[0] > 25) {
			t.Fatalf("unknown digest %08x: %d replies of %v bytes", h.Digest, n, sizes)
		}
		for i, c := range g.clients {
			o := &before[i]
			if c.heard != o.heard || c.addr != o.addr || c.lastHeard != o.lastHeard || c.gps != o.gps ||
				c.mix != o.mix || c.packets != o.packets || c.respDigest != o.respDigest {
				t.Fatalf("unknown digest %08x changed client %s", h.Digest, c.name)
			}
		}
	})
}
