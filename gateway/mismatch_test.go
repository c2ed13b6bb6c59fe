package gateway

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/peer"
	"github.com/redund/redund/internal/testutil"
)

// A backup configured with another secret than the master's: the master
// answers the handshake, so it is alive, and the backup stays standby
// (before, it went active after join_wait: two active nodes). The backup
// logs one warning, "secrets differ", however often it redials, and no
// data crosses. Once the master stops answering, the backup fails over as
// usual.
func TestWrongSecretBackupStaysStandby(t *testing.T) {
	dir := t.TempDir()
	ln := listen(t, "127.0.0.1:0")
	mc := baseCfg(t, ModeMaster, filepath.Join(dir, "m"))
	bc := baseCfg(t, ModeBackup, filepath.Join(dir, "b"))
	bc.Peer, bc.Link = ln.Addr().String(), peer.Config{Secret: "another secret entirely!"}
	m := startGW(t, mc, ln)
	waitRole(t, m, RoleActive, 5*time.Second)
	m.SetConfig("secret-doc", []byte("x"))
	b := startGW(t, bc, nil)
	waitRole(t, b, RoleStandby, 5*time.Second)
	// many redials, spanning several join_wait and failover_timeout
	testutil.Eventually(t, 10*time.Second, "the backup redials", func() bool {
		if r := b.Role(); r != RoleStandby {
			t.Fatalf("the backup became %s while the master answers; events %+v", r, b.Detail().Events)
		}
		return m.Detail().Link.Dropped >= 12
	})
	var warns []string
	for _, e := range b.ring.Events() {
		if e.Level == "WARN" && strings.Contains(e.Message, "peer link") {
			warns = append(warns, e.Message)
		}
	}
	if len(warns) != 1 || !strings.Contains(warns[0], "secrets differ") {
		t.Fatalf("backup warnings about the link after %d attempts: %q", m.Detail().Link.Dropped, warns)
	}
	if st := b.Detail().Link; st.State != peer.Mismatch || st.Reason != "secrets differ" {
		t.Fatalf("backup link %+v", st)
	}
	if docValue(t, b, ProvConfig, "secret-doc") != "<missing>" || b.Detail().PeerConnected {
		t.Fatal("data crossed a mismatched link")
	}
	m.stop()
	waitRole(t, b, RoleActive, 5*time.Second)
}
