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
	m, b, failing, tries := failingLeadPair(t, func(*gw) {})
	m.stop()
	waitRole(t, b, RoleActive, 5*time.Second)

	testutil.Eventually(t, 5*time.Second, "the lead error in the status", func() bool {
		d := b.Status()[0]
		return strings.Contains(d.Reason, "cannot lead the state log: disk on fire (state writes refused)") &&
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

// TestStateWritesRefusedWhileNotLeading: a backup that goes active but
// cannot lead its state log refuses state writes (409, the lead error as
// the reason) and stores none of them, while history points are still
// taken (they are not kept in the state log); once a retry of Lead works,
// state writes are accepted again. They used to be acknowledged into a log
// still marked as following the master's.
func TestStateWritesRefusedWhileNotLeading(t *testing.T) {
	m, b, failing, _ := failingLeadPair(t, func(m *gw) {
		if _, err := m.SetState("k", []byte("from the master")); err != nil {
			t.Fatal(err)
		}
	})
	ba := "http://" + admin(t, b, "")
	testutil.Eventually(t, 5*time.Second, "the master's state on the backup", func() bool {
		it, ok, _ := b.GetDoc(ProvState, "k")
		return ok && string(it.Value) == "from the master"
	})
	m.stop()
	waitRole(t, b, RoleActive, 5*time.Second)
	testutil.Eventually(t, 5*time.Second, "the lead error in the status", func() bool {
		return strings.Contains(b.Detail().LeadError, "disk on fire")
	})
	before, err := b.store.Position(ProvState)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, method, path, body string }{
		{"put state", "PUT", KeyPath(ProvState, "k"), "from the backup"},
		{"delete state", "DELETE", KeyPath(ProvState, "k"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, tc.method, ba+tc.path, "", tc.body)
			if code != 409 || !strings.Contains(body, "cannot lead the state log: disk on fire") {
				t.Fatalf("%s %s while not leading: %d %s", tc.method, tc.path, code, body)
			}
		})
	}
	var ref *RefusedError
	if _, err := b.SetState("k", []byte("v")); !errors.As(err, &ref) || !strings.Contains(err.Error(), "cannot lead the state log") {
		t.Fatalf("SetState while not leading: %v", err)
	}
	if after, err := b.store.Position(ProvState); err != nil || after != before {
		t.Fatalf("state log %+v (%v), was %+v: a refused write was stored", after, err, before)
	}
	if it, _, _ := b.GetDoc(ProvState, "k"); string(it.Value) != "from the master" {
		t.Fatalf("state k = %q: a refused write changed it", it.Value)
	}
	if code, body := do(t, "POST", ba+"/v1/gateway/history", "", `[{"tag":"t","ts_ms":1,"value":1}]`); code != 200 {
		t.Fatalf("history while not leading the state log: %d %s", code, body)
	}

	failing.Store(false)
	testutil.Eventually(t, 5*time.Second, "the lead error cleared by a retry", func() bool { return b.Detail().LeadError == "" })
	if code, body := do(t, "PUT", ba+KeyPath(ProvState, "k"), "", "from the backup"); code != 200 {
		t.Fatalf("put state once leading: %d %s", code, body)
	}
	if it, _, _ := b.GetDoc(ProvState, "k"); string(it.Value) != "from the backup" {
		t.Fatalf("state k = %q after an accepted write", it.Value)
	}
}

// TestConfigWritableWhileNotLeading: a master that cannot lead its state
// log refuses state writes but still takes configuration: the config log
// is a log of its own, always led by the master.
func TestConfigWritableWhileNotLeading(t *testing.T) {
	mc := baseCfg(t, ModeMaster, filepath.Join(t.TempDir(), "m"))
	mc.PeerListen = "127.0.0.1:0" // no backup comes
	m := startGWLead(t, mc, func(*Gateway, string) error { return errors.New("disk on fire") })
	waitRole(t, m, RoleActive, 5*time.Second)
	testutil.Eventually(t, 5*time.Second, "the lead error in the status", func() bool {
		return strings.Contains(m.Detail().LeadError, "disk on fire")
	})
	if _, err := m.SetState("k", []byte("v")); err == nil || !strings.Contains(err.Error(), "cannot lead the state log") {
		t.Fatalf("SetState while not leading: %v", err)
	}
	if _, err := m.SetConfig("tags/a", []byte("v")); err != nil {
		t.Fatalf("SetConfig while not leading the state log: %v", err)
	}
}

// startGWLead is startGW with store.Lead replaced by lead (set before Run).
// failingLeadPair starts a master, runs onMaster on it once it is active,
// then a backup whose store.Lead fails while failing is set (set at start)
// and counts its tries; it returns once the backup stands by.
func failingLeadPair(t *testing.T, onMaster func(m *gw)) (m, b *gw, failing *atomic.Bool, tries *atomic.Int32) {
	t.Helper()
	dir := t.TempDir()
	mc, bc := baseCfg(t, ModeMaster, filepath.Join(dir, "m")), baseCfg(t, ModeBackup, filepath.Join(dir, "b"))
	ln := listen(t, "127.0.0.1:0")
	bc.Peer = ln.Addr().String()
	m = startGW(t, mc, ln)
	waitRole(t, m, RoleActive, 5*time.Second)
	onMaster(m)
	failing, tries = &atomic.Bool{}, &atomic.Int32{}
	failing.Store(true)
	b = startGWLead(t, bc, func(g *Gateway, p string) error {
		tries.Add(1)
		if failing.Load() {
			return errors.New("disk on fire")
		}
		return g.store.Lead(p)
	})
	waitRole(t, b, RoleStandby, 5*time.Second)
	return m, b, failing, tries
}

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
