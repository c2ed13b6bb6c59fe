package gateway

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/testutil"
)

// TestMasterStaysStandbyForTheActiveBackupItRefuses: the backup is active
// (its master was down) when the master starts with a setting the pair
// cannot share (here another major version; a witness on one node only is
// the same case). The master refuses the backup's authenticated hello,
// which says the backup is active: the master stays standby while the
// backup keeps dialling, so exactly one node is active. It used to become
// active after join_wait: two active nodes. Once the backup stops, the
// master takes control after three failover_timeouts.
func TestMasterStaysStandbyForTheActiveBackupItRefuses(t *testing.T) {
	dir := t.TempDir()
	mc, bc := baseCfg(t, ModeMaster, filepath.Join(dir, "m")), baseCfg(t, ModeBackup, filepath.Join(dir, "b"))
	// the default failover_timeout (baseCfg's 500 ms is shorter than a
	// refused backup's redial on a loaded machine under -race)
	mc.FailoverTimeout = config.Duration(DefaultFailoverTimeout)
	ln := listen(t, "127.0.0.1:0")
	bc.Peer = ln.Addr().String()
	b := startGW(t, bc, nil)
	waitRole(t, b, RoleActive, 10*time.Second)

	m := startGWWith(t, mc, Options{PeerListener: ln, Version: "2.0.0"})
	testutil.Eventually(t, 15*time.Second, "the master refuses the backup's link", func() bool {
		l := m.Detail().Link
		return l != nil && l.State == peer.Refused && strings.Contains(l.Reason, "major versions differ")
	})
	waitRole(t, m, RoleStandby, 5*time.Second)
	// well past join_wait and failover_timeout while the backup keeps dialling
	window := 4 * (mc.JoinWait.D() + mc.FailoverTimeout.D())
	end := time.Now().Add(window)
	for time.Now().Before(end) {
		if m.Role() == RoleActive && b.Role() == RoleActive {
			t.Fatalf("two active nodes: the master took control while its backup was active (%s)", m.view().Reason)
		}
		if m.Role() != RoleStandby {
			t.Fatalf("master %s (%s), want standby", m.Role(), m.view().Reason)
		}
		time.Sleep(5 * time.Millisecond) // sleep: sampling interval of a window in which nothing may change
	}
	if r := m.view().Reason; !strings.Contains(r, "is active and this node refused its link") {
		t.Errorf("master's reason %q does not say why it stays standby", r)
	}

	b.cancel()
	<-b.done
	waitRole(t, m, RoleActive, 10*time.Second)
}
