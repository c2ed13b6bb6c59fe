package voter

import (
	"net/netip"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// A client whose NAT mapping changes keeps working at once: a packet with
// its valid digest from a new address is accepted and the server's next
// packets go there.
func TestNATRebinding(t *testing.T) {
	srv := startServer(t, map[string]*Config{"x": voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"m": cl("mpw")})})
	addr := srv.Addr("x")
	oldSock, newSock := udp(t), udp(t)
	auth := Packet{Header: Header{Challenge: MakeChallenge("31337")}, Kind: TypeAuth, HasFlags: true, Flags: FlagMix}
	chal := exchange(t, oldSock, addr, &auth, TypeAuth, false).Challenge
	auth.Digest = Digest(chal.Bytes(), "mpw")
	if r := exchange(t, oldSock, addr, &auth, TypeAuth, false); r.Flags != FlagMix {
		t.Fatalf("mix auth reply %+v", r)
	}
	audio := Packet{Header: Header{Nsec: 3, Challenge: auth.Challenge, Digest: auth.Digest},
		Kind: TypeULaw, RSSI: 100, Audio: fill(FrameLen, 0x30)}
	if _, err := newSock.WriteToUDPAddrPort(audio.Append(nil), addr); err != nil {
		t.Fatal(err)
	}
	want := newSock.LocalAddr().String()
	testutil.Eventually(t, time.Second, "client at its new address", func() bool {
		cs := srv.Status()[0].Details["clients"].([]ClientStatus)
		return cs[0].Address == want && cs[0].Connected
	})
	// The keepalive (at most 1 s after the last packet sent) goes to the new address.
	if ka := readKind(t, newSock, TypeGPS, false); ka.Digest != Digest([]byte("31337"), "hostpw") {
		t.Errorf("keepalive at the new address %+v", ka)
	}
	if st := srv.Stats("x"); st["address_changes"] != 1 {
		t.Errorf("address_changes = %d, want 1", st["address_changes"])
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
