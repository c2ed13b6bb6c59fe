package voter

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// sendRTP sends n PCMU packets of value v from s to to.
func (s *rtpSink) sendRTP(t *testing.T, to *net.UDPAddr, n int, v byte) {
	t.Helper()
	for i := 0; i < n; i++ {
		p := make([]byte, 12+FrameLen)
		p[0] = 0x80
		binary.BigEndian.PutUint16(p[2:], uint16(i+1))
		for j := 12; j < len(p); j++ {
			p[j] = v
		}
		if _, err := s.conn.WriteToUDP(p, to); err != nil {
			t.Fatal(err)
		}
	}
}

// rtpInState reads an instance's transmit counters and latched
// destination under the socket's lock.
func rtpInState(s *running, name string) (st rtpInStats, dest *net.UDPAddr) {
	in := s.insts[name]
	in.g.mu.Lock()
	defer in.g.mu.Unlock()
	return in.txStats, in.rtpDest
}

// TestRTPInFromPinsSource: with rtp_in_from, RTP from any other address is
// counted and dropped: it is not transmitted and the voted stream does not
// latch onto it. Without the pin (the old behaviour) a stranger's packets
// were queued for the radios and the voted audio went to the stranger.
func TestRTPInFromPinsSource(t *testing.T) {
	cfg := voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"mixer": cl("xpw")})
	cfg.RTPIn = "127.0.0.1:0"
	cfg.RTPInFrom = []string{"127.0.0.2"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, map[string]*Config{"red": cfg})
	x := sim("mixer", "xpw", srv.Addr("red"))
	x.Mix, x.Audio = true, constAudio(0x21)
	startSim(t, x)
	rtpIn := net.UDPAddrFromAddrPort(srv.RTPInAddr("red"))

	stranger := newRTPSinkOn(t, "127.0.0.1")
	stranger.sendRTP(t, rtpIn, 5, 0x55)
	testutil.Eventually(t, 5*time.Second, "the stranger's 5 packets handled", func() bool {
		st, _ := rtpInState(srv, "red")
		return st.Packets+st.Refused+st.Bad+st.Late >= 5
	})
	if st, dest := rtpInState(srv, "red"); st.Refused != 5 || st.Packets != 0 || dest != nil {
		t.Fatalf("stranger: refused %d, queued %d, latched to %v; want 5 refused, none queued, no latch", st.Refused, st.Packets, dest)
	}

	pbx := newRTPSinkOn(t, "127.0.0.2")
	pbx.sendRTP(t, rtpIn, 5, 0x55)
	testutil.Eventually(t, 5*time.Second, "voted audio back at the allowed sender", func() bool { return pbx.lastPayloadIs(0x21) })
	if st, _ := rtpInState(srv, "red"); st.Packets != 5 || st.Refused != 5 {
		t.Errorf("after the allowed sender: queued %d, refused %d; want 5 and 5", st.Packets, st.Refused)
	}
	if n := stranger.count(); n != 0 {
		t.Errorf("the stranger received %d packets", n)
	}
	if got := srv.Status()[0].Details["rtp_in_refused"]; got != uint64(5) {
		t.Errorf("status rtp_in_refused = %v, want 5", got)
	}
}
