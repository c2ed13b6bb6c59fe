package voter

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
)

// Byte-level tests of what the server itself puts on the wire (the codec
// tests cover encoding; these pin the fields the server fills in).

var emitNow = time.Unix(1700000000, 123456789)

// wantBytes checks a packet's length, outer payload type and digest, and
// compares its hex dump with testdata/<name>.golden (-update rewrites it).
func wantBytes(t *testing.T, name string, b []byte, size int, typ uint16, digest uint32) {
	t.Helper()
	if len(b) != size {
		t.Fatalf("%s: %d bytes, want %d", name, len(b), size)
	}
	if got := binary.BigEndian.Uint16(b[22:24]); got != typ {
		t.Errorf("%s: payload type %#x, want %#x", name, got, typ)
	}
	if got := binary.BigEndian.Uint32(b[18:22]); got != digest {
		t.Errorf("%s: digest %08x, want %08x", name, got, digest)
	}
	checkGolden(t, name, b)
}

func one(t *testing.T, g *group) []byte {
	t.Helper()
	out := sent(g)
	if len(out) != 1 {
		t.Fatalf("%d packets sent, want 1", len(out))
	}
	return out[0]
}

func TestEmitAuthReplies(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"m": {Password: "mpw", NoDeemp: true}})
	cfg.Challenge = "12345678"
	g := offlineGroup(t, map[string]*Config{"x": cfg})
	from := netip.MustParseAddrPort("127.0.0.1:4000")
	hello := Packet{Header: Header{Challenge: MakeChallenge("777")}, Kind: TypeAuth}
	g.handle(hello.Append(nil), from, emitNow)
	b := one(t, g)
	wantBytes(t, "emit_auth_unknown", b, 25, TypeAuth, Digest([]byte("777"), "hostpw"))
	if sec, nsec := binary.BigEndian.Uint32(b[0:4]), binary.BigEndian.Uint32(b[4:8]); sec != 1700000000 || nsec != 123456000 {
		t.Errorf("time %d.%09d, want wall clock with microseconds x 1000", sec, nsec)
	}
	if string(b[8:17]) != "12345678\x00" || b[24] != 0 {
		t.Errorf("challenge %q flags %d", b[8:18], b[24])
	}
	hello.Digest, hello.HasFlags, hello.Flags = Digest([]byte("12345678"), "mpw"), true, FlagMix
	g.handle(hello.Append(nil), from, emitNow)
	b = one(t, g)
	wantBytes(t, "emit_auth_mix", b, 25, TypeAuth, Digest([]byte("777"), "hostpw"))
	if b[24] != FlagMix|FlagFlat {
		t.Errorf("flags %d, want %d", b[24], FlagMix|FlagFlat)
	}
}

// secondaryGroup is a secondary (challenge 87654321) whose link knows the
// primary's challenge 11112222, with client c at 127.0.0.1:4000.
func secondaryGroup(t *testing.T, up bool) (*group, *client) {
	t.Helper()
	cfg := voterCfg("127.0.0.1:1667", "", map[string]*ClientConfig{"c": cl("cpw")})
	cfg.Challenge, cfg.Primary = "87654321", config.Secret("127.0.0.1:1700,linkpw")
	g := offlineGroup(t, map[string]*Config{"s": cfg})
	l := g.insts[0].link
	l.chal, l.chalOK, l.resp = MakeChallenge("11112222"), true, Digest([]byte("11112222"), "linkpw")
	probes := []string{"31415926", "27182818"}
	l.newProbe = func() string { p := probes[0]; probes = append(probes[1:], p); return p }
	l.up = up
	g.masterSec, g.count = 1700000000, 42
	c := g.clients[0]
	c.heard = true
	c.setAddr(netip.MustParseAddrPort("127.0.0.1:4000"))
	c.respChal = MakeChallenge("999")
	c.respDigest = Digest([]byte("999"), "hostpw")
	return g, c
}

