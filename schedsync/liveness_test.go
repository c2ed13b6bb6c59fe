package schedsync

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/testutil"
)

// unanswered is PingLoops waiting at most d (a loop that is blocked
// never answers, so d only bounds the test).
func unanswered(n *Node, d time.Duration) []string {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return lifecycle.Unanswered(n.PingLoops(ctx))
}

// The role loop and the persist loop answer PingLoops; once the persist
// loop is blocked (the applier's lock it saves under is held for good) it
// does not, so the daemon stops feeding systemd's watchdog. Before Run no
// loop answers (no READY=1).
func TestPingLoopsPersistLoop(t *testing.T) {
	a, _, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryCopy, nil)
	lnB.Close() // no secondary: the primary runs alone
	n, err := New(a, Options{Version: "test", Listener: lnA})
	must(t, err)
	if got, want := unanswered(n, 50*time.Millisecond), []string{"schedsync role loop", "schedsync persist loop"}; !slices.Equal(got, want) {
		t.Errorf("before Run: unanswered %v, want %v", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := n.PingLoops(t.Context()); err != nil {
		t.Fatalf("PingLoops once running = %v", err)
	}
	n.app.emu.Lock() // the persist loop blocks at its next save (every second)
	var got []string
	testutil.Eventually(t, 5*time.Second, "the persist loop stops answering", func() bool {
		got = unanswered(n, 100*time.Millisecond)
		return slices.Contains(got, "schedsync persist loop")
	})
	n.app.emu.Unlock()
	if want := []string{"schedsync persist loop"}; !slices.Equal(got, want) {
		t.Errorf("with the persist loop blocked: unanswered %v, want %v", got, want)
	}
	if err := n.PingLoops(t.Context()); err != nil {
		t.Errorf("PingLoops once the lock was released = %v", err)
	}
}

// A synced secondary's role loop counts as answering during its long
// poll, but not once it is stuck outside one (here on the node's lock,
// held for good) and the poll's deadline has passed.
func TestPingLoopsSecondaryRoleLoop(t *testing.T) {
	_, s := startPair(t, ModePrimary, ModeSecondaryCopy, nil)
	testutil.Eventually(t, 10*time.Second, "the secondary is synced", func() bool { return s.state() == StateSynced })
	if err := s.PingLoops(t.Context()); err != nil {
		t.Fatalf("PingLoops once synced = %v", err)
	}
	locked := true
	s.mu.Lock()        // the syncer blocks as its next poll ends
	t.Cleanup(func() { // before the node stops, on a failure too
		if locked {
			s.mu.Unlock()
		}
	})
	var got []string
	testutil.Eventually(t, 10*time.Second, "the role loop stops answering", func() bool {
		got = unanswered(s.Node, 100*time.Millisecond)
		return slices.Contains(got, "schedsync role loop")
	})
	locked = false
	s.mu.Unlock()
	if err := s.PingLoops(t.Context()); err != nil {
		t.Errorf("PingLoops once the lock was released = %v", err)
	}
}
