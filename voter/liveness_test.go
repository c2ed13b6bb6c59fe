package voter

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redund/redund/internal/lifecycle"
)

// askWithin is PingLoops waiting at most d (a loop that is blocked never
// answers, so d only bounds the test).
func askWithin(s *Server, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return s.PingLoops(ctx)
}

// The tick loop answers PingLoops; while a packet handler keeps the
// group's lock (the loop cannot take it) it does not, so the daemon stops
// feeding systemd's watchdog. Before Run no loop answers (no READY=1).
func TestPingLoopsTickLoop(t *testing.T) {
	cfgs := map[string]*Config{"x": voterCfg("127.0.0.1:0", "", map[string]*ClientConfig{"a": cl("pa")})}
	s, err := New(cfgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"voter tick 127.0.0.1:0"}
	if got := lifecycle.Unanswered(askWithin(s, 50*time.Millisecond)); !slices.Equal(got, want) {
		t.Errorf("before Run: unanswered %v, want %v", got, want)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := s.PingLoops(t.Context()); err != nil { // the loop has started
		t.Fatalf("PingLoops once running = %v", err)
	}
	g := s.groups[0]
	g.mu.Lock() // as a handler stuck under the lock
	got := lifecycle.Unanswered(askWithin(s, 100*time.Millisecond))
	g.mu.Unlock()
	if !slices.Equal(got, want) {
		t.Errorf("with the loop blocked: unanswered %v, want %v", got, want)
	}
	if err := s.PingLoops(t.Context()); err != nil {
		t.Errorf("PingLoops after the lock was released = %v", err)
	}
}
