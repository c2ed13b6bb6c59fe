package health

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

const waitLimit = 5 * time.Second

// scripted is a fake Checker: each probe blocks until the test feeds it a
// result (or the context ends) and counts how many probes run at once.
type scripted struct {
	results  chan Result
	calls    atomic.Int64
	inflight atomic.Int32
	maxSeen  atomic.Int32
}

func newScripted() *scripted { return &scripted{results: make(chan Result)} }

func (s *scripted) Check(ctx context.Context) Result {
	s.calls.Add(1)
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	for {
		m := s.maxSeen.Load()
		if n <= m || s.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case r := <-s.results:
		r.Time = time.Now()
		return r
	case <-ctx.Done():
		return Result{Reason: "cancelled"}
	}
}

// runMonitor starts m.Run and stops it (and waits for it) at cleanup.
func runMonitor(t *testing.T, m *Monitor) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// feed hands the monitor's next probe a result and waits until it is recorded.
func feed(t *testing.T, m *Monitor, s *scripted, ok bool) Snapshot {
	t.Helper()
	before := m.Snapshot().Checks
	reason := "HTTP 503"
	if ok {
		reason = "HTTP 200"
	}
	select {
	case s.results <- Result{OK: ok, Reason: reason, Latency: time.Millisecond}:
	case <-time.After(waitLimit):
		t.Fatal("monitor did not probe")
	}
	testutil.Eventually(t, waitLimit, "the result to be recorded", func() bool { return m.Snapshot().Checks > before })
	return m.Snapshot()
}

func recv(t *testing.T, ch <-chan Change) Change {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(waitLimit):
		t.Fatal("no change received")
	}
	return Change{}
}

func noChange(t *testing.T, ch <-chan Change) {
	t.Helper()
	select {
	case c := <-ch:
		t.Fatalf("unexpected change %s -> %s", c.From, c.To)
	default:
	}
}

func TestMonitorRiseFall(t *testing.T) {
	s := newScripted()
	m := NewMonitor("web1", s, MonitorOptions{Interval: time.Millisecond, Rise: 2, Fall: 3, SlowStart: true})
	sub := m.Subscribe()
	runMonitor(t, m)
	steps := []struct {
		ok   bool
		want State
	}{
		{true, Unknown}, {true, OK}, // rise 2
		{false, OK}, {false, OK}, {true, OK}, // 2 failures, then the count restarts
		{false, OK}, {false, OK}, {false, Err}, // fall 3
		{true, Err}, {false, Err}, {true, Err}, {true, OK},
	}
	for i, st := range steps {
		snap := feed(t, m, s, st.ok)
		if snap.State != st.want {
			t.Fatalf("step %d (ok=%v): state %s, want %s", i, st.ok, snap.State, st.want)
		}
	}
	for _, want := range [][2]State{{Unknown, OK}, {OK, Err}, {Err, OK}} {
		c := recv(t, sub)
		if c.From != want[0] || c.To != want[1] || c.Name != "web1" || c.Snapshot.State != want[1] {
			t.Errorf("change %+v, want %s -> %s", c, want[0], want[1])
		}
	}
	noChange(t, sub)
	if snap := m.Snapshot(); snap.Checks != uint64(len(steps)) || snap.Reason != "HTTP 200" || snap.Latency != time.Millisecond {
		t.Errorf("snapshot %+v", snap)
	}
}

// TestMonitorFastStart: by default the first probe decides out of UNKNOWN.
func TestMonitorFastStart(t *testing.T) {
	for _, ok := range []bool{true, false} {
		s := newScripted()
		m := NewMonitor("web1", s, MonitorOptions{Interval: time.Millisecond})
		created := m.Snapshot().Since
		runMonitor(t, m)
		want := map[bool]State{true: OK, false: Err}[ok]
		snap := feed(t, m, s, ok)
		if snap.State != want || !snap.Since.After(created) {
			t.Errorf("first probe ok=%v: state %s since %v, want %s since after %v", ok, snap.State, snap.Since, want, created)
		}
		// afterwards the counts apply: one opposite result changes nothing
		if snap := feed(t, m, s, !ok); snap.State != want {
			t.Errorf("one opposite result moved the state to %s", snap.State)
		}
	}
}

