package voter

import (
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/redund/redund/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A master timing source and two GPS clients: the one with the higher RSSI
// is what leaves on RTP, and the RTP numbering is continuous.
func TestVoteWinnerOnRTP(t *testing.T) {
	sink := newRTPSink(t)
	master := &ClientConfig{Password: "mpw", Master: true}
	srv := startServer(t, map[string]*Config{"main": voterCfg("127.0.0.1:0", sink.addr(),
		map[string]*ClientConfig{"master": master, "alice": cl("apw"), "bob": cl("bpw")})})
	addr := srv.Addr("main")
	ra, rb := newRSSI(100), newRSSI(200)
	m := sim("master", "mpw", addr)
	m.Master, m.RSSI, m.Audio = true, func(uint64) byte { return 10 }, constAudio(0x30)
	a := sim("alice", "apw", addr)
	a.RSSI, a.Audio = varRSSI(ra), constAudio(0x10)
	b := sim("bob", "bpw", addr)
	b.RSSI, b.Audio = varRSSI(rb), constAudio(0x20)
	s := startSim(t, m, a, b)
	testutil.Eventually(t, 5*time.Second, "clients connected", s.Connected)
	testutil.Eventually(t, 5*time.Second, "bob's audio on RTP", func() bool { return sink.lastPayloadIs(0x20) })
	rb.Store(50)
	testutil.Eventually(t, 5*time.Second, "alice's audio on RTP", func() bool { return sink.lastPayloadIs(0x10) })
	ra.Store(0)
	rb.Store(0)
	testutil.Eventually(t, 5*time.Second, "master's audio on RTP", func() bool { return sink.lastPayloadIs(0x30) })

	n := sink.count()
	testutil.Eventually(t, 5*time.Second, "more RTP", func() bool { return sink.count() > n+25 })
	pk := sink.since(0)
	if len(pk) < 25 {
		t.Fatalf("only %d RTP packets", len(pk))
	}
	for i := 1; i < len(pk); i++ {
		p, q := pk[i-1], pk[i]
		if q[0] != 0x80 || q[1]&0x7f != 0 || rtpSSRC(q) != rtpSSRC(p) ||
			rtpSeq(q) != rtpSeq(p)+1 || rtpTS(q) != rtpTS(p)+FrameLen {
			t.Fatalf("packet %d breaks the stream: % x then % x", i, p[:12], q[:12])
		}
	}
	if pk[0][1]&0x80 == 0 {
		t.Error("first packet has no marker bit")
	}
}

// Without a master timing source the timer drives the cycle: mix clients
// are served and summed; GPS-timed clients are refused.
func TestTimerModeMix(t *testing.T) {
	sink := newRTPSink(t)
	srv := startServer(t, map[string]*Config{"main": voterCfg("127.0.0.1:0", sink.addr(),
		map[string]*ClientConfig{"mixer": cl("xpw"), "gps": cl("gpw")})})
	addr := srv.Addr("main")
	x := sim("mixer", "xpw", addr)
	x.Mix, x.Audio, x.RSSI = true, constAudio(0x21), func(uint64) byte { return 100 }
	g := sim("gps", "gpw", addr)
	g.Audio = constAudio(0x44)
	s := startSim(t, x, g)
	testutil.Eventually(t, 5*time.Second, "mix audio on RTP", func() bool { return sink.lastPayloadIs(0x21) })
	testutil.Eventually(t, 5*time.Second, "gps client refused", func() bool { return srv.Stats("main")["no_timing"] > 0 })
	if st := s.Status()[0]; st.Flags&FlagMix == 0 {
		t.Errorf("mix client got flags %#x, want mix", st.Flags)
	}
	if sink.gotAfter(0, 0x44) {
		t.Error("audio of a refused client on RTP")
	}
}

// With rtp_in and no rtp_out, the voted stream goes back to whoever sends
// transmit audio (symmetric RTP, as Asterisk's chan_rtp expects).
func TestRTPLatch(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"mixer": cl("xpw")})
	cfg.RTPIn = "127.0.0.1:0"
	srv := startServer(t, map[string]*Config{"red": cfg})
	x := sim("mixer", "xpw", srv.Addr("red"))
	x.Mix, x.Audio = true, constAudio(0x21)
	startSim(t, x)
	peer := newRTPSink(t)
	p := make([]byte, 12+FrameLen)
	p[0] = 0x80
	if _, err := peer.conn.WriteToUDP(p, net.UDPAddrFromAddrPort(srv.RTPInAddr("red"))); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "voted audio back at the RTP peer", func() bool { return peer.lastPayloadIs(0x21) })
}
