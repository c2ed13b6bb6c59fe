package voter

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// linkToken is what anyone can get without a password while the primary
// runs: the primary's challenge and the secondary's reply digest
// CRC(secondary challenge + host password), which the primary puts in its
// answer to any packet that carries the secondary's challenge.
func linkToken(t *testing.T, prim, sec *running) (Challenge, uint32) {
	t.Helper()
	c := udp(t)
	hello := Packet{Header: Header{Challenge: MakeChallenge("777")}, Kind: TypeAuth}
	schal := exchange(t, c, sec.Addr("red"), &hello, TypeAuth, false).Challenge
	ask := Packet{Header: Header{Challenge: schal}, Kind: TypeAuth}
	r := exchange(t, c, prim.Addr("red"), &ask, TypeAuth, false)
	return r.Challenge, r.Digest
}

func linkAddr(s *running) netip.AddrPort {
	return s.insts["red"].link.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func peerUp(s *running) bool {
	d := docOf(s, "red")
	return d.Peer != nil && d.Peer.Connected
}

// A stranger who asked the primary once (no password) and then sends that
// answer, as a keepalive, to the secondary's link socket every 200 ms from
// its own address must not keep the secondary proxying to a dead primary:
// its clients would get no server at all. Each probe of the link carries a
// fresh challenge; only a digest of a recent one counts.
func TestLinkNotKeptUpByReplayedToken(t *testing.T) {
	prim := startServer(t, pairCfg("127.0.0.1:0", "", ""))
	sec := startServer(t, pairCfg("127.0.0.1:0", "", fmt.Sprintf("%s,linkpw", prim.Addr("red"))))
	testutil.Eventually(t, 8*time.Second, "proxy link up", func() bool { return peerUp(sec) })
	pchal, digest := linkToken(t, prim, sec)
	prim.stop()

	attacker := udp(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		ka := Packet{Header: Header{Challenge: pchal, Digest: digest}, Kind: TypeGPS}
		tk := time.NewTicker(200 * time.Millisecond)
		defer tk.Stop()
		for {
			_, _ = attacker.WriteToUDPAddrPort(ka.Append(nil), linkAddr(sec))
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	defer func() { close(stop); <-done }()
	testutil.Eventually(t, 5*time.Second, "secondary serving after the primary stopped", func() bool { return !peerUp(sec) })
	if d := docOf(sec, "red"); d.State != StateServing.String() {
		t.Errorf("state %q, want serving", d.State)
	}
}

// A packet on the link socket with the reply digest but another primary
// challenge (a stranger's, from any address) must not reset a link to a
// live primary: that would make the secondary stop proxying at will.
func TestLinkNotResetBySpoofedChallenge(t *testing.T) {
	prim := startServer(t, pairCfg("127.0.0.1:0", "", ""))
	sec := startServer(t, pairCfg("127.0.0.1:0", "", fmt.Sprintf("%s,linkpw", prim.Addr("red"))))
	testutil.Eventually(t, 8*time.Second, "proxy link up", func() bool { return peerUp(sec) })
	_, digest := linkToken(t, prim, sec)
	since := docOf(sec, "red").Peer.Since
	attacker := udp(t)
	for i := range 10 {
		p := Packet{Header: Header{Challenge: MakeChallenge(fmt.Sprint(12345670 + i)), Digest: digest},
			Kind: TypeAuth, HasFlags: true, Flags: FlagMix}
		if _, err := attacker.WriteToUDPAddrPort(p.Append(nil), linkAddr(sec)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // sleep: paces the attack; the link must stay up all along
		if d := docOf(sec, "red"); !d.Peer.Connected || !d.Peer.Since.Equal(since) {
			t.Fatalf("after %d spoofed packets: peer connected %v since %v (was %v), reason %q",
				i+1, d.Peer.Connected, d.Peer.Since, since, d.Peer.Reason)
		}
	}
	testutil.Eventually(t, 5*time.Second, "spoofed packets counted", func() bool {
		return sec.Stats("red")["link_unverified"] >= 10
	})
}

// A primary that restarts every second (crash loop) must not flap the
// secondary's clients between proxying and serving: the link proxies
// only after the primary has answered for the hold-down time.
func TestLinkHoldDownOnFlappingPrimary(t *testing.T) {
	var logs testutil.Buffer
	prim := startServer(t, pairCfg("127.0.0.1:0", "", ""))
	paddr := prim.Addr("red")
	sec := startServerOpts(t, pairCfg("127.0.0.1:0", "", fmt.Sprintf("%s,linkpw", paddr)),
		Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	const upLine = "proxy link to primary up"
	linkPackets := func(s *running) uint64 {
		for _, c := range docOf(s, "red").Details["clients"].([]ClientStatus) {
			if c.Name == "secondary-link" {
				return c.Packets
			}
		}
		return 0
	}
	for i := range 5 {
		testutil.Eventually(t, 5*time.Second, "the primary answering the link", func() bool { return linkPackets(prim) >= 2 })
		prim.stop()
		if n := strings.Count(logs.String(), upLine); n != 0 {
			t.Fatalf("restart %d: the secondary went to proxying %d times for a primary that answered about 1 s", i, n)
		}
		prim = startServer(t, pairCfg(paddr.String(), "", ""))
	}
	testutil.Eventually(t, 8*time.Second, "proxy link up once the primary stays", func() bool { return peerUp(sec) })
	if n := strings.Count(logs.String(), upLine); n != 1 {
		t.Errorf("link went up %d times, want 1", n)
	}
}

// The status says how old the last verified reply of the primary is, so a
// "proxying" can be judged; once the primary stops it grows until the
// link is declared down.
func TestStatusShowsLastVerifiedReply(t *testing.T) {
	prim := startServer(t, pairCfg("127.0.0.1:0", "", ""))
	sec := startServer(t, pairCfg("127.0.0.1:0", "", fmt.Sprintf("%s,linkpw", prim.Addr("red"))))
	testutil.Eventually(t, 8*time.Second, "proxy link up", func() bool { return peerUp(sec) })
	d := docOf(sec, "red")
	age, ok := d.Details["peer_reply_age_s"].(float64)
	if !ok || age < 0 || age > 2 || !strings.Contains(d.Reason, "last verified reply") {
		t.Fatalf("proxying: peer_reply_age_s %v (%T), reason %q", d.Details["peer_reply_age_s"], d.Details["peer_reply_age_s"], d.Reason)
	}
	prim.stop()
	testutil.Eventually(t, 5*time.Second, "link down", func() bool { return !peerUp(sec) })
	d = docOf(sec, "red")
	if age, _ := d.Details["peer_reply_age_s"].(float64); age < 2 {
		t.Errorf("down: peer_reply_age_s %v, want >= 2", d.Details["peer_reply_age_s"])
	}
}

// A packet "from the primary" for a client is sent on only to that
// client's own address: the proxy header's address is the sender's word,
// and the client's digest is in every packet the client sends, so anyone
// on its path could otherwise make the secondary send to any address.
func TestRelayOnlyToTheClientsAddress(t *testing.T) {
	prim := startServer(t, pairCfg("127.0.0.1:0", "", ""))
	sec := startServer(t, pairCfg("127.0.0.1:0", "", fmt.Sprintf("%s,linkpw", prim.Addr("red"))))
	testutil.Eventually(t, 8*time.Second, "proxy link up", func() bool { return peerUp(sec) })
	c := sim("c", "cpw", sec.Addr("red"))
	c.RSSI = func(uint64) byte { return 100 }
	startSim(t, c)
	testutil.Eventually(t, 5*time.Second, "c forwarded", func() bool { return sec.Stats("red")["forwarded"] > 3 })

	victim := newRTPSink(t)
	vaddr := netip.MustParseAddrPort(victim.addr())
	schal := docOfChallenge(t, sec)
	attacker := udp(t)
	p := Packet{Header: Header{Challenge: MakeChallenge("555"), Digest: Digest(schal.Bytes(), "cpw")}, Kind: TypeGPS,
		Proxied: true, Proxy: ProxyHeader{Addr: vaddr.Addr().As4(), Port: vaddr.Port()}}
	st := sec.Stats("red")
	base, relayed := st["bad_proxy"]+st["relayed"], st["relayed"]
	for range 5 {
		if _, err := attacker.WriteToUDPAddrPort(p.Append(nil), sec.Addr("red")); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, 5*time.Second, "the packets handled", func() bool {
		st := sec.Stats("red")
		return st["bad_proxy"]+st["relayed"] >= base+5
	})
	if n := sec.Stats("red")["relayed"] - relayed; n != 0 {
		t.Errorf("relayed %d packets to an address named in a proxy header", n)
	}
	if n := victim.count(); n != 0 {
		t.Errorf("the secondary sent %d packets to an address named in a proxy header", n)
	}
}

// docOfChallenge asks a server for its challenge, as anyone can.
func docOfChallenge(t *testing.T, s *running) Challenge {
	t.Helper()
	hello := Packet{Header: Header{Challenge: MakeChallenge("777")}, Kind: TypeAuth}
	return exchange(t, udp(t), s.Addr("red"), &hello, TypeAuth, false).Challenge
}
