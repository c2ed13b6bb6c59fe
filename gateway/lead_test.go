package gateway

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/testutil"
)

// TestLeadFailureShownAndCleared: a backup that goes active but cannot
// lead its state log (store.Lead fails) says so in its status document
// (reason and health), tries again, and the error goes once a try works.
// It was only logged.
func TestLeadFailureShownAndCleared(t *testing.T) {
	dir := t.TempDir()
	mc, bc := baseCfg(t, ModeMaster, filepath.Join(dir, "m")), baseCfg(t, ModeBackup, filepath.Join(dir, "b"))
	ln := listen(t, "127.0.0.1:0")
	bc.Peer = ln.Addr().String()
	m := startGW(t, mc, ln)
	waitRole(t, m, RoleActive, 5*time.Second)

	var failing atomic.Bool
	failing.Store(true)
	var tries atomic.Int32
	b := startGWLead(t, bc, func(g *Gateway, p string) error {
		tries.Add(1)
		if failing.Load() {
			return errors.New("disk on fire")
		}
		return g.store.Lead(p)
	})
	waitRole(t, b, RoleStandby, 5*time.Second)
	m.stop()
	waitRole(t, b, RoleActive, 5*time.Second)

	testutil.Eventually(t, 5*time.Second, "the lead error in the status", func() bool {
		d := b.Status()[0]
		return strings.Contains(d.Reason, "cannot lead the state log: disk on fire") &&
			len(d.Health) == 1 && d.Health[0].State == "ERR" && strings.Contains(d.Health[0].Reason, "disk on fire") &&
			strings.Contains(b.Detail().LeadError, "disk on fire")
	})
	testutil.Eventually(t, 5*time.Second, "a retry", func() bool { return tries.Load() >= 2 })
	failing.Store(false)
	testutil.Eventually(t, 5*time.Second, "the error cleared after a retry worked", func() bool {
		d := b.Status()[0]
		return !strings.Contains(d.Reason, "cannot lead") && len(d.Health) == 0 && b.Detail().LeadError == ""
	})
	if _, err := b.SetState("after", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

// startGWLead is startGW with store.Lead replaced by lead (set before Run).
func startGWLead(t *testing.T, cfg Config, lead func(g *Gateway, p string) error) *gw {
	t.Helper()
	ring := logging.NewRing(100)
	log, _ := logging.New(io.Discard, "info", "text", ring)
	g, err := New(&cfg, Options{Log: log, Version: "1.0.0", Ring: ring})
	if err != nil {
		t.Fatal(err)
	}
	g.leadHook = func(p string) error { return lead(g, p) }
	ctx, cancel := context.WithCancel(context.Background())
	n := &gw{Gateway: g, cfg: cfg, cancel: cancel, done: make(chan struct{}), ring: ring}
	go func() { defer close(n.done); _ = g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-n.done
	})
	return n
}
