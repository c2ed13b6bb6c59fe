package voter

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// legacy8 is what chan_voter f232116 keeps of a stored secondary challenge:
// its first 8 characters.
func legacy8(c Challenge) []byte {
	b := c.Bytes()
	return b[:min(len(b), 8)]
}

func TestRandomChallengeAtMostEightDigits(t *testing.T) {
	for i := 0; i < 2000; i++ {
		c := randomChallenge()
		if len(c) < 1 || len(c) > 8 || !validChallenge(c) {
			t.Fatalf("randomChallenge() = %q, want 1-8 digits", c)
		}
	}
}

func udp(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// exchange sends p to to and returns the first reply of kind want within 2 s.
func exchange(t *testing.T, c *net.UDPConn, to netip.AddrPort, p *Packet, want uint16, proxied bool) *Packet {
	t.Helper()
	if _, err := c.WriteToUDPAddrPort(p.Append(nil), to); err != nil {
		t.Fatal(err)
	}
	return readKind(t, c, want, proxied)
}

func readKind(t *testing.T, c *net.UDPConn, want uint16, proxied bool) *Packet {
	t.Helper()
	buf := make([]byte, 2048)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no reply of type %d (proxied %v): %v", want, proxied, err)
		}
		var r Packet
		if Decode(buf[:n], &r) == nil && r.Kind == want && r.Proxied == proxied {
			return &r
		}
	}
}

// TestPrimaryWithLegacySecondary plays a chan_voter f232116 secondary with a
// 9-digit challenge that sends only its first 8 characters in proxied audio:
// redund as primary must still sign its packets to that client with the
// full challenge (learnt from the secondary's liveness link).
func TestPrimaryWithLegacySecondary(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"c": cl("cpw"), "secondary-link": cl("linkpw")})
	cfg.IsPrimary = true
	prim := startServer(t, map[string]*Config{"red": cfg})
	paddr := prim.Addr("red")
	main, lnk := udp(t), udp(t)
	full := MakeChallenge("123456789")

	auth := Packet{Header: Header{Challenge: full}, Kind: TypeAuth, HasFlags: true, Flags: FlagMix}
	r := exchange(t, lnk, paddr, &auth, TypeAuth, false)
	pchal := r.Challenge
	auth.Digest = Digest(pchal.Bytes(), "linkpw")
	if r = exchange(t, lnk, paddr, &auth, TypeAuth, false); r.Digest != Digest(full.Bytes(), "hostpw") || r.Flags != FlagMix {
		t.Fatalf("link auth reply %+v", r)
	}
	var trunc Challenge
	copy(trunc[:], legacy8(full))
	audio := Packet{Header: Header{Sec: 1, Challenge: MakeChallenge("555"), Digest: Digest(pchal.Bytes(), "cpw")},
		Kind: TypeULaw, RSSI: 100, Audio: fill(FrameLen, 0x44), Proxied: true,
		Proxy: ProxyHeader{Addr: [4]byte{127, 0, 0, 1}, Port: 9999, Challenge: trunc}}
	ka := exchange(t, main, paddr, &audio, TypeGPS, true)
	if want := Digest(full.Bytes(), "cpw"); ka.Digest != want {
		t.Errorf("keepalive to proxied client: digest %08x, want CRC(full challenge + password) %08x (8-char form %08x)",
			ka.Digest, want, Digest(trunc.Bytes(), "cpw"))
	}
	if ka.Proxy.Port != 9999 || ka.Challenge != pchal {
		t.Errorf("keepalive %+v", ka)
	}
}