// TestMonitorFlapping: a target that alternates faster than rise/fall never
// changes state.
func TestMonitorFlapping(t *testing.T) {
	s := newScripted()
	m := NewMonitor("web1", s, MonitorOptions{Interval: time.Millisecond, Rise: 2, Fall: 3})
	runMonitor(t, m)
	feed(t, m, s, true) // fast start: OK
	sub := m.Subscribe()
	since := m.Snapshot().Since
	for range 10 {
		feed(t, m, s, false)
		feed(t, m, s, false)
		feed(t, m, s, true)
	}
	noChange(t, sub)
	if snap := m.Snapshot(); snap.State != OK || snap.Since != since || snap.Checks != 31 {
		t.Errorf("after flapping: %+v", snap)
	}
}

func TestMonitorMaintenance(t *testing.T) {
	s := newScripted()
	m := NewMonitor("web1", s, MonitorOptions{Interval: time.Millisecond})
	runMonitor(t, m)
	sub := m.Subscribe()
	feed(t, m, s, true)
	recv(t, sub)
	if !m.Selectable() {
		t.Fatal("OK target not selectable")
	}
	m.SetMaintenance(true)
	c := recv(t, sub)
	if c.From != OK || c.To != OK || !c.Snapshot.Maintenance || c.Snapshot.Label() != "MAINT" {
		t.Errorf("maintenance change %+v", c)
	}
	if m.Selectable() {
		t.Error("target in maintenance is selectable")
	}
	m.SetMaintenance(true) // no change, no message
	noChange(t, sub)
	feed(t, m, s, true) // probes go on
	if m.Selectable() || !m.Snapshot().Maintenance {
		t.Error("a probe ended maintenance")
	}
	m.SetMaintenance(false)
	if c := recv(t, sub); c.Snapshot.Maintenance || !m.Selectable() {
		t.Errorf("maintenance off: %+v, selectable %v", c, m.Selectable())
	}
}

// TestMonitorSlowSubscriber: a subscriber that never reads does not block
// the monitor and keeps the most recent changes.
func TestMonitorSlowSubscriber(t *testing.T) {
	m := NewMonitor("web1", newScripted(), MonitorOptions{})
	slow, fast := m.Subscribe(), m.Subscribe()
	var got []bool
	for i := range 3 * subscriberQueue {
		m.SetMaintenance(i%2 == 0)
		got = append(got, recv(t, fast).Snapshot.Maintenance)
	}
	if len(slow) != subscriberQueue {
		t.Fatalf("slow subscriber holds %d changes, want %d", len(slow), subscriberQueue)
	}
	var last Change
	for len(slow) > 0 {
		last = <-slow
	}
	if last.Snapshot.Maintenance != got[len(got)-1] {
		t.Error("slow subscriber lost the newest change")
	}
	m.Unsubscribe(fast)
	m.SetMaintenance(true)
	noChange(t, fast)
	if len(slow) != 1 {
		t.Errorf("slow subscriber got %d changes after draining, want 1", len(slow))
	}
}

// TestMonitorOneInFlight: a probe that outlasts the interval many times
// over never has a second one started beside it; the next starts once it
// ends.
func TestMonitorOneInFlight(t *testing.T) {
	s := newScripted()
	m := NewMonitor("web1", s, MonitorOptions{Interval: time.Millisecond, Jitter: -1})
	runMonitor(t, m)
	testutil.Eventually(t, waitLimit, "the first probe", func() bool { return s.calls.Load() == 1 })
	time.Sleep(50 * time.Millisecond) // sleep: fifty intervals pass while it hangs
	if n := s.calls.Load(); n != 1 {
		t.Fatalf("%d probes started while the first hung, want 1", n)
	}
	feed(t, m, s, true)
	testutil.Eventually(t, waitLimit, "the next probe", func() bool { return s.calls.Load() == 2 })
	if s.maxSeen.Load() != 1 {
		t.Errorf("%d probes ran at once", s.maxSeen.Load())
	}
}

