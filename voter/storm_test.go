package voter

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// stormCounters sums the counters that an auth-reply storm between two
// servers drives up.
func stormCounters(servers ...*running) (unknown, replies uint64) {
	for _, s := range servers {
		st := s.Stats("red")
		unknown += st["unknown_digest"]
		replies += st["auth_replies"]
	}
	return unknown, replies
}

// TestPairRestartNoAuthStorm restarts the secondary and then the primary of
// a pair, each within the other's timeouts, and checks that the servers do
// not answer each other's stale proxy packets and auth replies forever.
func TestPairRestartNoAuthStorm(t *testing.T) {
	psink, ssink := newRTPSink(t), newRTPSink(t)
	prim := startServer(t, pairCfg("127.0.0.1:0", psink.addr(), ""))
	paddr := prim.Addr("red")
	secCfg := func(listen string) map[string]*Config {
		return pairCfg(listen, ssink.addr(), fmt.Sprintf("%s,linkpw", paddr))
	}
	sec := startServer(t, secCfg("127.0.0.1:0"))
	saddr := sec.Addr("red")
	mk := func(name string, srv netip.AddrPort, v byte) SimClient {
		c := sim(name, name+"pw", srv)
		c.RSSI, c.Audio = func(uint64) byte { return 150 }, constAudio(v)
		return c
	}
	startSim(t, mk("b", saddr, 0x22), mk("c", saddr, 0x33))
	linkUp := func(s *running) func() bool {
		return func() bool { return s.Status()[0].Peer != nil && s.Status()[0].Peer.Connected }
	}
	testutil.Eventually(t, 15*time.Second, "proxy link up", linkUp(sec))
	testutil.Eventually(t, 5*time.Second, "proxied audio on the primary", func() bool { return prim.Stats("red")["proxied_in"] > 20 })

	// Secondary restarts at once: the primary still holds its old challenge.
	// The new secondary's packets come from a new address while the old one
	// has been quiet for less than moveQuiet, so the primary takes them only
	// after that (a replay from elsewhere would look the same): a wait of
	// a few seconds more than before the rule, not a failure.
	sec.stop()
	sec2 := startServer(t, secCfg(saddr.String()))
	testutil.Eventually(t, 15*time.Second, "link up from the new secondary", linkUp(sec2))
	n := prim.Stats("red")["proxied_in"]
	testutil.Eventually(t, 5*time.Second, "proxied audio again", func() bool { return prim.Stats("red")["proxied_in"] > n+50 })

	// Primary restarts at once: the secondary forwards with a stale digest.
	prim.stop()
	prim2 := startServer(t, pairCfg(paddr.String(), psink.addr(), ""))
	testutil.Eventually(t, 15*time.Second, "proxied audio on the new primary", func() bool { return prim2.Stats("red")["proxied_in"] > 50 })
	// Let any storm show itself: 100 more proxied frames (about 1 s).
	n = prim2.Stats("red")["proxied_in"]
	testutil.Eventually(t, 5*time.Second, "more proxied audio", func() bool { return prim2.Stats("red")["proxied_in"] > n+100 })

	unknown, replies := stormCounters(prim, prim2, sec, sec2)
	t.Logf("unknown_digest %d, auth_replies %d", unknown, replies)
	// Stale digests are expected for a moment after each restart (the
	// secondary forwards about 100 frames a second until its link sees the
	// new challenge); a storm makes tens of thousands a second.
	if unknown > 400 {
		t.Errorf("unknown_digest = %d after two restarts: auth-reply storm", unknown)
	}
	if replies > 50 {
		t.Errorf("auth_replies = %d after two restarts: auth-reply storm", replies)
	}
}

// offlineGroup builds a server's first group without sockets; packets it
// sends are left in g.q for the test to read.
func offlineGroup(t *testing.T, cfgs map[string]*Config) *group {
	t.Helper()
	s, err := New(cfgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := s.groups[0]
	g.q = newSendQueue()
	return g
}

// sent returns and forgets what g queued.
func sent(g *group) [][]byte {
	var out [][]byte
	for i := 0; i < g.q.n; i++ {
		out = append(out, append([]byte(nil), g.q.bufs[i]...))
	}
	g.q.n = 0
	return out
}

func TestNoReplyToPeerServers(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"a": cl("apw")})
	cfg.Challenge = "12345678"
	g := offlineGroup(t, map[string]*Config{"x": cfg})
	from := netip.MustParseAddrPort("127.0.0.1:4000")
	now := time.Unix(1700000000, 0)
	other := MakeChallenge("87654321")
	stale := Packet{Header: Header{Challenge: other, Digest: 0x1234}, Kind: TypeGPS, Proxied: true,
		Proxy: ProxyHeader{Addr: [4]byte{127, 0, 0, 1}, Port: 5000}}
	peerReply := Packet{Header: Header{Challenge: other, Digest: Digest([]byte("12345678"), "hostpw")},
		Kind: TypeAuth, HasFlags: true}
	for _, p := range []Packet{stale, peerReply} {
		g.handle(p.Append(nil), from, now)
		if out := sent(g); len(out) != 0 {
			t.Errorf("answered a peer server's packet (proxied %v, digest %08x): %x", p.Proxied, p.Digest, out)
		}
	}
	// An unknown client gets one reply, then none for authReplyEvery.
	unknown := Packet{Header: Header{Challenge: other, Digest: 0x1234}, Kind: TypeGPS}
	for i, want := range []int{1, 0, 0, 1} {
		at := now.Add(time.Duration(i) * authReplyEvery / 3)
		g.handle(unknown.Append(nil), from, at)
		if n := len(sent(g)); n != want {
			t.Errorf("packet %d at +%v: %d replies, want %d", i, at.Sub(now), n, want)
		}
	}
	// Another source is answered at once.
	g.handle(unknown.Append(nil), netip.MustParseAddrPort("127.0.0.1:4001"), now)
	if n := len(sent(g)); n != 1 {
		t.Errorf("second source: %d replies, want 1", n)
	}
}
