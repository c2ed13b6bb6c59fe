package witness

import "time"

// The witness's clock. A holder gives its lease up at a deadline on its
// own clock, which must therefore run whenever etcd's does. Go's monotonic
// clock (CLOCK_MONOTONIC on Linux) stops while the host is suspended, but
// etcd's members, on other machines, keep counting the lease's TTL: after
// a suspend longer than the TTL the lease has expired and another node may
// hold the lock, while a monotonic deadline still lies in the future. So
// every time the witness compares with a deadline (the loop's steps, the
// send times of grants and keep-alives, Held, Status) comes from now, which
// on Linux adds the time spent suspended (CLOCK_BOOTTIME). A process that
// is merely stopped (SIGSTOP, a long GC) needs nothing: the monotonic clock
// runs on. A virtual machine that its hypervisor pauses may not see the
// pause in any clock: the fencing token covers that case.

// suspendAware returns a clock that reads like time.Now (a time.Time with
// a monotonic reading, so that Sub and Before ignore wall-clock steps) but
// also advances while the host is suspended. boot reads a clock that
// counts suspended time; without one (ok false) it returns time.Now.
func suspendAware(boot func() (time.Duration, bool)) func() time.Time {
	start := time.Now()
	b0, ok := boot()
	if !ok {
		return time.Now
	}
	return func() time.Time {
		b, ok := boot()
		if !ok {
			return time.Now()
		}
		return start.Add(b - b0)
	}
}
