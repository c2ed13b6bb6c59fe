package voter

import (
	"context"
	"net"
	"testing"
	"time"
)

// timedSink records RTP packets with their arrival times.
type timedSink struct {
	conn *net.UDPConn
	ch   chan timedPkt
}

type timedPkt struct {
	b  []byte
	at time.Time
}

func newTimedSink(t *testing.T) *timedSink {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s := &timedSink{conn: c, ch: make(chan timedPkt, 4096)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			s.ch <- timedPkt{append([]byte(nil), buf[:n]...), time.Now()}
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return s
}

// next waits for the next packet (bounded).
func (s *timedSink) next(t *testing.T) timedPkt {
	t.Helper()
	select {
	case p := <-s.ch:
		return p
	case <-time.After(5 * time.Second):
		t.Fatal("no RTP packet within 5 s")
		return timedPkt{}
	}
}

// When the master timing source stops, the voted stream pauses; when it
// is back, the first packet carries the marker bit and its timestamp has
// advanced by the silent time (RFC 3550 5.1), decoded from the packets a
// real UDP socket received. Inside a talkspurt the timestamp goes up by
// 160 and no packet has the marker.
func TestRTPPauseMarkerAndTimestamp(t *testing.T) {
	sink := newTimedSink(t)
	srv := startServer(t, map[string]*Config{"main": voterCfg("127.0.0.1:0", sink.conn.LocalAddr().String(),
		map[string]*ClientConfig{"gps": {Password: "mpw", Master: true}})})
	m := sim("gps", "mpw", srv.Addr("main"))
	m.Master = true
	ctx, cancel := context.WithCancel(context.Background())
	first := NewSim([]SimClient{m})
	done := make(chan struct{})
	go func() { defer close(done); _ = first.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	prev := sink.next(t)
	if prev.b[1]&0x80 == 0 {
		t.Error("first packet of the stream has no marker")
	}
	for i := 0; i < 20; i++ { // one talkspurt
		p := sink.next(t)
		if p.b[1]&0x80 != 0 || rtpTS(p.b) != rtpTS(prev.b)+FrameLen || rtpSeq(p.b) != rtpSeq(prev.b)+1 {
			t.Fatalf("inside a talkspurt: % x after % x", p.b[:12], prev.b[:12])
		}
		prev = p
	}
	cancel()
	<-done
	for len(sink.ch) > 0 || time.Since(prev.at) < 100*time.Millisecond { // drain what was in flight
		select {
		case prev = <-sink.ch:
		case <-time.After(150 * time.Millisecond):
		}
	}
	time.Sleep(400 * time.Millisecond) // sleep: the pause whose length the timestamp must show
	startSim(t, m)
	p := sink.next(t)
	gapFrames := float64(p.at.Sub(prev.at)) / float64(cycleEvery)
	got := float64(rtpTS(p.b)-rtpTS(prev.b)) / FrameLen
	if p.b[1]&0x80 == 0 {
		t.Errorf("first packet after a %.0f-frame pause has no marker", gapFrames)
	}
	if rtpSeq(p.b) != rtpSeq(prev.b)+1 {
		t.Errorf("sequence %d after %d, want +1", rtpSeq(p.b), rtpSeq(prev.b))
	}
	if got < gapFrames-3 || got > gapFrames+3 || got < 20 {
		t.Errorf("timestamp advanced %.0f frames over a %.1f-frame pause", got, gapFrames)
	}
}