// TestMonitorStopsHangingProbe: cancelling Run ends a hanging probe and Run
// returns without recording it.
func TestMonitorStopsHangingProbe(t *testing.T) {
	s := newScripted()
	m := NewMonitor("web1", s, MonitorOptions{Interval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	testutil.Eventually(t, waitLimit, "a probe", func() bool { return s.inflight.Load() == 1 })
	m.Run(ctx) // already running: returns at once
	cancel()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after cancel")
	}
	if snap := m.Snapshot(); snap.Checks != 0 || snap.State != Unknown {
		t.Errorf("cancelled probe was recorded: %+v", snap)
	}
}

func TestMonitorOptionsDefaults(t *testing.T) {
	o := MonitorOptions{}.withDefaults()
	if o.Interval != 10*time.Second || o.Jitter != time.Second || o.Rise != 2 || o.Fall != 3 {
		t.Errorf("defaults %+v", o)
	}
	if o := (MonitorOptions{Interval: time.Second, Jitter: -1}).withDefaults(); o.Jitter != 0 {
		t.Errorf("negative jitter gave %s", o.Jitter)
	}
	m := NewMonitor("x", newScripted(), MonitorOptions{Interval: 100 * time.Millisecond, Jitter: 20 * time.Millisecond})
	seen := map[bool]bool{}
	for range 200 {
		d := nextDelay(m.opts)
		if d < 80*time.Millisecond || d > 120*time.Millisecond {
			t.Fatalf("delay %s outside 100ms±20ms", d)
		}
		seen[d < 100*time.Millisecond] = true
	}
	if len(seen) != 2 {
		t.Error("jitter never went both ways in 200 draws")
	}
}

func TestStateText(t *testing.T) {
	for _, s := range []State{Unknown, OK, Err} {
		b, _ := s.MarshalText()
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%s: round trip gave %s, %v", s, back, err)
		}
	}
	if err := new(State).UnmarshalText([]byte("MAYBE")); err == nil {
		t.Error("UnmarshalText accepted MAYBE")
	}
	b, _ := json.Marshal(Snapshot{Name: "a", State: Err})
	if want := `"state":"ERR"`; !json.Valid(b) || !strings.Contains(string(b), want) {
		t.Errorf("snapshot JSON %s lacks %s", b, want)
	}
	if State(7).String() != "State(7)" {
		t.Error("out-of-range state name")
	}
}

// TestMonitorRealFlappingServer: a Monitor over a real HTTP check follows a
// server that goes down and comes back, through its subscribers.
func TestMonitorRealFlappingServer(t *testing.T) {
	var down atomic.Bool
	srv := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "status=OK")
	}))
	ck, err := New(Config{Kind: "http", URL: srv.URL + "/health", MustHave: "status=OK"})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMonitor("web1", ck, MonitorOptions{Interval: 5 * time.Millisecond, Rise: 2, Fall: 2})
	sub := m.Subscribe()
	runMonitor(t, m)
	if c := recv(t, sub); c.To != OK {
		t.Fatalf("first change to %s, want OK", c.To)
	}
	down.Store(true)
	if c := recv(t, sub); c.To != Err || c.Snapshot.Reason != "HTTP 503" {
		t.Fatalf("change %+v, want ERR with HTTP 503", c)
	}
	down.Store(false)
	if c := recv(t, sub); c.To != OK || c.Snapshot.Reason != "HTTP 200" {
		t.Fatalf("change %+v, want OK with HTTP 200", c)
	}
}

// TestMonitorNotify: a Notify channel gets a wake-up per change without
// blocking the monitor when it is full, and none after Unnotify.
func TestMonitorNotify(t *testing.T) {
	m := NewMonitor("web1", newScripted(), MonitorOptions{})
	ch := make(chan struct{}, 1)
	m.Notify(ch)
	m.SetMaintenance(true)
	if len(ch) != 1 {
		t.Fatalf("after a change the channel holds %d wake-ups, want 1", len(ch))
	}
	m.SetMaintenance(false) // the channel is full: this must not block
	<-ch
	m.SetMaintenance(true)
	if len(ch) != 1 {
		t.Fatalf("after another change the channel holds %d wake-ups, want 1", len(ch))
	}
	<-ch
	m.Unnotify(ch)
	m.SetMaintenance(false)
	if len(ch) != 0 {
		t.Error("a wake-up came after Unnotify")
	}
}
