package gateway

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/lifecycle"
)

// The role loop answers PingLoops; while it hangs leading the state log
// (a side effect that never returns) it does not, so the daemon stops
// feeding systemd's watchdog. Before Run no loop answers (no READY=1).
func TestPingLoopsRoleLoop(t *testing.T) {
	var once sync.Once
	entered, release := make(chan struct{}), make(chan struct{})
	n := startGWLead(t, baseCfg(t, ModeIndependent, t.TempDir()), func(g *Gateway, p string) error {
		once.Do(func() { close(entered) })
		<-release
		return g.store.Lead(p)
	})
	t.Cleanup(func() { // before Run is stopped (cleanups run last first)
		select {
		case <-release:
		default:
			close(release)
		}
	})
	within := func(d time.Duration) []string {
		ctx, cancel := context.WithTimeout(t.Context(), d)
		defer cancel()
		return lifecycle.Unanswered(n.PingLoops(ctx))
	}
	<-entered // the node becomes active: the role loop leads the state log
	if got, want := within(100*time.Millisecond), []string{"gateway role loop"}; !slices.Equal(got, want) {
		t.Errorf("with the role loop hung: unanswered %v, want %v", got, want)
	}
	close(release)
	if err := n.PingLoops(t.Context()); err != nil {
		t.Errorf("PingLoops once the lead returned = %v", err)
	}
}

func TestPingLoopsBeforeRun(t *testing.T) {
	cfg := baseCfg(t, ModeIndependent, t.TempDir())
	g, err := New(&cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.close()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if got, want := lifecycle.Unanswered(g.PingLoops(ctx)), []string{"gateway role loop", "gateway supervisor"}; !slices.Equal(got, want) {
		t.Errorf("before Run: unanswered %v, want %v", got, want)
	}
}
