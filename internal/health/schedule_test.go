package health

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestNextStartCountsFromTheSchedule: the interval runs from start to
// start: a probe's duration does not stretch it, and after a probe that
// outlasted it the next one starts at once.
func TestNextStartCountsFromTheSchedule(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name       string
		probeTook  time.Duration
		delay      time.Duration
		wantOffset time.Duration // from t0
	}{
		{"fast probe", 5 * time.Millisecond, time.Second, time.Second},
		{"slow probe", 700 * time.Millisecond, time.Second, time.Second},
		{"probe outlasted the interval", 1500 * time.Millisecond, time.Second, 1500 * time.Millisecond},
		{"jitter shortens", 100 * time.Millisecond, 900 * time.Millisecond, 900 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := nextStart(t0, t0.Add(c.probeTook), c.delay).Sub(t0)
			if got != c.wantOffset {
				t.Errorf("%s: next probe at +%v, want +%v", c.name, got, c.wantOffset)
			}
		})
	}
}

// TestMonitorRunsStartToStart: with probes taking 300 ms at interval
// 400 ms, probes start about 400 ms apart (counted from the end of each
// probe they would be at least 700 ms apart).
func TestMonitorRunsStartToStart(t *testing.T) {
	var mu sync.Mutex
	var starts []time.Time
	slow := CheckerFunc(func(ctx context.Context) Result {
		mu.Lock()
		starts = append(starts, time.Now())
		mu.Unlock()
		select {
		case <-time.After(300 * time.Millisecond):
		case <-ctx.Done():
		}
		return Result{OK: true}
	})
	runMonitor(t, NewMonitor("slow", slow, MonitorOptions{Interval: 400 * time.Millisecond, Jitter: -1}))
	testutil.Eventually(t, waitLimit, "four probes", func() bool { mu.Lock(); defer mu.Unlock(); return len(starts) >= 4 })
	mu.Lock()
	defer mu.Unlock()
	shortest := time.Hour
	for i := 1; i < 4; i++ {
		shortest = min(shortest, starts[i].Sub(starts[i-1]))
	}
	if shortest > 650*time.Millisecond { // shorter than 400 ms when a start was late
		t.Fatalf("shortest gap between probe starts %v, want about 400ms", shortest)
	}
}

// TestWakeShiftSharesTicks: probes due within one tick wake at the same
// instant, at most half a tick from their schedule; the tick is interval/20
// up to 100 ms.
func TestWakeShiftSharesTicks(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC)
	ms := time.Millisecond
	for _, c := range []struct {
		interval time.Duration
		due      time.Duration // after base
		want     time.Duration // the wake, after base
	}{
		{time.Second, 1 * ms, 0}, // tick 50 ms
		{time.Second, 24 * ms, 0},
		{time.Second, 26 * ms, 50 * ms},
		{time.Second, 63 * ms, 50 * ms},
		{time.Minute, 63 * ms, 100 * ms}, // 100 ms at most
		{time.Minute, 149 * ms, 100 * ms},
		{100 * ms, 7 * ms, 5 * ms}, // tick 5 ms
		{10 * time.Microsecond, 1400 * time.Microsecond, 1400 * time.Microsecond}, // a 500 ns tick
	} {
		t.Run(fmt.Sprintf("interval=%v due=%v", c.interval, c.due), func(t *testing.T) {
			due := base.Add(c.due)
			if got := c.due + wakeShift(due, c.interval); got != c.want {
				t.Errorf("interval %v, due +%v: wakes at +%v, want +%v", c.interval, c.due, got, c.want)
			}
		})
	}
}

// TestFirstStartSpreads: probes added together start spread evenly over
// one interval; a probe added alone starts at once.
func TestFirstStartSpreads(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		i, n int
		want time.Duration
	}{
		{"alone", 0, 1, 0},
		{"first of four", 0, 4, 0},
		{"second of four", 1, 4, 250 * time.Millisecond},
		{"last of four", 3, 4, 750 * time.Millisecond},
		{"last of 30000", 29999, 30000, 999966666 * time.Nanosecond}, // rounded down
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := firstStart(now, c.i, c.n, time.Second).Sub(now); got != c.want {
				t.Errorf("probe %d of %d starts at +%v, want +%v", c.i, c.n, got, c.want)
			}
		})
	}
}

// TestIsLate: late means started more than lateSlack after it was due.
func TestIsLate(t *testing.T) {
	due := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	for _, c := range []struct {
		name     string
		interval time.Duration
		started  time.Duration // after due
		want     bool
	}{
		{"on time", time.Second, 0, false},
		{"early (wake grid)", time.Second, -25 * ms, false},
		{"within the slack", time.Second, 100 * ms, false},
		{"past the slack", time.Second, 101 * ms, true},
		{"long interval", time.Minute, 5 * time.Second, false},
		{"short interval, slack two ticks", 100 * ms, 10 * ms, false},
		{"short interval, past", 100 * ms, 11 * ms, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := isLate(due, due.Add(c.started), c.interval); got != c.want {
				t.Errorf("interval %v, started +%v: late %v, want %v", c.interval, c.started, got, c.want)
			}
		})
	}
}

