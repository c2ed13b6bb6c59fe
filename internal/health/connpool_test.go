package health

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// TestKeepAliveChecksShareConnectionsByHost: keepalive checks of one
// Probes that differ only in their path share the idle connections to the
// server: probed one after another, ten checks use one connection; the
// same checks made with New (no pool) open one each. When Run returns the
// pooled connection is closed.
func TestKeepAliveChecksShareConnectionsByHost(t *testing.T) {
	const n = 10
	for _, c := range []struct {
		name   string
		pooled bool
		want   int
	}{{"pooled", true, 1}, {"own", false, n}} {
		t.Run(c.name, func(t *testing.T) {
			s := newConnServer(t, http.HandlerFunc(statusOK))
			p := NewProbes()
			var cks []Checker
			for i := range n {
				cfg := Config{Kind: "http", URL: fmt.Sprintf("%s/s%d", s.URL, i), MustHave: "status=OK", KeepAlive: true}
				var ck Checker
				var err error
				if c.pooled {
					ck, err = newChecker(cfg, p.conns)
				} else {
					ck, err = New(cfg)
				}
				if err != nil {
					t.Fatal(err)
				}
				cks = append(cks, ck)
			}
			for round := range 2 {
				for i, ck := range cks {
					if r := ck.Check(context.Background()); !r.OK {
						t.Fatalf("round %d, check %d: %s", round, i, r.Reason)
					}
				}
			}
			if opened, _ := s.counts(); opened != c.want {
				t.Errorf("%d checks opened %d connections, want %d", n, opened, c.want)
			}
			for _, ck := range cks {
				ck.(interface{ CloseIdle() }).CloseIdle()
			}
			p.conns.close()
			testutil.Eventually(t, waitLimit, "every connection to close", func() bool {
				opened, closed := s.counts()
				return closed == opened
			})
		})
	}
}

// TestPooledFailedProbeDialsFresh: after a failed probe, a pooled check's
// next probe opens a new connection rather than taking a kept one.
func TestPooledFailedProbeDialsFresh(t *testing.T) {
	var down atomic.Bool
	s := newConnServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		statusOK(w, r)
	}))
	pool := newConnPool()
	defer pool.close()
	ck, err := newChecker(Config{Kind: "http", URL: s.URL + "/", KeepAlive: true}, pool)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, true, false, true, true} {
		down.Store(!want)
		if r := ck.Check(context.Background()); r.OK != want {
			t.Fatalf("probe %d: OK=%v (%s), want %v", i, r.OK, r.Reason, want)
		}
	}
	if opened, _ := s.counts(); opened != 2 {
		t.Errorf("opened %d connections, want 2 (one before the failure, one after)", opened)
	}
}