// fakeLegacyPrimary answers like a chan_voter f232116 primary that signs
// everything with the first 8 characters of the secondary's challenge.
// It reads on conn and answers from out.
func fakeLegacyPrimary(conn, out *net.UDPConn, pchal Challenge, clientPw map[uint32]string) {
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		var p Packet
		if Decode(buf[:n], &p) != nil {
			continue
		}
		var reply Packet
		switch {
		case !p.Proxied: // liveness link: auth or keepalive
			reply = Packet{Header: Header{Challenge: pchal, Digest: Digest(legacy8(p.Challenge), "hostpw")},
				Kind: TypeAuth, HasFlags: true, Flags: FlagMix}
		case clientPw[p.Digest] != "":
			reply = Packet{Header: Header{Challenge: pchal, Digest: Digest(legacy8(p.Proxy.Challenge), clientPw[p.Digest])},
				Kind: TypeGPS, Proxied: true, Proxy: ProxyHeader{Addr: p.Proxy.Addr, Port: p.Proxy.Port}}
		default:
			continue
		}
		_, _ = out.WriteToUDPAddrPort(reply.Append(nil), from)
	}
}

// TestSecondaryWithLegacyPrimary: redund as secondary behind a primary that
// signs with 8-character challenges: the link comes up and the primary's
// packets reach the client.
func TestSecondaryWithLegacyPrimary(t *testing.T) {
	legacyPrimary(t, false)
}

// TestPrimaryAnswersFromOtherAddress: a multi-homed or NATed primary whose
// packets come from another address than the configured one still works.
func TestPrimaryAnswersFromOtherAddress(t *testing.T) {
	legacyPrimary(t, true)
}

func legacyPrimary(t *testing.T, otherAddr bool) {
	fake, out := udp(t), udp(t)
	if !otherAddr {
		out = fake
	}
	pchal := MakeChallenge("24681357")
	go fakeLegacyPrimary(fake, out, pchal, map[uint32]string{Digest(pchal.Bytes(), "cpw"): "cpw"})
	faddr := fake.LocalAddr().(*net.UDPAddr).AddrPort()
	sec := startServer(t, pairCfg("127.0.0.1:0", "", fmt.Sprintf("%s,linkpw", faddr)))
	testutil.Eventually(t, 5*time.Second, "link to the legacy primary up", func() bool {
		return sec.Status()[0].Peer != nil && sec.Status()[0].Peer.Connected
	})
	c := sim("c", "cpw", sec.Addr("red"))
	c.RSSI = func(uint64) byte { return 100 }
	startSim(t, c)
	testutil.Eventually(t, 5*time.Second, "primary's packets relayed to the client", func() bool {
		st := sec.Stats("red")
		return st["forwarded"] > 10 && st["relayed"] > 3
	})
}

// TestSavedChallengeKeepsFullForm: proxied GPS brings the whole 9-digit
// challenge, proxied audio its first 8 characters; the primary keeps
// signing with the whole one until a challenge that is not a prefix comes.
func TestSavedChallengeKeepsFullForm(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"c": cl("cpw")})
	cfg.IsPrimary, cfg.Challenge = true, "11223344"
	g := offlineGroup(t, map[string]*Config{"red": cfg})
	from := netip.MustParseAddrPort("127.0.0.1:4000")
	c := g.clients[0]
	send := func(kind uint16, chal string) {
		p := Packet{Header: Header{Challenge: MakeChallenge("9"), Digest: Digest([]byte("11223344"), "cpw")},
			Kind: kind, Proxied: true, Proxy: ProxyHeader{Addr: [4]byte{127, 0, 0, 1}, Port: 9999, Challenge: MakeChallenge(chal)}}
		if kind == TypeULaw {
			p.RSSI, p.Audio = 1, fill(FrameLen, 0x44)
		} else {
			p.GPS = fill(26, '1')
		}
		g.handle(p.Append(nil), from, time.Unix(1700000000, 0))
	}
	for _, step := range []struct {
		kind       uint16
		chal, want string
	}{
		{TypeULaw, "98765432", "98765432"}, {TypeGPS, "987654321", "987654321"},
		{TypeULaw, "98765432", "987654321"}, {TypeULaw, "55555555", "55555555"},
	} {
		send(step.kind, step.chal)
		if got := c.savedChal.String(); got != step.want {
			t.Errorf("after type %d with %s: saved %q, want %q", step.kind, step.chal, got, step.want)
		}
	}
}
