package health

import (
	"container/heap"
	"context"
	"math"
	"runtime"
	"sync"
	"time"
)

// The scheduler of a Probes: one goroutine (the loop, in Probes.Run) with
// one timer keeps every probe in a min-heap by its wake time and hands
// the due ones to a bounded pool of workers. A probe is in exactly one
// place at a time: the heap, the ready queue (due, waiting for a worker)
// or a worker, so at most one probe of a check is in flight and a slow
// server cannot pile up work. The worker that ran a probe computes its
// next start; the loop puts it back in the heap.
//
// Ten thousand names × three servers at 1 s used to be 30,000 goroutines
// with a timer each; now it is one timer and as many workers as probes in
// flight at once (started on demand, up to maxInFlight).

// schedule is where a probe stands on its schedule. It belongs to whoever
// holds the probe: the loop, or the worker running it.
type schedule struct {
	due   time.Time // when the next probe was due on the ideal schedule (for lateness)
	start time.Time // when it starts: due, or later when the previous probe outlasted the interval
	wake  time.Time // start on the wake grid (see wakeShift): the heap's key
	index int       // in the heap; -1 when not in it
}

// plan sets s to start at start, due at due, waking on a grid of tick.
func (s *schedule) plan(due, start time.Time, tick time.Duration) {
	s.due, s.start = due, start
	s.wake = start.Add(tickShift(start, tick))
}

// wakeBatch is about how many probes the loop wakes per tick of the wake
// grid when many run: the grid's tick (see wakeShift) shrinks below
// interval/20 so that rate × tick stays near it. Probes due within one
// tick start together; at 30,000 probes a second a 50 ms tick started
// 1,500 at once, which all needed a connection and a worker at the same
// moment and answered only when the last of the burst was through (issue
// 15); 256 a tick still batches the wake-ups that the grid is for.
const wakeBatch = 256

// minWakeTick is the finest grid.
const minWakeTick = time.Millisecond

// batchTick is the tick that wakes about wakeBatch probes when rate probes
// a second are due: no more than the grid's usual tick, no less than
// minWakeTick.
func batchTick(rate float64) time.Duration {
	if rate <= 0 {
		return maxWakeTick
	}
	return min(maxWakeTick, max(minWakeTick, time.Duration(wakeBatch/rate*float64(time.Second))))
}

// firstStart is when probe i of n added together first starts: spread
// evenly over one interval from now (i/n of it), so that thousands of
// probes added at once (a start, a reload) do not fire in one burst.
func firstStart(now time.Time, i, n int, interval time.Duration) time.Time {
	if n <= 1 {
		return now
	}
	return now.Add(time.Duration(int64(interval) * int64(i) / int64(n)))
}

// isLate judges a probe that started at started: late when more than
// lateSlack after it was due.
func isLate(due, started time.Time, interval time.Duration) bool {
	return started.Sub(due) > lateSlack(interval)
}

// maxInFlight is how many probes may run at once: what every probe holds
// when each runs to its timeout (need, the sum of socketShare), and at
// least 8 per CPU (procs), but never more than the file descriptors the
// open-file limit leaves after fdReserve (budget, one socket a probe).
func maxInFlight(need float64, budget, procs int) int {
	n := max(int(math.Ceil(need)), 8*procs)
	return max(1, min(n, budget))
}

// probeHeap is a min-heap of probes by wake time (container/heap).
type probeHeap []*sharedProbe

func (h probeHeap) Len() int           { return len(h) }
func (h probeHeap) Less(i, j int) bool { return h[i].sched.wake.Before(h[j].sched.wake) }
func (h probeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].sched.index, h[j].sched.index = i, j
}
func (h *probeHeap) Push(x any) {
	sp := x.(*sharedProbe)
	sp.sched.index = len(*h)
	*h = append(*h, sp)
}
func (h *probeHeap) Pop() any {
	old := *h
	sp := old[len(old)-1]
	old[len(old)-1] = nil
	sp.sched.index = -1
	*h = old[:len(old)-1]
	return sp
}

// workQueue is the room in the channels between the loop and the workers:
// how many probes the loop hands to idle workers (or takes back) without
// waiting.
const workQueue = 1024

// scheduler is the loop's state; only Probes.Run's goroutine touches it.
type scheduler struct {
	p       *Probes
	ctx     context.Context
	heap    probeHeap
	ready   []*sharedProbe // due, in order, waiting for a worker
	live    map[*sharedProbe]struct{}
	need    float64       // sum of the live probes' socketShare
	rate    float64       // probes a second of the live probes (1/interval each)
	tick    time.Duration // batchTick(rate)
	budget  int           // file descriptors for probes
	work    chan *sharedProbe
	done    chan *sharedProbe
	busy    int // probes handed to workers and not back yet
	workers int
	wg      sync.WaitGroup
	timer   *time.Timer
	armed   time.Time // when timer fires; zero when stopped
}

