package schedsync

import (
	"os/exec"
	"testing"
	"time"
)

// TestProcessResyncOnNewerEpoch: `redund schedsync resync` on the node
// holding the newer epoch (the promoted one) demotes the old primary; it
// was refused with "peer refused: two primaries" (exit 1).
func TestProcessResyncOnNewerEpoch(t *testing.T) {
	needBinary(t)
	p, s := procPair(t, ModePrimary, ModeSecondaryFailover, "")
	writeFile(t, p.dir, "x", "1", 0o644)
	p.start()
	s.start()
	waitSameDirs(t, p.dir, s.dir, 20*time.Second, "initial copy")
	p.kill9()
	waitFor(t, 15*time.Second, "promotion", func() bool { return s.role() == RolePrimary })
	p.start()
	waitFor(t, 15*time.Second, "Incompatible on both", func() bool {
		return p.state() == StateIncompatible && s.state() == StateIncompatible
	})
	out, err := exec.Command(redundBin, "--config", s.conf, "schedsync", "resync").CombinedOutput()
	if err != nil {
		t.Fatalf("resync on the newer epoch: %v: %s", err, out)
	}
	waitFor(t, 15*time.Second, "old primary demoted, both Synced", func() bool {
		return p.role() == RoleSecondary && p.state() == StateSynced && s.role() == RolePrimary && s.state() == StateSynced
	})
}
