package voter

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
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
	// cycle starts and their master packets' arrivals, ms: two gaps > 30 ms
	// between starts; of those, the first packet came in time (20 ms after
	// the one before) and waited 15 ms, the second came late itself
	for _, c := range [][2]time.Duration{{0, 0}, {20, 20}, {40, 40}, {75, 60}, {95, 95}, {140, 139}} {
		g.cycles.add(t0.Add(c[0]*time.Millisecond), t0.Add(c[1]*time.Millisecond), time.Millisecond)
	}
	listen := map[string]string{"listen": "127.0.0.1:1667"}
	if v := counterValue(t, reg, "redund_voter_cycle_missed_total", listen); v != 2 {
		t.Errorf("redund_voter_cycle_missed_total = %v, want 2", v)
	}
	if v := counterValue(t, reg, "redund_voter_cycle_missed_arrival_total", listen); v != 1 {
		t.Errorf("redund_voter_cycle_missed_arrival_total = %v, want 1", v)
	}
	if r := g.cycles.report(); r.WaitMaxMS != 15 || r.MissedArrival != 1 {
		t.Errorf("report %+v, want wait_max_ms 15, missed_arrival 1", r)
	}
}

// The reader gives each datagram the kernel's receive time: not before
// the send, not after the read.
func TestBatchReaderStamps(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("receive time stamps are read on Linux only")
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r, err := newBatchReader(conn, 4, 2048)
	if err != nil {
		t.Fatal(err)
	}
	out, err := net.DialUDP("udp4", nil, conn.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	before := time.Now()
	if _, err := out.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	n, err := r.read()
	after := time.Now()
	if err != nil || n != 1 {
		t.Fatalf("read %d, %v", n, err)
	}
	at := r.stamp(0)
	// the kernel's clock is the wall clock; allow it 1 ms of rounding
	if at.Before(before.Round(0).Add(-time.Millisecond)) || at.After(after.Round(0).Add(time.Millisecond)) {
		t.Errorf("stamp %v not within [%v, %v]", at, before, after)
	}
}
