package voter

import (
	"cmp"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// mixSession authenticates the mix-mode client "m" (password mpw) from
// sock and returns its audio packet with sequence number seq.
func mixSession(t *testing.T, sock *net.UDPConn, addr netip.AddrPort) func(seq uint32) Packet {
	t.Helper()
	auth := Packet{Header: Header{Challenge: MakeChallenge("31337")}, Kind: TypeAuth, HasFlags: true, Flags: FlagMix}
	chal := exchange(t, sock, addr, &auth, TypeAuth, false).Challenge
	auth.Digest = Digest(chal.Bytes(), "mpw")
	if r := exchange(t, sock, addr, &auth, TypeAuth, false); r.Flags != FlagMix {
		t.Fatalf("mix auth reply %+v", r)
	}
	return func(seq uint32) Packet {
		return Packet{Header: Header{Nsec: seq, Challenge: auth.Challenge, Digest: auth.Digest},
			Kind: TypeULaw, RSSI: 100, Audio: fill(FrameLen, 0x30)}
	}
}

func send(t *testing.T, sock *net.UDPConn, b []byte, to netip.AddrPort) {
	t.Helper()
	if _, err := sock.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

// clientAt is where the server sends to its only client: its address, or
// the secondary it is reached through ("" when not connected).
func clientAt(srv *running) string {
	cs := srv.Status()[0].Details["clients"].([]ClientStatus)
	if !cs[0].Connected {
		return ""
	}
	return cmp.Or(cs[0].Via, cs[0].Address)
}

// A captured packet of a client, replayed from another address (as it
// was, or with a later time stamp: the digest covers neither) while the
// client keeps sending, does not move the client: its keepalives still go
// to its own address. chan_voter (and redund before) sent them, and the
// client's transmit audio, to the replayer until the client's next packet.
func TestReplayedPacketDoesNotMoveClient(t *testing.T) {
	srv := startServer(t, map[string]*Config{"x": voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"m": cl("mpw")})})
	addr := srv.Addr("x")
	client, replayer := udp(t), udp(t)
	audio := mixSession(t, client, addr)
	p := audio(3)
	captured := p.Append(nil)
	send(t, client, captured, addr)
	home := client.LocalAddr().String()
	testutil.Eventually(t, time.Second, "client connected", func() bool { return clientAt(srv) == home })

	received := srv.Stats("x")["received"]
	send(t, replayer, captured, addr) // as captured
	later := audio(1000)              // the time stamp rewritten forward
	send(t, replayer, later.Append(nil), addr)
	testutil.Eventually(t, time.Second, "both replays handled", func() bool {
		return srv.Stats("x")["received"] >= received+2
	})
	if at := clientAt(srv); at != home {
		t.Errorf("client at %s after the replays, want %s", at, home)
	}
	// The next keepalive (at most 1 s after the last packet sent) goes to
	// the client: the server never took the replayer's address.
	if ka := readKind(t, client, TypeGPS, false); ka.Digest != Digest([]byte("31337"), "hostpw") {
		t.Errorf("keepalive at the client %+v", ka)
	}
	if st := srv.Stats("x"); st["address_changes"] != 0 || st["address_refused_live"] != 2 {
		t.Errorf("address_changes = %d, address_refused_live = %d, want 0 and 2", st["address_changes"], st["address_refused_live"])
	}
}

// A client whose NAT mapping changes is followed: its old address falls
// silent and its packets, with time stamps that go on advancing, come
// from the new one. A stale packet from the new address (a captured one
// replayed) does not move it even then.
func TestNATRebinding(t *testing.T) {
	srv := startServerOpts(t, map[string]*Config{"x": voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"m": cl("mpw")})},
		Options{moveQuiet: 200 * time.Millisecond})
	addr := srv.Addr("x")
	oldSock, newSock := udp(t), udp(t)
	audio := mixSession(t, oldSock, addr)
	for seq := uint32(3); seq < 10; seq++ {
		p := audio(seq)
		send(t, oldSock, p.Append(nil), addr)
	}
	old := oldSock.LocalAddr().String()
	testutil.Eventually(t, time.Second, "client connected", func() bool { return clientAt(srv) == old })

	// A replay of an earlier packet once the old address is quiet (the
	// rule's subject is time passing; no event marks it): its time stamp
	// is stale.
	time.Sleep(300 * time.Millisecond) // sleep: the old address silent for moveQuiet (200 ms)
	received := srv.Stats("x")["received"]
	stale := audio(5)
	send(t, newSock, stale.Append(nil), addr)
	testutil.Eventually(t, time.Second, "stale packet handled", func() bool {
		return srv.Stats("x")["received"] >= received+1
	})
	if at := clientAt(srv); at != old {
		t.Fatalf("client at %s after a stale packet, want %s", at, old)
	}
	if st := srv.Stats("x"); st["address_refused_stale"] != 1 {
		t.Errorf("address_refused_stale = %d, want 1", st["address_refused_stale"])
	}

	seq := uint32(10)
	want := newSock.LocalAddr().String()
	testutil.Eventually(t, time.Second, "client at its new address", func() bool {
		p := audio(seq)
		send(t, newSock, p.Append(nil), addr)
		seq++
		return clientAt(srv) == want
	})
	// The keepalive (at most 1 s after the last packet sent) goes to the new address.
	if ka := readKind(t, newSock, TypeGPS, false); ka.Digest != Digest([]byte("31337"), "hostpw") {
		t.Errorf("keepalive at the new address %+v", ka)
	}
	if st := srv.Stats("x"); st["address_changes"] != 1 {
		t.Errorf("address_changes = %d, want 1", st["address_changes"])
	}
}

