package logging

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	var buf bytes.Buffer
	th := NewThrottle(slog.New(slog.NewTextHandler(&buf, nil)), "refused", time.Hour)
	for i := range 1000 {
		th.Event(fmt.Sprintf("10.0.0.%d", i%20), "bad MAC")
	}
	th.Flush()
	th.Flush() // nothing new: no line
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines for 1000 events:\n%s", len(lines), buf.String())
	}
	for _, want := range []string{"dropped=999", "10.0.0.1 (50)", "others (599)", "last_reason=\"bad MAC\""} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("summary %q lacks %q", lines[1], want)
		}
	}
	th.Event("10.0.0.99", "again") // a new interval: logged at once
	if n := strings.Count(buf.String(), "\n"); n != 3 {
		t.Fatalf("the first event of a new interval was not logged:\n%s", buf.String())
	}
}

func TestThrottleRunFlushesAtEnd(t *testing.T) {
	var buf bytes.Buffer
	th := NewThrottle(slog.New(slog.NewTextHandler(&buf, nil)), "refused", time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { th.Run(ctx); close(done) }()
	th.Event("a", "x")
	th.Event("a", "x")
	cancel()
	<-done
	if !strings.Contains(buf.String(), "dropped=1") {
		t.Fatalf("no summary when Run ended:\n%s", buf.String())
	}
}

// TestEvery: one line per period, the rest counted and reported by the
// next line through; a new key gets through at once; Reset starts over.
// (It merges internal/peer's limiter and schedsync's two hand-made
// logged/unlogged pairs, whose behaviour these rows keep.)
func TestEvery(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type call struct {
		at    time.Duration // after t0
		key   string
		reset bool // Reset before the call
		ok    bool
		held  int
	}
	for _, tt := range []struct {
		name   string
		period time.Duration
		calls  []call
	}{
		{"first line through, repeats held until the period ends", time.Minute, []call{
			{0, "", false, true, 0}, {time.Second, "", false, false, 0}, {59 * time.Second, "", false, false, 0},
			{time.Minute, "", false, true, 2}, {61 * time.Second, "", false, false, 0},
		}},
		{"a new key gets through at once and reports what was held", time.Minute, []call{
			{0, "a", false, true, 0}, {time.Second, "a", false, false, 0}, {2 * time.Second, "b", false, true, 1},
			{3 * time.Second, "b", false, false, 0}, {4 * time.Second, "a", false, true, 1},
		}},
		{"reset: the next line through at once, the held count dropped", time.Minute, []call{
			{0, "a", false, true, 0}, {time.Second, "a", false, false, 0}, {2 * time.Second, "a", true, true, 0},
		}},
		{"zero period: every line", 0, []call{
			{0, "", false, true, 0}, {0, "", false, true, 0},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := &Every{Period: tt.period}
			for i, c := range tt.calls {
				if c.reset {
					e.Reset()
				}
				ok, held := e.AllowKey(t0.Add(c.at), c.key)
				if ok != c.ok || held != c.held {
					t.Fatalf("call %d (%+v): got %v, %d", i, c, ok, held)
				}
			}
		})
	}
}

// TestEveryConcurrent: many goroutines at once let exactly one line
// through in a period and the next one counts all the others.
func TestEveryConcurrent(t *testing.T) {
	e := &Every{Period: time.Hour}
	t0 := time.Unix(1000, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	through := 0
	for range 100 {
		wg.Go(func() {
			if ok, _ := e.Allow(t0); ok {
				mu.Lock()
				through++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok, held := e.Allow(t0.Add(time.Hour)); through != 1 || !ok || held != 99 {
		t.Fatalf("%d lines through at once; then %v with %d held, want 1, then true with 99", through, ok, held)
	}
}
