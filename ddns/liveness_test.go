package ddns

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/lifecycle"
)

// hungProvider is a memProvider whose Set does not return until release
// is closed (a provider call that hangs); entered is closed at the first.
type hungProvider struct {
	*memProvider
	once             sync.Once
	entered, release chan struct{}
}

func (p *hungProvider) Set(ctx context.Context, r dnsupdate.Record) (string, error) {
	p.once.Do(func() { close(p.entered) })
	<-p.release // not ctx: the call hangs
	return p.memProvider.Set(ctx, r)
}

// A scheme's run loop answers PingLoops; while it hangs in a provider
// call it does not, so the daemon stops feeding systemd's watchdog.
// Before Run no loop answers (no READY=1).
func TestPingLoopsSchemeLoop(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, false), newPage(t, false)
	p := &hungProvider{memProvider: &memProvider{}, entered: make(chan struct{}), release: make(chan struct{})}
	d, err := New(map[string]*Config{"cat": catConfig(t, main, backup, sorry)},
		Options{Provider: func(string, *Config) (dnsupdate.Provider, error) { return p, nil }})
	if err != nil {
		t.Fatal(err)
	}
	within := func(dur time.Duration) []string {
		ctx, cancel := context.WithTimeout(t.Context(), dur)
		defer cancel()
		return lifecycle.Unanswered(d.PingLoops(ctx))
	}
	if got, want := within(50*time.Millisecond), []string{"ddns daemon", "ddns cat"}; !slices.Equal(got, want) {
		t.Errorf("before Run: unanswered %v, want %v", got, want)
	}
	runDaemon(t, d)
	t.Cleanup(func() {
		select {
		case <-p.release:
		default:
			close(p.release)
		}
	})
	<-p.entered // the scheme pushes main's address: its loop hangs
	if got, want := within(100*time.Millisecond), []string{"ddns cat"}; !slices.Equal(got, want) {
		t.Errorf("with the scheme's loop hung: unanswered %v, want %v", got, want)
	}
	close(p.release)
	if err := d.PingLoops(t.Context()); err != nil {
		t.Errorf("PingLoops once the call returned = %v", err)
	}
}