// TestProbesRunClosesPooledConnections: a Probes of keepalive checks to
// one server keeps no connection open once its Run has returned.
func TestProbesRunClosesPooledConnections(t *testing.T) {
	s := newConnServer(t, http.HandlerFunc(statusOK))
	p := NewProbes()
	var mons []*Monitor
	for i := range 4 {
		m, err := p.Add(fmt.Sprintf("m%d", i), Config{Kind: "http", URL: fmt.Sprintf("%s/s%d", s.URL, i), KeepAlive: true},
			MonitorOptions{Interval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		mons = append(mons, m)
	}
	stop := runProbes(t, p)
	testutil.Eventually(t, waitLimit, "three probes each", func() bool {
		for _, m := range mons {
			if m.Snapshot().Checks < 3 {
				return false
			}
		}
		return true
	})
	stop()
	if n := p.conns.idleCount(); n != 0 {
		t.Errorf("%d idle connections left in the pool after Run", n)
	}
	testutil.Eventually(t, waitLimit, "every connection to close", func() bool {
		opened, closed := s.counts()
		return closed == opened
	})
}

// TestProbesCountLateProbes: a probe that outlasts its interval makes the
// next one start late, and Stats counts it.
func TestProbesCountLateProbes(t *testing.T) {
	p := NewProbes()
	const interval = 50 * time.Millisecond // a slack of 5 ms for the first probe under -race and load
	slow := CheckerFunc(func(ctx context.Context) Result {
		select {
		case <-ctx.Done():
		case <-time.After(5 * interval):
		}
		return Result{OK: true}
	})
	p.AddChecker("slow", slow, MonitorOptions{Interval: interval, Jitter: -1})
	stop := runProbes(t, p)
	testutil.Eventually(t, waitLimit, "three probes", func() bool { started, _ := p.Stats(); return started >= 3 })
	stop()
	started, late := p.Stats()
	// the first may start late too on a loaded machine (5 ms of slack);
	// TestIsLate pins the rule itself
	if late == 0 || late < started-1 {
		t.Errorf("%d probes started, %d late: want every one after the first late", started, late)
	}
}

func TestLateSlack(t *testing.T) {
	for _, c := range []struct{ interval, want time.Duration }{
		{time.Second, 100 * time.Millisecond},
		{10 * time.Second, time.Second},
		{100 * time.Millisecond, 10 * time.Millisecond},
	} {
		if got := lateSlack(c.interval); got != c.want {
			t.Errorf("lateSlack(%v) = %v, want %v", c.interval, got, c.want)
		}
	}
}

// dialGate holds the dials of checks (net.Dialer.Control) until released,
// counting the dials in progress and their most at once.
type dialGate struct {
	release        chan struct{}
	mu             sync.Mutex
	inDial, maxNow int
}

func (g *dialGate) control(string, string, syscall.RawConn) error {
	g.mu.Lock()
	g.inDial++
	g.maxNow = max(g.maxNow, g.inDial)
	g.mu.Unlock()
	<-g.release
	g.mu.Lock()
	g.inDial--
	g.mu.Unlock()
	return nil
}

func (g *dialGate) dialling() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inDial
}

// waiting is the number of probes waiting in pool for key.
func (p *connPool) waiting(key string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	if h := p.hosts[key]; h != nil {
		for _, w := range h.waiters {
			if !w.gone {
				n++
			}
		}
	}
	return n
}

// pooledChecks makes n keepalive checks of pool at different paths of
// url, whose dials go through g.
func pooledChecks(t *testing.T, pool *connPool, url string, n int, g *dialGate, timeout time.Duration) []*httpCheck {
	var hs []*httpCheck
	for i := range n {
		cfg := Config{Kind: "http", URL: fmt.Sprintf("%s/s%d", url, i), KeepAlive: true, Timeout: config.Duration(timeout)}
		cfg.SetDefaults()
		h, err := newHTTP(cfg, pool)
		if err != nil {
			t.Fatal(err)
		}
		h.dialer.Control = g.control
		hs = append(hs, h)
	}
	return hs
}

// TestPooledBurstBoundsDials: a burst of keepalive probes to one server
// with no idle connection dials at most maxDialsPerHost at once; the others
// wait for a connection to come back or a dial to end, and every probe
// succeeds. (Before the bound each probe of a burst dialled: issue 15's
// spiral at 30,000 distinct URLs a second.)
func TestPooledBurstBoundsDials(t *testing.T) {
	const n = 4 * maxDialsPerHost
	s := newConnServer(t, http.HandlerFunc(statusOK))
	pool := newConnPool()
	defer pool.close()
	g := &dialGate{release: make(chan struct{})}
	hs := pooledChecks(t, pool, s.URL, n, g, 10*time.Second)
	results := make(chan string, n)
	var wg sync.WaitGroup
	for _, h := range hs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ok, reason := h.probe(ctx)
			if !ok {
				results <- reason
			}
		})
	}
	testutil.Eventually(t, waitLimit, "the dials to start and the other probes to wait", func() bool {
		return g.dialling() == maxDialsPerHost && pool.waiting(hs[0].key) == n-maxDialsPerHost
	})
	close(g.release)
	wg.Wait()
	close(results)
	for r := range results {
		t.Errorf("probe failed: %s", r)
	}
	if g.maxNow > maxDialsPerHost {
		t.Errorf("%d dials at once, want at most %d", g.maxNow, maxDialsPerHost)
	}
	if opened, _ := s.counts(); opened > n {
		t.Errorf("%d probes opened %d connections", n, opened)
	}
}

// probe runs one probe of h by ctx's deadline.
func (h *httpCheck) probe(ctx context.Context) (bool, string) {
	dl, _ := ctx.Deadline()
	return h.probeUntil(ctx, dl)
}

// TestPooledWaiterTimesOut: a probe waiting for a connection or a turn to
// dial ends with its timeout, and neither the turns nor the connections
// it was not given are lost: once the dials end, later probes find them.
func TestPooledWaiterTimesOut(t *testing.T) {
	s := newConnServer(t, http.HandlerFunc(statusOK))
	pool := newConnPool()
	defer pool.close()
	g := &dialGate{release: make(chan struct{})}
	hs := pooledChecks(t, pool, s.URL, maxDialsPerHost+1, g, time.Second)
	var wg sync.WaitGroup
	for _, h := range hs[:maxDialsPerHost] {
		wg.Go(func() { h.probe(context.Background()) })
	}
	testutil.Eventually(t, waitLimit, "every turn to be taken", func() bool { return g.dialling() == maxDialsPerHost })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	// Not ctx.Err(): the probe ends by its own timer for the same deadline,
	// which may fire before ctx's own.
	if ok, reason := hs[maxDialsPerHost].probe(ctx); ok || time.Now().Before(deadline) {
		t.Fatalf("waiting probe: ok %v, %q; want it to end at its deadline", ok, reason)
	}
	if n := pool.waiting(hs[0].key); n != 0 {
		t.Errorf("%d probes still waiting", n)
	}
	close(g.release)
	wg.Wait()
	pool.mu.Lock()
	dialing, idle := pool.hosts[hs[0].key].dialing, len(pool.hosts[hs[0].key].idle)
	pool.mu.Unlock()
	if dialing != 0 || idle != maxDialsPerHost {
		t.Errorf("after the dials: %d turns held, %d idle connections; want 0 and %d", dialing, idle, maxDialsPerHost)
	}
}