func TestEmitLinkPackets(t *testing.T) {
	g, _ := secondaryGroup(t, false)
	l := g.insts[0].link
	auth := l.packet(emitNow)
	wantBytes(t, "emit_link_auth", auth, 25, TypeAuth, Digest([]byte("11112222"), "linkpw"))
	if auth[24] != FlagMix || string(auth[8:17]) != "31415926\x00" || binary.BigEndian.Uint32(auth[4:8]) != 42 {
		t.Errorf("link auth % x", auth)
	}
	// up: a probe every second, each with a fresh challenge of its own
	l.up, l.lastTx = true, emitNow
	if b := l.packet(emitNow.Add(999 * time.Millisecond)); b != nil {
		t.Errorf("probe again after 999 ms: % x", b)
	}
	probe := l.packet(emitNow.Add(time.Second))
	wantBytes(t, "emit_link_probe", probe, 25, TypeAuth, Digest([]byte("11112222"), "linkpw"))
	if probe[24] != FlagMix || string(probe[8:17]) != "27182818\x00" {
		t.Errorf("link probe % x", probe)
	}
}

func TestEmitForward(t *testing.T) {
	g, c := secondaryGroup(t, true)
	in := Packet{Header: Header{Sec: 1700000000, Nsec: 20_000_000, Challenge: MakeChallenge("999"), Digest: c.digest},
		Kind: TypeULaw, RSSI: 77, Audio: fill(FrameLen, 0x5a)}
	g.handle(in.Append(nil), c.addr, emitNow)
	b := one(t, g)
	wantBytes(t, "emit_forward", b, 204, TypeProxy, Digest([]byte("11112222"), "cpw"))
	var p Packet
	if err := Decode(b, &p); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%v %d %d %s %d %s %d", p.Proxy.Addr, p.Proxy.Port, p.Kind, p.Proxy.Challenge, p.Sec, p.Challenge, p.RSSI)
	if want := "[127 0 0 1] 4000 1 87654321 1700000000 999 77"; got != want {
		t.Errorf("forwarded: %s, want %s", got, want)
	}
}

func TestEmitRelay(t *testing.T) {
	g, c := secondaryGroup(t, true)
	ka := Packet{Header: Header{Sec: 1700000000, Nsec: 40_000_000, Challenge: MakeChallenge("11112222"), Digest: c.digest},
		Kind: TypeULaw, Audio: fill(FrameLen, 0x11), Proxied: true, Proxy: ProxyHeader{Addr: [4]byte{127, 0, 0, 1}, Port: 4000}}
	g.handle(ka.Append(nil), netip.MustParseAddrPort("127.0.0.1:1700"), emitNow)
	b := one(t, g)
	wantBytes(t, "emit_relay", b, 185, TypeULaw, Digest([]byte("999"), "hostpw"))
	if string(b[8:17]) != "87654321\x00" || b[24] != 0 {
		t.Errorf("relayed: challenge %q rssi %d", b[8:18], b[24])
	}
	if to := g.q.to[0].String(); to != "127.0.0.1:4000" {
		t.Errorf("relayed to %s", to)
	}
}

// The primary's packets to a client reached through a secondary.
func TestEmitToProxiedClient(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"c": cl("cpw")})
	cfg.IsPrimary, cfg.Challenge = true, "11112222"
	g := offlineGroup(t, map[string]*Config{"p": cfg})
	c := g.clients[0]
	in := Packet{Header: Header{Sec: 1, Challenge: MakeChallenge("999"), Digest: c.digest}, Kind: TypeGPS, GPS: fill(26, '0'),
		Proxied: true, Proxy: ProxyHeader{Addr: [4]byte{10, 0, 0, 9}, Port: 4000, Challenge: MakeChallenge("87654321")}}
	g.handle(in.Append(nil), netip.MustParseAddrPort("127.0.0.1:1667"), emitNow)
	g.masterSec, g.masterNsec = 1700000000, 60_000_000
	g.sendTo(c, TypeGPS, nil, emitNow)
	wantBytes(t, "emit_proxied_keepalive", one(t, g), 43, TypeProxy, Digest([]byte("87654321"), "cpw"))
	g.sendTo(c, TypeULaw, fill(FrameLen, 0x22), emitNow)
	b := one(t, g)
	wantBytes(t, "emit_proxied_ulaw", b, 204, TypeProxy, Digest([]byte("87654321"), "cpw"))
	if string(b[8:17]) != "11112222\x00" || string(b[24:30]) != "\x0a\x00\x00\x09\x0f\xa0" || b[32] != 0 || b[33] != 0 {
		t.Errorf("proxy header % x", b[24:43])
	}
}
