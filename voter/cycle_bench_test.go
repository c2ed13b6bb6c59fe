package voter

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redund/redund/internal/config"
)

// primary1000 is a bound primary with n GPS-timed clients and a master,
// every client connected and sending to a sink socket.
func primary1000(tb testing.TB, n int) (*group, *net.UDPConn) {
	tb.Helper()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { sink.Close() })
	clients := map[string]*ClientConfig{"gps": {Password: "gps-master", Master: true}}
	for i := 0; i < n; i++ {
		clients[fmt.Sprint("c", i)] = &ClientConfig{Password: config.Secret(fmt.Sprint("c", i))}
	}
	cfg := &Config{Listen: "127.0.0.1:0", Password: "hostpw", Challenge: "12345678", Clients: clients}
	s, err := New(map[string]*Config{"pri": cfg}, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.close)
	g := s.groups[0]
	to := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	now := time.Now()
	for i, c := range g.clients {
		c.heard = true
		c.setAddr(netip.AddrPortFrom(to.Addr(), to.Port()))
		c.respChal, c.respDigest = MakeChallenge("42"), uint32(i+1)
		c.lastHeard, c.lastSent = now, now.Add(-time.Duration(i)*time.Millisecond)
	}
	g.masterSec, g.masterNsec = uint32(now.Unix()), 0
	g.q = g.tq
	return g, sink
}

// One voting cycle with 1,000 connected clients allocates nothing, the
// keepalives it sends included.
func TestCycleAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	g, _ := primary1000(t, 1000)
	now := time.Now()
	audio := fill(FrameLen, 0x55)
	run := func() {
		now = now.Add(cycleEvery)
		for _, c := range g.clients {
			c.place(2*FrameLen, 100, audio)
			c.lastHeard = now
		}
		g.cycle(now)
		g.tq.flush()
	}
	if n := testing.AllocsPerRun(60, run); n != 0 {
		t.Errorf("%v allocations per cycle, want 0", n)
	}
	if g.tq.sent.Load() == 0 {
		t.Error("no keepalive sent in 1.2 s of cycles")
	}
	if g.cycles.n != 61 || g.insts[0].winner == nil {
		t.Errorf("cycles %d, winner %v", g.cycles.n, g.insts[0].winner)
	}
}

// BenchmarkCycle is one 20 ms voting cycle of a primary with N clients,
// each with a frame placed (the frames' placement included).
func BenchmarkCycle(b *testing.B) {
	for _, n := range []int{100, 400, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			g, _ := primary1000(b, n)
			now := time.Now()
			audio := fill(FrameLen, 0x55)
			b.ReportAllocs()
			for b.Loop() {
				now = now.Add(cycleEvery)
				for _, c := range g.clients {
					c.place(2*FrameLen, 100, audio)
					c.lastHeard = now
				}
				g.cycle(now)
				g.tq.flush()
			}
		})
	}
}

// redund_voter_cycle_missed_total counts cycles that start more than 30 ms
// after the one before, as the status's cycle.missed does.
func TestCycleMissedMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := voterCfg("127.0.0.1:1667", "", map[string]*ClientConfig{"c": cl("cpw")})
	s, err := New(map[string]*Config{"pri": cfg}, Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	g := s.groups[0]
	t0 := time.Unix(1700000000, 0)
	for _, at := range []time.Duration{0, 20, 40, 75, 95, 140} { // two gaps > 30 ms
		g.cycles.add(t0.Add(at*time.Millisecond), time.Millisecond)
	}
	if v := counterValue(t, reg, "redund_voter_cycle_missed_total", map[string]string{"listen": "127.0.0.1:1667"}); v != 2 {
		t.Errorf("redund_voter_cycle_missed_total = %v, want 2", v)
	}
}
