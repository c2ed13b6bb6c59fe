package main

import (
	"context"
	"errors"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/testutil"
)

func TestDecidePet(t *testing.T) {
	const grace = 75 * time.Millisecond // ticks 100 ms apart
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := t0.Add(100 * time.Millisecond)
	lateAt, stuckAt := lateLoop{since: t0}, lateLoop{since: t0, stuck: true}
	for _, tc := range []struct {
		name      string
		prev      map[string]lateLoop
		built     bool
		late      []string
		pet       bool
		want      map[string]lateLoop
		stuck     []string
		recovered []string
	}{
		{"all answer", nil, true, nil, true, map[string]lateLoop{}, nil, nil},
		{"status not built", nil, false, nil, false, map[string]lateLoop{}, nil, nil},
		{"a first ping missed is not stuck yet", nil, true, []string{"tick"}, true,
			map[string]lateLoop{"tick": {since: now}}, nil, nil},
		{"the second one is", map[string]lateLoop{"tick": lateAt}, true, []string{"tick"}, false,
			map[string]lateLoop{"tick": stuckAt}, []string{"tick"}, nil},
		{"still stuck is logged once", map[string]lateLoop{"tick": stuckAt}, true, []string{"tick"}, false,
			map[string]lateLoop{"tick": stuckAt}, nil, nil},
		{"another one late too", map[string]lateLoop{"tick": stuckAt}, true, []string{"tick", "role"}, false,
			map[string]lateLoop{"tick": stuckAt, "role": {since: now}}, nil, nil},
		{"busy once, then answers", map[string]lateLoop{"tick": lateAt}, true, nil, true,
			map[string]lateLoop{}, nil, nil},
		{"stuck ones answer again", map[string]lateLoop{"tick": stuckAt, "role": stuckAt}, true, nil, true,
			map[string]lateLoop{}, nil, []string{"role", "tick"}},
		{"one of two answers again", map[string]lateLoop{"tick": stuckAt, "role": stuckAt}, true, []string{"tick"}, false,
			map[string]lateLoop{"tick": stuckAt}, nil, []string{"role"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decidePet(tc.prev, now, tc.built, tc.late, grace)
			if d.Pet != tc.pet || !maps.Equal(d.Late, tc.want) || !slices.Equal(d.Stuck, tc.stuck) || !slices.Equal(d.Recovered, tc.recovered) {
				t.Errorf("decidePet = %+v, want pet %v late %v stuck %v recovered %v", d, tc.pet, tc.want, tc.stuck, tc.recovered)
			}
		})
	}
}

// fakeScheme is a scheme with one loop that answers PingLoops and that a
// test can block (as a loop blocked on a channel or a hung side effect).
type fakeScheme struct {
	loop  *lifecycle.Loop
	block chan chan struct{} // the loop waits until the channel sent is closed
}

func newFakeScheme() *fakeScheme {
	return &fakeScheme{loop: lifecycle.NewLoop("fake main"), block: make(chan chan struct{})}
}

func (f *fakeScheme) PingLoops(ctx context.Context) error { return lifecycle.Ask(ctx, f.loop) }