// A master timing source is dropped after 100 ms of silence, so when its
// NAT rebinds it its next packet starts a session at the new address
// without waiting for the quiet of an address change (made a minute here).
func TestMasterRebindingAfterTimeout(t *testing.T) {
	srv := startServerOpts(t, map[string]*Config{"x": voterCfg("127.0.0.1:0", "",
		map[string]*ClientConfig{"master": {Password: "mpw", Master: true}})}, Options{moveQuiet: time.Minute})
	addr := srv.Addr("x")
	oldSock, newSock := udp(t), udp(t)
	auth := Packet{Header: Header{Challenge: MakeChallenge("4242")}, Kind: TypeAuth}
	chal := exchange(t, oldSock, addr, &auth, TypeAuth, false).Challenge
	auth.Digest = Digest(chal.Bytes(), "mpw")
	if r := exchange(t, oldSock, addr, &auth, TypeAuth, false); r.Flags != FlagSendAlways|FlagMaster {
		t.Fatalf("master auth reply %+v", r)
	}
	frame := time.Now()
	next := func() []byte { // the master's next 20 ms frame, GPS-timed
		frame = frame.Add(cycleEvery)
		p := Packet{Header: Header{Sec: uint32(frame.Unix()), Nsec: uint32(frame.Nanosecond()), Challenge: auth.Challenge,
			Digest: auth.Digest}, Kind: TypeULaw, RSSI: 100, Audio: fill(FrameLen, 0x30)}
		return p.Append(nil)
	}
	old, moved := oldSock.LocalAddr().String(), newSock.LocalAddr().String()
	testutil.Eventually(t, 2*time.Second, "master at its address", func() bool {
		send(t, oldSock, next(), addr)
		return clientAt(srv) == old
	})
	testutil.Eventually(t, 5*time.Second, "master at its new address", func() bool {
		send(t, newSock, next(), addr)
		return clientAt(srv) == moved
	})
	if st := srv.Stats("x"); st["address_changes"] != 0 {
		t.Errorf("address_changes = %d, want 0 (a new session, not a move)", st["address_changes"])
	}
}

// On a primary, a secondary's packet for a client carries the client's
// digest and time: replayed from another address while the secondary
// keeps forwarding, it does not take the client from the secondary.
func TestProxiedReplayDoesNotMoveClient(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"c": cl("cpw")})
	cfg.IsPrimary = true
	prim := startServer(t, map[string]*Config{"red": cfg})
	paddr := prim.Addr("red")
	secondary, replayer := udp(t), udp(t)
	hello := Packet{Header: Header{Challenge: MakeChallenge("777")}, Kind: TypeAuth}
	pchal := exchange(t, secondary, paddr, &hello, TypeAuth, false).Challenge
	fwd := Packet{Header: Header{Sec: 1, Challenge: MakeChallenge("555"), Digest: Digest(pchal.Bytes(), "cpw")},
		Kind: TypeULaw, RSSI: 100, Audio: fill(FrameLen, 0x44), Proxied: true,
		Proxy: ProxyHeader{Addr: [4]byte{192, 0, 2, 7}, Port: 9999, Challenge: MakeChallenge("24681357")}}
	captured := fwd.Append(nil)
	send(t, secondary, captured, paddr)
	via := secondary.LocalAddr().String()
	testutil.Eventually(t, time.Second, "client reached through the secondary", func() bool {
		return clientAt(prim) == via
	})

	received := prim.Stats("red")["received"]
	send(t, replayer, captured, paddr)
	testutil.Eventually(t, time.Second, "replay handled", func() bool {
		return prim.Stats("red")["received"] >= received+1
	})
	if at := clientAt(prim); at != via {
		t.Errorf("client at %s after the replay, want %s", at, via)
	}
	if ka := readKind(t, secondary, TypeGPS, true); ka.Proxy.Port != 9999 {
		t.Errorf("keepalive through the secondary %+v", ka)
	}
	if st := prim.Stats("red"); st["address_refused_live"] != 1 {
		t.Errorf("address_refused_live = %d, want 1", st["address_refused_live"])
	}
}

