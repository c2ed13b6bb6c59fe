package voter

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// noteSent counts gaps over 30 ms between audio packets only.
func TestSimSendGaps(t *testing.T) {
	c := &simState{}
	t0 := time.Unix(1700000000, 0)
	audio, auth := FrameLen+25, 24
	c.noteSent(t0, audio)
	c.noteSent(t0.Add(20*time.Millisecond), audio)
	c.noteSent(t0.Add(500*time.Millisecond), auth) // not audio: ignored
	c.noteSent(t0.Add(45*time.Millisecond), audio) // 25 ms: not a gap
	c.noteSent(t0.Add(90*time.Millisecond), audio) // 45 ms: a gap
	c.noteSent(t0.Add(121*time.Millisecond), audio)
	if c.gaps.over != 2 || c.gaps.max != 45*time.Millisecond {
		t.Fatalf("gaps %d, max %v; want 2, 45ms", c.gaps.over, c.gaps.max)
	}
}

// A running simulator reports the gaps between the audio packets it really
// sent, with its own socket per client and with one shared socket.
func TestSimReportsSendGaps(t *testing.T) {
	for _, shared := range []bool{false, true} {
		sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sink.Close() })
		srv := sink.LocalAddr().(*net.UDPAddr).AddrPort()
		s := NewSim([]SimClient{{Name: "m", Server: srv, Password: "m", Master: true},
			{Name: "c", Server: srv, Password: "c"}})
		s.Shared = shared
		s.assume(MakeChallenge("12345678"))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(ctx) }()
		testutil.Eventually(t, 5*time.Second, "4 audio packets per client", func() bool {
			st := s.Status()
			return st[0].Sent >= 4 && st[1].Sent >= 4
		})
		cancel()
		<-done
		for _, st := range s.Status() {
			// At least two audio packets were sent, so a gap was measured.
			if st.MaxSendGapMS <= 0 || st.MaxSendGapMS > 1000 {
				t.Errorf("shared=%v %s: longest send gap %.3f ms", shared, st.Name, st.MaxSendGapMS)
			}
		}
		if !strings.Contains(s.Summary(), "send gaps > 30 ms") {
			t.Errorf("summary: %s", s.Summary())
		}
	}
}

// A packet that could not be sent is not a sent packet: it must not hide
// the gap it leaves, with a socket per client or with the shared socket.
func TestSimFailedSendIsNotNoted(t *testing.T) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	conn.Close() // every send now fails
	c := &simState{conn: conn, ua: conn.LocalAddr().(*net.UDPAddr), connected: true, blind: true}
	now := time.Now()
	c.frame(0, now, now)
	var b simBatch
	b.add(c, 1, now, now)
	b.flush()
	if c.sent != 2 || !c.gaps.last.IsZero() {
		t.Fatalf("built %d packets, last noted send %v; want 2 built and none noted", c.sent, c.gaps.last)
	}
}

// Asking whether the clients are connected does not use up the peak level
// that the next Status (the summary line) reports.
func TestSimConnectedKeepsPeak(t *testing.T) {
	s := NewSim([]SimClient{{Name: "a"}})
	s.clients[0].connected, s.clients[0].authed, s.clients[0].rxPeak = true, true, 16384
	if !s.Connected() {
		t.Fatal("not connected")
	}
	if p := s.Status()[0].RxPeak; p != -6 {
		t.Fatalf("peak after Connected: %d dBFS, want -6", p)
	}
}

// A simulated client builds its audio packets and takes the server's
// keepalives without allocating: at 1,000 clients (50,000 packets a
// second) per-packet garbage made the simulator collect garbage every
// 0.7 s, pausing the goroutine that paces the master.
func TestSimPacketsAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	srv := netip.MustParseAddrPort("127.0.0.1:1667")
	opts := SimOptions{Server: srv.String(), Password: "c%d", HostPassword: "hostpw", Count: 2, RSSI: "10,200", Tone: 700}
	s, err := NewSimFromOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	ch := MakeChallenge("12345678")
	s.assume(ch)
	c := s.clients[0]
	c.blind = false
	t0 := time.Unix(1700000000, 0)
	c.lastRx = t0
	var n uint64
	if a := testing.AllocsPerRun(100, func() {
		n++
		if c.build(n, t0.Add(time.Duration(n)*20*time.Millisecond), t0) == nil {
			t.Fatal("no packet built")
		}
	}); a != 0 {
		t.Errorf("build: %v allocations per packet, want 0", a)
	}
	ka := Packet{Header: Header{Challenge: ch, Digest: Digest(c.chal.Bytes(), "hostpw")}, Kind: TypeGPS}
	if a := testing.AllocsPerRun(100, func() { c.receive(&ka) }); a != 0 {
		t.Errorf("receive: %v allocations per keepalive, want 0", a)
	}
	if c.rxKeep == 0 {
		t.Error("keepalive not taken")
	}
}