// run is the scheme's Run: its loop until ctx ends.
func (f *fakeScheme) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-f.loop.Pings():
			close(r)
		case release := <-f.block:
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// WATCHDOG=1 used to follow the status report alone, and a scheme's loop
// that was stuck while its status could still be read kept it fed. Now
// the loop has to answer: while it is blocked no WATCHDOG=1 goes out, the
// status shows the loop with an ERR health entry and the log says it
// once, as does the STATUS= line; once it answers again they resume.
func TestWatchdogNeedsEveryLoop(t *testing.T) {
	sock := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "400000") // fed every 200 ms, loops asked within 100 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	d, logs := configDaemon(t, "", "voter serve")
	f := newFakeScheme()
	d.live.pinger = f
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.run(ctx, adminapi.Config{}, "127.0.0.1:0", f.run) }()
	nextNotify(t, sock, "READY=1")
	nextNotify(t, sock, notifyWatchdog)
	release := make(chan struct{})
	f.block <- release // the loop is blocked from here
	logged := len(logs.String())
	stuckDoc := func() bool {
		for _, doc := range d.Admin.Report().Instances {
			if doc.State == "Stuck" && len(doc.Health) == 1 && doc.Health[0].State == "ERR" &&
				doc.Health[0].Name == "loop fake main" && strings.HasPrefix(doc.Health[0].Reason, "has not answered for ") {
				return true
			}
		}
		return false
	}
	testutil.Eventually(t, 5*time.Second, "the status shows the blocked loop", stuckDoc)
	buf := make([]byte, 512)
	var status string
	for { // what was sent before the loop was found blocked, and the STATUS= then
		_ = sock.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		n, err := sock.Read(buf)
		if err != nil {
			break
		}
		if msg := string(buf[:n]); strings.HasPrefix(msg, "STATUS=") {
			status = msg
		}
	}
	if !strings.HasPrefix(status, "STATUS=running, admin on ") || !strings.HasSuffix(status, "; loop fake main does not answer (watchdog not fed)") {
		t.Errorf("STATUS= when the loop was found blocked: %q", status)
	}
	_ = sock.SetReadDeadline(time.Now().Add(time.Second)) // five watchdog intervals
	if n, err := sock.Read(buf); err == nil {
		t.Errorf("%q sent while a loop of the scheme did not answer", buf[:n])
	}
	if n := strings.Count(logs.String()[logged:], "loop fake main does not answer"); n != 1 {
		t.Errorf("the blocked loop logged %d times, want once:\n%s", n, logs)
	}
	close(release)
	if st := nextNotify(t, sock, "STATUS=running, admin on "); strings.Contains(st, "does not answer") {
		t.Errorf("STATUS= once the loop answers again: %q", st)
	}
	nextNotify(t, sock, notifyWatchdog)
	if stuckDoc() {
		t.Error("the status still shows the loop after it answered")
	}
	if !strings.Contains(logs.String(), "loop fake main answers again") {
		t.Errorf("the recovery was not logged:\n%s", logs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// READY=1 went out before Run: when Run failed at once systemd had been
// told the service was up. Now it waits for the scheme's loops to answer,
// so a Run that fails before them sends no READY=1.
func TestNoReadyWhenRunFails(t *testing.T) {
	sock := notifySocket(t)
	d, _ := configDaemon(t, "", "voter serve")
	d.live.pinger = newFakeScheme() // its loop never runs
	boom := errors.New("scheme: cannot start")
	if err := d.run(t.Context(), adminapi.Config{}, "127.0.0.1:0", func(context.Context) error { return boom }); err != boom {
		t.Fatalf("run = %v, want %v", err, boom)
	}
	// run has returned: whatever its loop sent is in the socket already
	buf := make([]byte, 512)
	for {
		_ = sock.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := sock.Read(buf)
		if err != nil {
			break
		}
		if strings.HasPrefix(string(buf[:n]), notifyReady) {
			t.Errorf("%q sent although Run failed before it started", buf[:n])
		}
	}
}

// started is closed by the scheme when it has started.
type startedScheme struct{ started chan struct{} }

func (s startedScheme) Started() <-chan struct{} { return s.started }

// With Started, READY=1 follows it (and still carries STATUS=).
func TestReadyAfterStarted(t *testing.T) {
	sock := notifySocket(t)
	d, _ := configDaemon(t, "", "voter serve")
	s := startedScheme{make(chan struct{})}
	d.live.starter = s
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- d.run(ctx, adminapi.Config{}, "127.0.0.1:0", func(ctx context.Context) error {
			close(s.started)
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	if ready := nextNotify(t, sock, "READY=1"); !strings.Contains(ready, "\nSTATUS=running, admin on ") {
		t.Errorf("READY without STATUS: %q", ready)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