func newScheduler(ctx context.Context, p *Probes) *scheduler {
	budget := math.MaxInt32
	if soft, _, ok := raiseOpenFiles(0); ok && soft < math.MaxInt32 {
		budget = max(1, int(soft)-fdReserve)
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &scheduler{p: p, ctx: ctx, live: map[*sharedProbe]struct{}{}, budget: budget,
		work: make(chan *sharedProbe, workQueue), done: make(chan *sharedProbe, workQueue), timer: t}
}

// run is the loop: until ctx ends it takes new probes, wakes due ones,
// hands them to workers and puts finished ones back in the heap. It
// returns once every worker has returned and every probe's kept
// connection is closed.
func (s *scheduler) run(first []*sharedProbe) {
	s.admit(first)
	s.wakeDue(time.Now())
	for {
		s.dispatch()
		s.arm()
		select {
		case <-s.ctx.Done():
			s.stop()
			return
		case <-s.p.added:
			s.admit(s.p.takeAdded())
			s.wakeDue(time.Now())
		case <-s.timer.C:
			s.armed = time.Time{}
			s.wakeDue(time.Now())
		case sp := <-s.done:
			s.busy--
			s.requeue(sp)
		}
	}
}

// dispatch hands every ready probe it can to a worker without waiting: to
// an idle one through the buffered s.work (there are never more probes in
// it than idle workers to take them), or to a new worker while fewer than
// maxInFlight run. What is left waits for a worker to finish. A tick's
// probes thus all become runnable at once, as their own timers would make
// them, instead of one per turn of the loop.
func (s *scheduler) dispatch() {
	limit := maxInFlight(s.need, s.budget, runtime.GOMAXPROCS(0))
	if s.p.limit > 0 {
		limit = s.p.limit
	}
	n := 0
	for ; n < len(s.ready); n++ {
		sp := s.ready[n]
		if s.busy < s.workers && len(s.work) < cap(s.work) {
			s.work <- sp // buffered, room checked: does not block
		} else if s.workers < limit {
			s.workers++
			s.wg.Go(func() { s.worker(sp) })
		} else {
			break
		}
		s.busy++
	}
	clear(s.ready[:n])
	s.ready = s.ready[n:]
}

// admit schedules probes added together, spread over their interval.
func (s *scheduler) admit(sps []*sharedProbe) {
	now := time.Now()
	for _, sp := range sps {
		s.rate += 1 / sp.opts.Interval.Seconds() // the grid of all of them
	}
	s.tick = batchTick(s.rate)
	for i, sp := range sps {
		if !s.p.bind(s.ctx, sp) {
			s.rate -= 1 / sp.opts.Interval.Seconds()
			s.tick = batchTick(s.rate)
			continue // removed before it ran
		}
		s.live[sp] = struct{}{}
		s.need += sp.fds
		at := firstStart(now, i, len(sps), sp.opts.Interval)
		sp.sched.plan(at, at, s.tickOf(sp))
		heap.Push(&s.heap, sp)
	}
}

// tickOf is the wake grid of sp's probes: interval/20, at most maxWakeTick,
// and finer when many probes run (batchTick).
func (s *scheduler) tickOf(sp *sharedProbe) time.Duration {
	return min(s.tick, sp.opts.Interval/20)
}

// arm sets the timer to the earliest wake in the heap.
func (s *scheduler) arm() {
	if len(s.heap) == 0 {
		return
	}
	if w := s.heap[0].sched.wake; !w.Equal(s.armed) {
		s.armed = w
		s.timer.Reset(time.Until(w))
	}
}

// wakeDue moves every probe whose wake time has come to the ready queue.
func (s *scheduler) wakeDue(now time.Time) {
	for len(s.heap) > 0 && !s.heap[0].sched.wake.After(now) {
		sp := heap.Pop(&s.heap).(*sharedProbe)
		if s.dropped(sp) {
			continue
		}
		s.ready = append(s.ready, sp)
	}
}

// requeue puts a probe a worker has run back in the heap (its next start
// set by the worker, its wake time on the grid now), unless it was removed
// meanwhile.
func (s *scheduler) requeue(sp *sharedProbe) {
	if !s.dropped(sp) {
		sp.sched.plan(sp.sched.due, sp.sched.start, s.tickOf(sp))
		heap.Push(&s.heap, sp)
	}
}

// dropped forgets sp and closes its kept connection if it was removed.
func (s *scheduler) dropped(sp *sharedProbe) bool {
	if !sp.removed.Load() {
		return false
	}
	delete(s.live, sp)
	s.need -= sp.fds
	s.rate -= 1 / sp.opts.Interval.Seconds()
	s.tick = batchTick(s.rate)
	sp.closeIdle()
	return true
}

// stop ends the workers (a probe in flight is cancelled with ctx) and
// closes the kept connections of every probe.
func (s *scheduler) stop() {
	s.timer.Stop()
	close(s.work)
	s.wg.Wait()
	for sp := range s.live {
		sp.closeIdle()
	}
}

// worker runs first, then the probes handed to it through s.work until the
// loop closes it.
func (s *scheduler) worker(first *sharedProbe) {
	for sp := first; sp != nil; sp = <-s.work {
		sp.runOnce(&s.p.stats)
		select {
		case s.done <- sp:
		case <-s.ctx.Done():
			return
		}
	}
}

// runOnce runs one probe of sp (a worker holds sp), records the result
// unless the probe was cancelled, and plans the next one.
func (sp *sharedProbe) runOnce(stats *probeStats) {
	o := sp.opts
	stats.started.Add(1)
	if isLate(sp.sched.due, time.Now(), o.Interval) {
		stats.late.Add(1)
	}
	res := sp.checker.Check(sp.ctx)
	if sp.ctx.Err() != nil {
		return // a cancelled probe says nothing about the target
	}
	stats.count(res)
	sp.record(res)
	d := nextDelay(o)
	start := sp.sched.start
	sp.sched.due, sp.sched.start = start.Add(d), nextStart(start, time.Now(), d) // the loop plans the wake (requeue)
}

// closeIdle closes a connection the probe's check keeps open (keepalive).
func (sp *sharedProbe) closeIdle() {
	if ic, ok := sp.checker.(interface{ CloseIdle() }); ok {
		ic.CloseIdle()
	}
}