// follow's rule, one packet at a time, with the clock given.
func TestFollow(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	home := netip.MustParseAddrPort("192.0.2.1:1667")
	other := netip.MustParseAddrPort("198.51.100.9:40000")
	pkt := func(kind uint16, sec, nsec uint32) *Packet {
		return &Packet{Header: Header{Sec: sec, Nsec: nsec}, Kind: kind}
	}
	type step struct {
		at     time.Duration // after t0
		from   netip.AddrPort
		p      *Packet
		taken  bool
		wantAt netip.AddrPort
	}
	cases := []struct {
		name      string
		heard     bool
		steps     []step
		live, old uint64 // refusals counted
	}{
		{name: "same address, any time stamp", heard: true, steps: []step{
			{0, home, pkt(TypeULaw, 100, 0), true, home},
			{time.Millisecond, home, pkt(TypeULaw, 99, 0), true, home},
		}},
		{name: "new address while the old one is live", heard: true, steps: []step{
			{0, home, pkt(TypeULaw, 100, 0), true, home},
			{moveQuiet - time.Millisecond, other, pkt(TypeULaw, 200, 0), false, home},
		}, live: 1},
		{name: "gps client rebinding: quiet and newer", heard: true, steps: []step{
			{0, home, pkt(TypeULaw, 100, 20_000_000), true, home},
			{moveQuiet, other, pkt(TypeULaw, 102, 0), true, other},
			{moveQuiet + time.Millisecond, home, pkt(TypeULaw, 100, 40_000_000), false, other}, // a late packet from the old path
		}, live: 1},
		{name: "quiet but stale: a replay", heard: true, steps: []step{
			{0, home, pkt(TypeULaw, 100, 20_000_000), true, home},
			{moveQuiet, other, pkt(TypeULaw, 100, 20_000_000), false, home},
			{moveQuiet, other, pkt(TypeULaw, 100, 0), false, home},
		}, old: 2},
		{name: "mix client: sequence numbers", heard: true, steps: []step{
			{0, home, pkt(TypeULaw, 0, 500), true, home},
			{3 * time.Second, other, pkt(TypeULaw, 0, 400), false, home},
			{3 * time.Second, other, pkt(TypeULaw, 0, 650), true, other},
		}, old: 1},
		{name: "keepalives carry whole seconds", heard: true, steps: []step{
			{0, home, pkt(TypeGPS, 100, 0), true, home},
			{0, home, pkt(TypeULaw, 100, 500_000_000), true, home},
			{moveQuiet, other, pkt(TypeGPS, 100, 0), false, home},
			{moveQuiet, other, pkt(TypeGPS, 102, 0), true, other},
		}, old: 1},
		{name: "keepalives without time (mix board, no gps): quiet decides", heard: true, steps: []step{
			{0, home, pkt(TypeGPS, 0, 0), true, home},
			{time.Second, other, pkt(TypeGPS, 0, 0), false, home},
			{time.Second + moveQuiet, other, pkt(TypeGPS, 0, 0), true, other},
		}, live: 1},
		{name: "no session: any address", heard: false, steps: []step{
			{0, home, pkt(TypeULaw, 100, 0), true, home},
			{time.Millisecond, other, pkt(TypeULaw, 1, 0), true, other},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := offlineGroup(t, map[string]*Config{"x": voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"m": cl("mpw")})})
			c := g.clients[0]
			c.heard = tc.heard
			for i, s := range tc.steps {
				if got := g.follow(c, s.p, s.from, t0.Add(s.at)); got != s.taken || c.addr != s.wantAt {
					t.Errorf("step %d: taken %v at %v, want %v at %v", i, got, c.addr, s.taken, s.wantAt)
				}
			}
			if g.stats.MoveRefusedLive != tc.live || g.stats.MoveRefusedStale != tc.old {
				t.Errorf("refused live %d stale %d, want %d %d", g.stats.MoveRefusedLive, g.stats.MoveRefusedStale, tc.live, tc.old)
			}
		})
	}
}

// chan_voter's sanity check: two authenticated clients sending from one
// address and port are both disconnected.
func TestSameAddressDisconnectsBoth(t *testing.T) {
	g := offlineGroup(t, map[string]*Config{"x": voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"a": cl("apw"), "b": cl("bpw")})})
	a := netip.MustParseAddrPort("127.0.0.1:4000")
	for _, c := range g.clients {
		c.heard, c.respDigest = true, 1
		c.setAddr(a)
	}
	g.sameAddress()
	for _, c := range g.clients {
		if c.heard {
			t.Errorf("client %s still connected", c.name)
		}
	}
	if g.stats.SameAddress != 1 {
		t.Errorf("same_address = %d, want 1", g.stats.SameAddress)
	}
}
