package schedsync

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// eventHook appends "$REDUND_SCHEDSYNC_EVENT $REDUND_SCHEDSYNC_ROLE" to out.
func eventHook(out string) []string {
	return []string{"/bin/sh", "-c", `echo "$REDUND_SCHEDSYNC_EVENT $REDUND_SCHEDSYNC_ROLE" >> "$0"`, out}
}

// TestHooksAtStartAndStop: a node that starts as primary runs on_promote
// (event "start"), and on_demote (event "stop") when the daemon stops;
// a secondary runs neither. Before, the hooks ran only on role changes:
// stopping the daemon on the primary left its application running while
// the secondary-failover took over after failover_offset (at once with
// the witness) and started its own, and a primary's application stopped
// by hand was never told at start.
func TestHooksAtStartAndStop(t *testing.T) {
	outA := filepath.Join(t.TempDir(), "hooks-a")
	outB := filepath.Join(t.TempDir(), "hooks-b")
	a, b := startPair(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		a.OnPromote, a.OnDemote = eventHook(outA), eventHook(outA)
		b.OnPromote, b.OnDemote = eventHook(outB), eventHook(outB)
	})
	testutil.Eventually(t, 15*time.Second, "the start hook ran on the primary", func() bool {
		return strings.Join(hookLines(outA), " ") == "start primary |"
	})
	testutil.Eventually(t, 15*time.Second, "the secondary Synced", func() bool { return b.state() == StateSynced })
	a.stop()
	b.stop()
	if got := strings.Join(hookLines(outA), " "); got != "start primary | stop secondary |" {
		t.Errorf("primary's hooks: %q, want start then stop", got)
	}
	if _, err := os.Stat(outB); !os.IsNotExist(err) {
		t.Errorf("the secondary ran a hook (%v): %q", err, hookLines(outB))
	}
}

// TestWitnessStopHookBeforeTheLockGoes: with the witness, a primary that
// stops runs on_demote (event "stop") while it still holds the lock, and
// releases the lock only once the hook has finished: the secondary cannot
// promote (and start its application) while the old primary's
// application still runs. Before, the stop ran no hook at all and the
// lease was revoked at once.
func TestWitnessStopHookBeforeTheLockGoes(t *testing.T) {
	dir := t.TempDir()
	out, release := filepath.Join(dir, "stop-hook"), filepath.Join(dir, "release")
	p := startWitPairWith(t, func(a, _ *Config) {
		// the stop hook says it runs, then waits for the test
		a.OnDemote = []string{"/bin/sh", "-c", `[ "$REDUND_SCHEDSYNC_EVENT" = stop ] || exit 0
echo "stop $REDUND_FENCE" >> "$0"
while [ ! -e "$1" ]; do sleep 0.05; done`, out, release}
	})
	testutil.Eventually(t, 15*time.Second, "the start hook ran on the primary", func() bool {
		return strings.HasPrefix(strings.Join(hookLines(p.hookA), " "), "start ")
	})
	stopped := make(chan struct{})
	go func() { defer close(stopped); p.a.stop() }()
	testutil.Eventually(t, 15*time.Second, "the stop hook runs", func() bool { return len(hookLines(out)) > 0 })
	if _, held := p.a.wit.lock.Held(); !held {
		t.Fatal("the lock was given up before the stop hook finished")
	}
	if p.b.Role() == RolePrimary {
		t.Fatal("the secondary is primary while the old primary's stop hook runs")
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	<-stopped
	testutil.Eventually(t, 20*time.Second, "the secondary takes over", func() bool { return p.b.Role() == RolePrimary })
}

// TestWitnessOperatorDemoteSticks: with the witness, a node configured
// primary that the operator demotes while its peer is down stays
// secondary: it does not campaign on its own until a primary serves it or
// the operator promotes it. It campaigned again after failover_offset
// (its peer not serving it) and took its role back.
func TestWitnessOperatorDemoteSticks(t *testing.T) {
	p := startWitPair(t)
	p.b.stop()
	if err := p.a.Demote(context.Background()); err != nil {
		t.Fatal(err)
	}
	f := p.a.witnessFacts(false)
	f.Unserved = time.Hour // long past failover_offset, as with the peer down
	if f.Eligible || witnessRule(f) == witCampaign {
		t.Fatalf("after the operator's demote: facts %+v, rule %v: the node campaigns on its own", f, witnessRule(f))
	}
	d := witDetail(p.a)
	if d["stays_secondary"] != true {
		t.Errorf("details.witness %v, want stays_secondary", d)
	}
	var w pageWitness // as the page and `redund schedsync status` read it
	raw, _ := json.Marshal(d)
	if err := json.Unmarshal(raw, &w); err != nil || !strings.Contains(w.String(), "demoted by the operator") {
		t.Errorf("the status line does not say it: %q (%v)", w.String(), err)
	}
	p.a.noteServed() // a primary serves it: the usual rules again
	if f := p.a.witnessFacts(false); !f.Eligible {
		t.Fatalf("served by a primary and still held down: %+v", f)
	}
}