// TestPoolServesLastWaiterFirst: a connection given back goes to the probe
// that came last to wait (it has the most time left), a dial's end gives
// its turn to the next.
func TestPoolServesLastWaiterFirst(t *testing.T) {
	pool := newConnPool()
	const key = "192.0.2.1:80"
	for range maxDialsPerHost {
		if c, turn, err := pool.get(&probeCtx{parent: context.Background()}, key); c != nil || !turn || err != nil {
			t.Fatalf("get: %v %v %v, want a turn", c, turn, err)
		}
	}
	type got struct {
		c    *clientConn
		turn bool
	}
	first, last := make(chan got, 1), make(chan got, 1)
	for i, ch := range []chan got{first, last} {
		go func() {
			c, turn, _ := pool.get(&probeCtx{parent: context.Background()}, key)
			ch <- got{c, turn}
		}()
		testutil.Eventually(t, waitLimit, "the probe to wait", func() bool { return pool.waiting(key) == i+1 })
	}
	given := &clientConn{}
	if !pool.put(key, given) {
		t.Fatal("put refused")
	}
	select {
	case g := <-last:
		if g.c != given {
			t.Errorf("the last waiter got %+v, want the connection", g)
		}
		pool.dialDone(key)
		if g := <-first; g.c != nil || !g.turn {
			t.Errorf("the first waiter got %+v, want a turn", g)
		}
	case g := <-first:
		t.Errorf("the first waiter got %+v, want the last to get the connection", g)
		pool.dialDone(key)
		<-last
	}
}

// TestPoolForgetsWaitersThatLeft: probes that stop waiting (their timeout)
// while no connection comes back and no dial ends do not pile up in the
// pool: its list of waiters stays short.
func TestPoolForgetsWaitersThatLeft(t *testing.T) {
	pool := newConnPool()
	const key = "192.0.2.1:80"
	for range maxDialsPerHost {
		if _, turn, _ := pool.get(&probeCtx{parent: context.Background()}, key); !turn {
			t.Fatal("want a turn")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for range 1000 {
		if _, _, err := pool.get(&probeCtx{parent: ctx}, key); err == nil {
			t.Fatal("a waiter with an ended context got no error")
		}
	}
	pool.mu.Lock()
	n := len(pool.hosts[key].waiters)
	pool.mu.Unlock()
	if n > 32 {
		t.Errorf("%d waiters kept after 1000 left", n)
	}
}

// TestProbesStopEndsProbeOnKeptConnection: a probe waiting for an answer
// on a kept connection ends when the Probes stop, not at its timeout (a
// minute here): the pool's context closes the connection, as the probe's
// own context did before the probes used connection deadlines.
func TestProbesStopEndsProbeOnKeptConnection(t *testing.T) {
	release := make(chan struct{})
	var requests atomic.Int64
	s := newConnServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) > 1 {
			<-release // the second request never gets its answer
		}
		statusOK(w, r)
	}))
	t.Cleanup(func() { close(release) }) // before the server closes
	p := NewProbes()
	if _, err := p.Add("m", Config{Kind: "http", URL: s.URL + "/", KeepAlive: true, Timeout: config.Duration(time.Minute)},
		MonitorOptions{Interval: 10 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	stop := runProbes(t, p)
	testutil.Eventually(t, waitLimit, "the second request to wait", func() bool { return requests.Load() >= 2 })
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Run did not return while a probe waited on a kept connection")
	}
}

// TestProbesCountReadLate: a probe whose result says it read its answer
// late (in time by the kernel's clock) is counted in ReadLate, the source
// of redund_ddns_probes_read_late_total; others are not.
func TestProbesCountReadLate(t *testing.T) {
	p := NewProbes()
	late := CheckerFunc(func(context.Context) Result { return Result{OK: true, ReadLate: true, Time: time.Now()} })
	onTime := CheckerFunc(func(context.Context) Result { return Result{OK: true, Time: time.Now()} })
	p.AddChecker("late", late, MonitorOptions{Interval: 20 * time.Millisecond, Jitter: -1})
	p.AddChecker("on time", onTime, MonitorOptions{Interval: 20 * time.Millisecond, Jitter: -1})
	stop := runProbes(t, p)
	testutil.Eventually(t, waitLimit, "six probes", func() bool { started, _ := p.Stats(); return started >= 6 })
	stop()
	started, _ := p.Stats()
	if n := p.ReadLate(); n == 0 || n >= started {
		t.Errorf("%d probes started, %d counted read late: want those of the late checker only", started, n)
	}
}
