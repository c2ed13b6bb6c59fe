package health

import (
	"context"
	"fmt"
	"sync"
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
