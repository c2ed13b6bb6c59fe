package ddns

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/testutil"
)

func TestFailoverAndBack(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	p := &memProvider{value: []string{"192.0.2.1"}} // already pointing at main
	d := startDaemon(t, catConfig(t, main, backup, sorry), p)
	s := d.Scheme("cat")
	testutil.Eventually(t, 2*time.Second, "scheme synced", func() bool { return s.Snapshot().State == "Synced" })
	if len(p.pushes()) != 0 {
		t.Fatalf("pushed %v although the provider already had main's address", p.pushes())
	}
	main.ok.Store(false)
	took := testutil.Eventually(t, 2*time.Second, "failover to backup", func() bool { return p.current() == "192.0.2.2" })
	t.Logf("failover took %v (fall 2 × 50ms)", took)
	backup.ok.Store(false)
	testutil.Eventually(t, 2*time.Second, "failover to sorry", func() bool { return p.current() == "192.0.2.3" })
	main.ok.Store(true)
	testutil.Eventually(t, 2*time.Second, "back to main", func() bool { return p.current() == "192.0.2.1" })
	testutil.Eventually(t, time.Second, "synced", func() bool { return s.Snapshot().State == "Synced" })
	if got := p.pushes(); !slices.Equal(got, []string{"192.0.2.2", "192.0.2.3", "192.0.2.1"}) {
		t.Errorf("pushes = %v, want exactly one per change", got)
	}
	ss := s.Snapshot()
	if ss.LastPush == nil || ss.LastPush.Reply != "good 192.0.2.1" || !ss.InSync || ss.Decision.Server != "main" {
		t.Errorf("status after recovery: %+v", ss)
	}
}

func TestFlappingFasterThanRiseFallChangesNothing(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	p := &memProvider{}
	d := startDaemon(t, catConfig(t, main, backup, sorry), p)
	testutil.Eventually(t, 2*time.Second, "first push", func() bool { return p.current() == "192.0.2.1" })
	main.flap.Store(true) // OK, ERR, OK, ERR...: never two ERRs in a row (fall 2)
	start := main.hits.Load()
	testutil.Eventually(t, 5*time.Second, "20 flapping checks", func() bool { return main.hits.Load()-start >= 20 })
	if got := p.pushes(); len(got) != 1 {
		t.Errorf("pushes = %v, want only the first", got)
	}
	if st := d.Scheme("cat").Snapshot().Servers[0].State; st != "OK" {
		t.Errorf("main is %s while flapping, want OK", st)
	}
}

func TestMaintenanceSurvivesRestart(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	cfg := catConfig(t, main, backup, sorry)
	p := &memProvider{}
	d := startDaemon(t, cfg, p)
	testutil.Eventually(t, 2*time.Second, "main chosen", func() bool { return p.current() == "192.0.2.1" })
	if err := d.SetMaintenance("cat", "main", true); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, "backup during maintenance", func() bool { return p.current() == "192.0.2.2" })
	if err := d.SetMaintenance("cat", "nosuch", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown server: %v", err)
	}
	if err := d.SetMaintenance("dog", "main", true); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown scheme: %v", err)
	}
	// a second daemon on the same state dir starts with main in maintenance
	d2, err := New(map[string]*Config{"cat": cfg}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sv := d2.Scheme("cat").Snapshot().Servers[0]
	if !sv.Maintenance || sv.MaintSource != "runtime" {
		t.Errorf("after restart main = %+v, want maintenance from runtime state", sv)
	}
	if err := d.SetMaintenance("cat", "main", false); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 2*time.Second, "main again", func() bool { return p.current() == "192.0.2.1" })
}

func TestProviderErrorsAreRetried(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	p := &memProvider{failGet: 1, failSet: 3, err: errors.New("dnsupdate: he: badauth (wrong hostname or dynamic DNS key)")}
	d := startDaemon(t, catConfig(t, main, backup, sorry), p)
	s := d.Scheme("cat")
	testutil.Eventually(t, 2*time.Second, "error in status", func() bool {
		ss := s.Snapshot()
		return ss.State == "Retrying" && ss.Retry.Pending && strings.Contains(ss.LastError, "badauth")
	})
	doc := d.Status()[0]
	if doc.State != "Retrying" || !strings.Contains(doc.Reason, "badauth") {
		t.Errorf("document: %s %q", doc.State, doc.Reason)
	}
	testutil.Eventually(t, 5*time.Second, "push after retries", func() bool { return p.current() == "192.0.2.1" })
	ss := s.Snapshot()
	if ss.Failures != 4 || ss.Retry.Pending || ss.State != "Synced" {
		t.Errorf("after recovery: failures %d, retry %+v, state %s", ss.Failures, ss.Retry, ss.State)
	}
}

func TestPolicyKeepLeavesRecord(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, false), newPage(t, false)
	p := &memProvider{}
	d := startDaemon(t, catConfig(t, main, backup, sorry), p)
	testutil.Eventually(t, 2*time.Second, "main", func() bool { return p.current() == "192.0.2.1" })
	main.ok.Store(false)
	s := d.Scheme("cat")
	testutil.Eventually(t, 2*time.Second, "unavailable", func() bool { return s.Snapshot().State == "Unavailable" })
	if p.current() != "192.0.2.1" || len(p.pushes()) != 1 {
		t.Errorf("keep changed the record: %v", p.pushes())
	}
	if r := s.Snapshot().Decision.Reason; !strings.Contains(r, "no server is OK") {
		t.Errorf("reason %q", r)
	}
}

