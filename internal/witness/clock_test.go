package witness

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/witness/etcdtest"
)

// TestSuspendAwareClock: the clock runs with the boot clock, so time the
// host spent suspended counts; without a boot clock it is time.Now.
func TestSuspendAwareClock(t *testing.T) {
	var boot atomic.Int64
	boot.Store(int64(time.Hour))
	now := suspendAware(func() (time.Duration, bool) { return time.Duration(boot.Load()), true })
	before := now()
	boot.Add(int64(10 * time.Second)) // suspended for 10 s: the monotonic clock did not move
	if d := now().Sub(before); d != 10*time.Second {
		t.Fatalf("after a 10 s suspend the clock moved %s", d)
	}
	plain := suspendAware(func() (time.Duration, bool) { return 0, false })
	if d := time.Since(plain()); d < 0 || d > time.Minute {
		t.Fatalf("without a boot clock: %s from time.Now", d)
	}
}

// TestSuspendedHolderLoses: a holder whose host was suspended for longer
// than the TTL (etcd's members kept counting: the lease has expired there
// and another node may hold the lock) no longer reports the lock held,
// although its monotonic clock, which stopped during the suspend, says the
// deadline is still ahead; it reports Lost and campaigns again. Before,
// Held stayed true and no Lost came while keep-alives kept answering.
func TestSuspendedHolderLoses(t *testing.T) {
	c := etcdtest.Start(t, 3)
	w, err := New(Config{Endpoints: c.Endpoints(), Name: "a", TTL: config.Duration(ttl)}, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	var suspended atomic.Int64 // what the host spent suspended, as CLOCK_BOOTTIME shows it
	w.now = func() time.Time { return time.Now().Add(time.Duration(suspended.Load())) }
	done := make(chan error, 1)
	go func() { done <- w.Run(context.Background()) }()
	t.Cleanup(func() {
		w.Close()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	l := lock(t, w, "gw")
	l.Campaign()
	acq := next(t, l, Acquired, 5*time.Second)
	_, until, ok := l.HeldUntil()
	if !ok || !until.After(time.Now()) || until.After(time.Now().Add(2*ttl)) {
		t.Fatalf("HeldUntil() = %v, %v while held: want a moment within the lease on the process clock", until, ok)
	}

	suspended.Store(int64(3 * ttl))
	if f, ok := l.Held(); ok {
		t.Fatalf("Held() = %d, true after a suspend of 3 TTLs", f)
	}
	if f, until, ok := l.HeldUntil(); ok {
		t.Fatalf("HeldUntil() = %d, %v, true after a suspend of 3 TTLs", f, until)
	}
	// the keep-alives still answer (etcd is fine in this test): without
	// the suspend-aware clock no Lost would ever come
	lost := next(t, l, Lost, 2*ttl)
	if lost.Fence != acq.Fence {
		t.Errorf("lost fence %d, acquired %d", lost.Fence, acq.Fence)
	}
	again := next(t, l, Acquired, 5*time.Second)
	if again.Fence <= acq.Fence {
		t.Errorf("fence went from %d to %d", acq.Fence, again.Fence)
	}
}

// TestEventTimesOnTheProcessClock: an event's At is comparable with
// time.Now even after a suspend has put the witness's clock ahead (the
// users measure how long ago a lock was lost with time.Now).
func TestEventTimesOnTheProcessClock(t *testing.T) {
	w, err := New(Config{Endpoints: []string{"http://127.0.0.1:1"}, Name: "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.now = func() time.Time { return time.Now().Add(time.Hour) } // suspended for an hour
	l := lock(t, w, "gw")
	before := time.Now()
	w.emit(effEvent{"gw", Event{Kind: Lost, Lock: "gw", At: w.now()}})
	ev := <-l.Events()
	if ev.At.Before(before) || time.Since(ev.At) < 0 || time.Since(ev.At) > time.Minute {
		t.Fatalf("At %v is not now on the process clock (%v ago)", ev.At, time.Since(ev.At))
	}
}
