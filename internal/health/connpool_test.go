package health

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

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
	if late == 0 || late >= started {
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