// TestSorryIsDegraded: with policy sorry and no server OK, the record points
// at the sorry server as the policy says, but the state is Degraded (amber),
// not a green Synced; it turns Synced when a server is OK again.
func TestSorryIsDegraded(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, false), newPage(t, true)
	c := catConfig(t, main, backup, sorry)
	c.Policy, c.Sorry = PolicySorry, "sorry"
	p := &memProvider{}
	d := startDaemon(t, c, p)
	s := d.Scheme("cat")
	testutil.Eventually(t, 2*time.Second, "main", func() bool { return p.current() == "192.0.2.1" && s.Snapshot().State == "Synced" })
	main.ok.Store(false)
	testutil.Eventually(t, 2*time.Second, "sorry", func() bool { return p.current() == "192.0.2.3" && s.Snapshot().State == "Degraded" })
	if ss := s.Snapshot(); !ss.InSync || !strings.Contains(ss.Decision.Reason, "no server is OK") {
		t.Errorf("degraded: in_sync %v, reason %q", ss.InSync, ss.Decision.Reason)
	}
	if doc := d.Status()[0]; doc.State != "Degraded" {
		t.Errorf("document state %q", doc.State)
	}
	main.ok.Store(true)
	testutil.Eventually(t, 2*time.Second, "main again", func() bool { return p.current() == "192.0.2.1" && s.Snapshot().State == "Synced" })
}

func TestKilledServerFailsOver(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	p := &memProvider{}
	d := startDaemon(t, catConfig(t, main, backup, sorry), p)
	testutil.Eventually(t, 2*time.Second, "main", func() bool { return p.current() == "192.0.2.1" })
	main.srv.Close() // the server dies: connection refused
	testutil.Eventually(t, 2*time.Second, "backup", func() bool { return p.current() == "192.0.2.2" })
	if r := d.Scheme("cat").Snapshot().Servers[0].Reason; !strings.Contains(r, "refused") {
		t.Errorf("main's reason %q, want connection refused", r)
	}
}

// TestRecheckRepairsOutsideChange: a record changed behind the daemon's
// back is read again at the next recheck and set back.
func TestRecheckRepairsOutsideChange(t *testing.T) {
	main, backup, sorry := newPage(t, true), newPage(t, true), newPage(t, true)
	p := &memProvider{value: []string{"192.0.2.1"}}
	c := catConfig(t, main, backup, sorry)
	c.Recheck = config.Duration(200 * time.Millisecond)
	s := startDaemon(t, c, p).Scheme("cat")
	testutil.Eventually(t, 2*time.Second, "scheme synced", func() bool { return s.Snapshot().State == "Synced" })
	p.mu.Lock()
	p.value = []string{"198.51.100.9"} // someone else edits the record
	p.mu.Unlock()
	testutil.Eventually(t, 2*time.Second, "record set back to main", func() bool { return p.current() == "192.0.2.1" })
	if got := p.pushes(); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Errorf("pushes = %v, want the one repair", got)
	}
}

// TestSchemesStartSpreadOverOneInterval: of two schemes at interval 2s
// (whose checks differ, so that they do not share a probe), the second
// probes first about 1s after the first does.
func TestSchemesStartSpreadOverOneInterval(t *testing.T) {
	pa, pb := newPage(t, true), newPage(t, true)
	cfgs := map[string]*Config{"a": catConfig(t, pa, pa, pa), "b": catConfig(t, pb, pb, pb)}
	for _, c := range cfgs {
		c.Interval = config.Duration(2 * time.Second)
	}
	d, err := New(cfgs, Options{Provider: func(string, *Config) (dnsupdate.Provider, error) { return &memProvider{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	first := func(name string) ServerStatus { return d.Scheme(name).Snapshot().Servers[0] }
	testutil.Eventually(t, 5*time.Second, "b's first probe", func() bool { return first("b").Checks > 0 })
	a, b := first("a"), first("b")
	if gap := b.LastCheck.Sub(a.LastCheck); a.Checks != 1 || gap < 700*time.Millisecond || gap > 1500*time.Millisecond {
		t.Errorf("a probed %d times, b first probed %v after a's first, want once and about 1s", a.Checks, gap)
	}
}

// TestEqualChecksShareOneProbe: servers of different schemes with equal
// checks at equal intervals share one probe; every result reaches each
// scheme, and the page is asked once per probe, not once per scheme.
func TestEqualChecksShareOneProbe(t *testing.T) {
	main, backup := newPage(t, true), newPage(t, true)
	cfgs := map[string]*Config{"a": catConfig(t, main, backup, backup), "b": catConfig(t, main, backup, backup),
		"slow": catConfig(t, main, backup, backup)}
	cfgs["slow"].Interval = config.Duration(time.Hour) // same checks, another schedule
	d, err := New(cfgs, Options{Provider: func(string, *Config) (dnsupdate.Provider, error) { return &memProvider{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if d.Probes() != 4 {
		t.Fatalf("%d probes for 9 servers, want 4 (main and backup at 50ms, main and backup at 1h)", d.Probes())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	server := func(scheme string, i int) ServerStatus { return d.Scheme(scheme).Snapshot().Servers[i] }
	testutil.Eventually(t, 5*time.Second, "ten probes of main", func() bool { return server("a", 0).Checks >= 10 })
	cancel()
	<-done
	a, b, slow := server("a", 0).Checks, server("b", 0).Checks, server("slow", 0).Checks
	hits := uint64(main.hits.Load())
	// a probe cancelled by the stop may have reached the page unrecorded
	if a != b || hits < a+slow || hits > a+slow+2 {
		t.Errorf("main: a recorded %d results, b %d, slow %d; the page was asked %d times: want a = b and a + slow requests",
			a, b, slow, hits)
	}
}
