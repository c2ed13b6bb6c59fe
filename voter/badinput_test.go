package voter

import (
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// Bad packets are counted and dropped; the voted stream carries on.
func TestBadInput(t *testing.T) {
	sink := newRTPSink(t)
	srv := startServer(t, map[string]*Config{"main": voterCfg("127.0.0.1:0", sink.addr(),
		map[string]*ClientConfig{"master": {Password: "mpw", Master: true}, "bob": cl("bpw")})})
	addr := srv.Addr("main")
	m := sim("master", "mpw", addr)
	m.Master, m.RSSI = true, func(uint64) byte { return 0 }
	b := sim("bob", "bpw", addr)
	b.Audio = constAudio(0x20)
	s := startSim(t, m, b)
	testutil.Eventually(t, 5*time.Second, "bob on RTP", func() bool { return sink.lastPayloadIs(0x20) })

	evil, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { evil.Close() })
	send := func(p []byte) {
		if _, err := evil.Write(p); err != nil {
			t.Fatal(err)
		}
	}
	// Learn the server challenge the way a client does.
	hello := Packet{Header: Header{Challenge: MakeChallenge("42")}, Kind: TypeAuth}
	send(hello.Append(nil))
	buf := make([]byte, 512)
	_ = evil.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, err := evil.Read(buf)
	if err != nil {
		t.Fatalf("no auth reply: %v", err)
	}
	var reply Packet
	if err := Decode(buf[:n], &reply); err != nil || n != 25 || reply.Digest != Digest([]byte("42"), "hostpw") {
		t.Fatalf("bad auth reply (%d bytes): %v %+v", n, err, reply.Header)
	}
	chal := reply.Challenge.Bytes()

	audio := func(digest uint32, v byte) Packet {
		return Packet{Header: Header{Sec: uint32(time.Now().Unix()), Challenge: MakeChallenge("42"), Digest: digest},
			Kind: TypeULaw, RSSI: 255, Audio: fill(FrameLen, v)}
	}
	good := audio(Digest(chal, "bpw"), 0x20)
	raw := good.Append(nil)
	send(raw[:10])                     // truncated
	send(append(raw, fill(900, 1)...)) // oversized
	send(raw[:184])                    // wrong payload size
	send(append(raw[:22:22], 0, 7))    // unknown type
	wrong := audio(Digest(chal, "not-the-password"), 0x66)
	send(wrong.Append(nil)) // wrong password
	send(raw)               // bob's digest from another address while bob sends: dropped, bob stays
	rng := rand.New(rand.NewPCG(1, 2))
	before := sink.count()
	for i := 0; i < 20000; i++ { // garbage at full rate
		g := make([]byte, 1+rng.IntN(300))
		for j := range g {
			g[j] = byte(rng.Uint32())
		}
		_, _ = evil.Write(g)
	}
	testutil.Eventually(t, 5*time.Second, "counters", func() bool {
		st := srv.Stats("main")
		return st["bad_short"] > 0 && st["bad_oversized"] > 0 && st["bad_size"] > 0 && st["bad_type"] > 0 &&
			st["unknown_digest"] > 0
	})
	testutil.Eventually(t, 5*time.Second, "bob's digest from evil handled", func() bool {
		st := srv.Stats("main")
		return st["address_refused_live"]+st["address_changes"] > 0
	})
	testutil.Eventually(t, 5*time.Second, "bob still on RTP", func() bool { return sink.gotAfter(before, 0x20) })
	if sink.gotAfter(0, 0x66) {
		t.Error("forged audio reached the RTP stream")
	}
	for _, c := range srv.Status()[0].Details["clients"].([]ClientStatus) {
		if c.Name == "bob" && (!c.Connected || c.Address == evil.LocalAddr().String()) {
			t.Errorf("bob connected %v at %s, want at its own address", c.Connected, c.Address)
		}
	}
	if st := srv.Stats("main"); st["address_changes"] != 0 || st["address_refused_live"] != 1 {
		t.Errorf("address_changes = %d, address_refused_live = %d, want 0 and 1", st["address_changes"], st["address_refused_live"])
	}
	if !s.Connected() {
		t.Error("simulated clients lost the server")
	}
	t.Logf("counters: %v", srv.Stats("main"))
}
