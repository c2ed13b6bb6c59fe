package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestWitnessHandoverLockNeverComes: a forced failover to a backup cut off
// from etcd catches up but never gets the witness lock. As docs/gateway.md
// says, the handover fails once 2 × ttl + failover_timeout have passed
// (an event says so), the backup stays standby, the rules apply again (the
// master, which stepped down for the handover, takes control back through
// the lock), and the two are never active at once.
func TestWitnessHandoverLockNeverComes(t *testing.T) {
	p := startWitnessPair(t, nil)
	watchPair(t, p.m.gw, p.b.gw)
	p.b.cutEtcd(true)
	start := time.Now()
	msg, err := p.b.Failover(context.Background())
	if err != nil {
		t.Fatalf("failover: %v", err)
	}
	t.Logf("failover: %s", msg)
	lockWait := 2*witnessTTL + p.b.cfg.FailoverTimeout.D()
	testutil.Eventually(t, lockWait+10*time.Second, "the handover-failed event", func() bool {
		for _, e := range p.b.Detail().Events {
			if e.Kind == "handover" && strings.Contains(e.Message, "the witness lock did not come within "+lockWait.String()) {
				return true
			}
		}
		return false
	})
	if took := time.Since(start); took < lockWait {
		t.Fatalf("the handover failed after %v, before the lock wait (%v)", took, lockWait)
	}
	if r := p.b.Role(); r == RoleActive {
		t.Fatalf("backup is %s without the lock", r)
	}
	waitRole(t, p.m.gw, RoleActive, 2*witnessTTL+10*time.Second)
	if r := p.b.Role(); r != RoleStandby {
		t.Fatalf("backup is %s, want standby", r)
	}
}
