package health

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// countingPage serves status=OK (or 503 while down) and counts requests.
type countingPage struct {
	requests atomic.Int64
	down     atomic.Bool
}

func (p *countingPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	if p.down.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	statusOK(w, r)
}

func runProbes(t *testing.T, p *Probes) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// TestProbesShareEqualChecks: monitors of equal checks at equal intervals
// share one probe (every request the server sees is recorded by each of
// them) and keep their own fall; a different interval or a checker of its
// own gets a probe of its own.
func TestProbesShareEqualChecks(t *testing.T) {
	page := &countingPage{}
	s := startHTTP(t, page)
	cfg := Config{Kind: "http", URL: s.URL + "/", MustHave: "status=OK"}
	every := MonitorOptions{Interval: 20 * time.Millisecond, Jitter: -1}
	p := NewProbes()
	quick, err := p.Add("quick", cfg, MonitorOptions{Interval: every.Interval, Jitter: -1, Fall: 1})
	if err != nil {
		t.Fatal(err)
	}
	slow, _ := p.Add("slow", cfg, MonitorOptions{Interval: every.Interval, Jitter: -1, Fall: 3})
	other, _ := p.Add("other interval", cfg, MonitorOptions{Interval: time.Hour})
	own := p.AddChecker("own", CheckerFunc(func(context.Context) Result { return Result{OK: true} }), every)
	if p.Len() != 3 {
		t.Fatalf("%d distinct probes, want 3 (shared, other interval, own checker)", p.Len())
	}
	quickCh, slowCh := quick.Subscribe(), slow.Subscribe()
	stop := runProbes(t, p)
	testutil.Eventually(t, waitLimit, "both monitors OK", func() bool { return quick.Snapshot().State == OK && slow.Snapshot().State == OK })
	page.down.Store(true)
	testutil.Eventually(t, waitLimit, "slow to fall", func() bool { return slow.Snapshot().State == Err })
	stop()
	if n := other.Snapshot().Checks; n != 0 {
		t.Fatalf("the monitor at a 1h interval (first probe after 30m) was probed %d times", n)
	}
	// a probe that stop cancelled may have reached the server unrecorded
	if got, q, s := uint64(page.requests.Load()), quick.Snapshot().Checks, slow.Snapshot().Checks; q != s || got < q || got > q+1 {
		t.Errorf("server saw %d requests; quick recorded %d, slow %d: want quick = slow = requests (or one less)", got, q, s)
	}
	if own.Snapshot().Checks == 0 {
		t.Error("the monitor with its own checker was never probed")
	}
	qErr, sErr := lastChange(quickCh), lastChange(slowCh)
	if sErr.Snapshot.Checks != qErr.Snapshot.Checks+2 {
		t.Errorf("quick (fall 1) went ERR at check %d, slow (fall 3) at %d: want 2 checks later",
			qErr.Snapshot.Checks, sErr.Snapshot.Checks)
	}
}

func lastChange(ch <-chan Change) Change {
	var c Change
	for {
		select {
		case c = <-ch:
		default:
			return c
		}
	}
}

// TestProbesRunOwnsSharedMonitors: a shared monitor's own Run does not
// probe (its Probes does), and Add rejects an invalid check.
func TestProbesRunOwnsSharedMonitors(t *testing.T) {
	page := &countingPage{}
	s := startHTTP(t, page)
	p := NewProbes()
	m, err := p.Add("m", Config{Kind: "http", URL: s.URL + "/"}, MonitorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m.Run(context.Background()) // returns at once
	if page.requests.Load() != 0 || m.Snapshot().Checks != 0 {
		t.Error("Run of a shared monitor probed")
	}
	if _, err := p.Add("bad", Config{Kind: "http"}, MonitorOptions{}); err == nil {
		t.Error("Add accepted an http check without url")
	}
}

// TestProbesSpreadFirstProbes: probe i of n starts after i/n of its
// interval.
func TestProbesSpreadFirstProbes(t *testing.T) {
	var first [2]atomic.Int64
	start := time.Now()
	p := NewProbes()
	for i := range first {
		p.AddChecker("m", CheckerFunc(func(context.Context) Result {
			first[i].CompareAndSwap(0, int64(time.Since(start)))
			return Result{OK: true}
		}), MonitorOptions{Interval: 400 * time.Millisecond})
	}
	runProbes(t, p)
	testutil.Eventually(t, waitLimit, "both first probes", func() bool { return first[0].Load() > 0 && first[1].Load() > 0 })
	if d0, d1 := time.Duration(first[0].Load()), time.Duration(first[1].Load()); d0 > 150*time.Millisecond || d1 < 190*time.Millisecond {
		t.Errorf("first probes at +%v and +%v, want about +0 and +200ms", d0, d1)
	}
}

// TestProbesAddRemoveWhileRunning: a monitor added while Run runs is
// probed at once; one added with an equal check joins the running probe;
// removing the last monitor of a probe stops it.
func TestProbesAddRemoveWhileRunning(t *testing.T) {
	page := &countingPage{}
	s := startHTTP(t, page)
	cfg := Config{Kind: "http", URL: s.URL + "/", MustHave: "status=OK"}
	every := MonitorOptions{Interval: 20 * time.Millisecond, Jitter: -1}
	p := NewProbes()
	runProbes(t, p)
	a, err := p.Add("a", cfg, every)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, waitLimit, "the monitor added while running to be probed", func() bool { return a.Snapshot().State == OK })
	b, _ := p.Add("b", cfg, every)
	if p.Len() != 1 {
		t.Fatalf("%d probes, want 1 (b shares a's)", p.Len())
	}
	testutil.Eventually(t, waitLimit, "b to be probed", func() bool { return b.Snapshot().State == OK })
	p.Remove(a)
	if p.Len() != 1 {
		t.Fatalf("%d probes after removing a, want 1 (b still uses it)", p.Len())
	}
	seen := a.Snapshot().Checks
	testutil.Eventually(t, waitLimit, "b to go on being probed", func() bool { return b.Snapshot().Checks > seen+2 })
	if got := a.Snapshot().Checks; got > seen+1 { // one may have been in flight
		t.Errorf("a was probed %d times after Remove", got-seen)
	}
	p.Remove(b)
	if p.Len() != 0 {
		t.Fatalf("%d probes after removing every monitor, want 0", p.Len())
	}
	n := page.requests.Load()
	c, _ := p.Add("c", Config{Kind: "http", URL: s.URL + "/other"}, every)
	testutil.Eventually(t, waitLimit, "c to be probed", func() bool { return c.Snapshot().Checks > 2 })
	// the stopped probe sent at most the one in flight when b was removed
	if got := page.requests.Load() - n; got > int64(c.Snapshot().Checks)+1 {
		t.Errorf("server saw %d requests while only c (%d checks) should have run", got, c.Snapshot().Checks)
	}
}