// TestMaxInFlight: as many as the probes may hold when every one runs to
// its timeout, at least 8 per CPU, never more than the descriptors left.
func TestMaxInFlight(t *testing.T) {
	for _, c := range []struct {
		name   string
		need   float64
		budget int
		procs  int
		want   int
	}{
		{"few probes: 8 per CPU", 3.2, 1000, 2, 16},
		{"30,000 probes timeout = interval", 30000, 1 << 20, 2, 30000},
		{"fractional need rounds up", 100.1, 1000, 1, 101},
		{"open-file limit bounds", 30000, 19744, 2, 19744},
		{"budget below 8 per CPU", 0, 4, 2, 4},
		{"no budget: one", 10, 0, 2, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := maxInFlight(c.need, c.budget, c.procs); got != c.want {
				t.Errorf("maxInFlight(%v, %d, %d) = %d, want %d", c.need, c.budget, c.procs, got, c.want)
			}
		})
	}
}

// TestProbeHeapOrder: the heap yields probes by wake time and keeps their
// indexes.
func TestProbeHeapOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var h probeHeap
	offsets := []int{5, 1, 4, 1, 3, 9, 2, 6}
	for _, o := range offsets {
		sp := &sharedProbe{}
		at := t0.Add(time.Duration(o) * time.Second)
		sp.sched.plan(at, at, maxWakeTick)
		heap.Push(&h, sp)
	}
	for i, sp := range h {
		if sp.sched.index != i {
			t.Fatalf("probe at %d has index %d", i, sp.sched.index)
		}
	}
	var got []time.Duration
	for h.Len() > 0 {
		sp := heap.Pop(&h).(*sharedProbe)
		if sp.sched.index != -1 {
			t.Errorf("popped probe keeps index %d", sp.sched.index)
		}
		got = append(got, sp.sched.wake.Sub(t0))
	}
	if !slices.IsSorted(got) || len(got) != len(offsets) {
		t.Errorf("popped in order %v, want sorted", got)
	}
}

// TestProbesHangingCheckDelaysNoOther: a check that hangs until its
// timeout holds one worker and is never started twice at once, while the
// other probes go on at their interval without being late.
func TestProbesHangingCheckDelaysNoOther(t *testing.T) {
	const interval = 20 * time.Millisecond
	var inFlight, most, hung atomic.Int64
	hang := CheckerFunc(func(ctx context.Context) Result {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		hung.Add(1)
		select {
		case <-ctx.Done():
		case <-time.After(10 * interval):
		}
		return Result{OK: false, Reason: "timeout"}
	})
	p := NewProbes()
	p.AddChecker("hang", hang, MonitorOptions{Interval: interval, Jitter: -1})
	var fast []*Monitor
	for i := range 20 {
		fast = append(fast, p.AddChecker(fmt.Sprint("fast", i), CheckerFunc(func(context.Context) Result { return Result{OK: true} }),
			MonitorOptions{Interval: interval, Jitter: -1}))
	}
	stop := runProbes(t, p)
	testutil.Eventually(t, waitLimit, "the hanging check to start twice", func() bool { return hung.Load() >= 2 })
	stop()
	if m := most.Load(); m != 1 {
		t.Errorf("%d probes of the hanging check ran at once, want 1", m)
	}
	for _, m := range fast {
		if n := m.Snapshot().Checks; n < 5 {
			t.Errorf("%s: %d checks while the hanging check ran two probes of 10 intervals, want at least 5", m.Snapshot().Name, n)
		}
	}
}

// TestProbesBoundInFlight: no more probes run at once than the bound;
// the others wait for a worker and all of them run.
func TestProbesBoundInFlight(t *testing.T) {
	const bound, probes = 3, 10
	var inFlight, most atomic.Int64
	var ran [probes]atomic.Bool
	p := NewProbes()
	p.limit = bound
	for i := range probes {
		p.AddChecker(fmt.Sprint("slow", i), CheckerFunc(func(ctx context.Context) Result {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			ran[i].Store(true)
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			return Result{OK: true}
		}), MonitorOptions{Interval: time.Millisecond, Jitter: -1})
	}
	stop := runProbes(t, p)
	testutil.Eventually(t, waitLimit, "every probe to run", func() bool {
		for i := range ran {
			if !ran[i].Load() {
				return false
			}
		}
		return true
	})
	stop()
	if m := most.Load(); m != bound {
		t.Errorf("%d probes ran at once, want the bound %d", m, bound)
	}
}

// TestManyProbesWakeInSmallBatches: probes added together wake on a grid
// fine enough that about wakeBatch of them wake per tick: 10,000 probes at
// 1 s, which the usual 50 ms grid (interval/20) woke 500 at a time, wake
// at most wakeBatch (and rounding) at once; 100 probes keep the 50 ms grid.
func TestManyProbesWakeInSmallBatches(t *testing.T) {
	for _, c := range []struct {
		name     string
		n        int
		maxBatch int
		tick     time.Duration
	}{
		{"10000 probes", 10000, wakeBatch + 2, 25600 * time.Microsecond},
		{"100 probes", 100, 6, 50 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := NewProbes()
			for i := range c.n {
				p.AddChecker(fmt.Sprint(i), CheckerFunc(nil), MonitorOptions{Interval: time.Second})
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s := newScheduler(ctx, p)
			s.admit(slices.Clone(p.probes))
			perWake := map[time.Time]int{}
			most := 0
			for _, sp := range s.heap {
				perWake[sp.sched.wake]++
				most = max(most, perWake[sp.sched.wake])
			}
			if most > c.maxBatch {
				t.Errorf("%d probes wake at once, want at most %d", most, c.maxBatch)
			}
			if got := s.tickOf(s.heap[0]); got != c.tick {
				t.Errorf("tick %v, want %v", got, c.tick)
			}
		})
	}
}
