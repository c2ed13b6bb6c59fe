package schedsync

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
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
	testutil.Eventually(t, 15*time.Second, "promotion", func() bool { return s.role() == RolePrimary })
	p.start()
	testutil.Eventually(t, 15*time.Second, "Incompatible on both", func() bool {
		return p.state() == StateIncompatible && s.state() == StateIncompatible
	})
	out, err := exec.Command(redundBin, "--config", s.conf, "schedsync", "resync").CombinedOutput()
	if err != nil {
		t.Fatalf("resync on the newer epoch: %v: %s", err, out)
	}
	testutil.Eventually(t, 15*time.Second, "old primary demoted, both Synced", func() bool {
		return p.role() == RoleSecondary && p.state() == StateSynced && s.role() == RolePrimary && s.state() == StateSynced
	})
}

// TestProcessModeAndSavedRole: the configured mode against the role saved
// in .redund/state.json. A mode changed since the role was saved wins (it
// used to be ignored: configured secondary-copy, came up primary); an
// unchanged mode keeps the saved role (a promotion survives a restart),
// and the node says so at start and in its status.
func TestProcessModeAndSavedRole(t *testing.T) {
	needBinary(t)
	t.Run("mode changed since", func(t *testing.T) {
		p, s := procPair(t, ModePrimary, ModeSecondaryCopy, "")
		writeFile(t, p.dir, "x", "from the primary", 0o644)
		writeState(t, s.dir, `{"role": "primary", "epoch": 0, "mode": "primary"}`)
		writeFile(t, s.dir, "x", "written while this node was primary", 0o644)
		p.start()
		s.start()
		testutil.Eventually(t, 15*time.Second, "the reconfigured node follows, Synced", func() bool {
			d, err := s.status()
			return err == nil && Role(d.Role) == RoleSecondary && State(d.State) == StateSynced
		})
		if !strings.Contains(s.logs.String(), "mode changed in the config since the role was saved") {
			t.Fatalf("nothing logged about the mode change:\n%s", s.logs.String())
		}
		if d, _ := s.status(); d.Details["role_note"] != nil {
			t.Fatalf("role and mode agree now, yet role_note = %v", d.Details["role_note"])
		}
		waitSameDirs(t, p.dir, s.dir, 15*time.Second, "after the switch")
		if n := countConflicts(t, s.dir, "x", "written while this node was primary"); n != 1 {
			t.Fatalf("what the node wrote as primary was not kept in .redund/conflicts (%d copies)", n)
		}
	})
	t.Run("mode unchanged", func(t *testing.T) {
		s := newProcNode(t, ModeSecondaryCopy, "b", "")
		s.writeConfig(ModeSecondaryCopy, "b", testutil.ClosedTCPAddr(t), "")
		writeState(t, s.dir, `{"role": "primary", "epoch": 1, "mode": "secondary-copy"}`)
		s.start()
		d, err := s.status()
		must(t, err)
		note, _ := d.Details["role_note"].(string)
		if Role(d.Role) != RolePrimary || !strings.Contains(note, "configured secondary-copy, but primary since it was promoted") {
			t.Fatalf("role %s, role_note %q", d.Role, note)
		}
		if !strings.Contains(s.logs.String(), "the role differs from the configured mode") {
			t.Fatalf("nothing logged at start:\n%s", s.logs.String())
		}
		out, _ := exec.Command(redundBin, "--config", s.conf, "schedsync", "status").Output()
		if !strings.Contains(string(out), "configured secondary-copy, but primary") {
			t.Fatalf("schedsync status does not say so: %s", out)
		}
	})
}

// countConflicts counts the copies of rel with content in .redund/conflicts.
func countConflicts(t *testing.T, dir, rel, content string) int {
	t.Helper()
	n := 0
	_ = filepath.WalkDir(filepath.Join(dir, conflictDir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(filepath.ToSlash(p), "/"+rel) {
			if b, err := os.ReadFile(p); err == nil && string(b) == content {
				n++
			}
		}
		return nil
	})
	return n
}

// TestProcessWriteErrorShown: a secondary that cannot write a file (here
// a file size limit: EFBIG, as a full disk gives ENOSPC) says Not synced
// naming the file (it stayed Synced, the batch retried silently), logs it
// once, keeps syncing the rest, and is Synced again once the cause is gone.
func TestProcessWriteErrorShown(t *testing.T) {
	needBinary(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash for ulimit")
	}
	p, s := procPair(t, ModePrimary, ModeSecondaryCopy, "")
	s.wrap = []string{"bash", "-c", `ulimit -f 512 && exec "$@"`, "bash"} // 512 KiB
	writeFile(t, p.dir, "small.txt", "small", 0o644)
	p.start()
	s.start()
	testutil.Eventually(t, 15*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	must(t, os.WriteFile(filepath.Join(p.dir, "big.bin"), bigData(2<<20, 9), 0o644))
	testutil.Eventually(t, 15*time.Second, "Not synced naming big.bin", func() bool {
		d, err := s.status()
		return err == nil && State(d.State) == StateNotSynced && strings.Contains(d.Reason, "big.bin") &&
			strings.Contains(d.Reason, "file too large")
	})
	// the primary learns it from the secondary's next hello (every peer_timeout/3)
	testutil.Eventually(t, 5*time.Second, "the primary shows Not synced naming big.bin", func() bool {
		d, err := p.status()
		return err == nil && State(d.State) == StateNotSynced && strings.Contains(d.Reason, "big.bin")
	})
	writeFile(t, p.dir, "later.txt", "written after the failure", 0o644)
	testutil.Eventually(t, 15*time.Second, "later.txt synced meanwhile", func() bool {
		_, err := os.Stat(filepath.Join(s.dir, "later.txt"))
		return err == nil
	})
	time.Sleep(3 * time.Second) // sleep: retries meanwhile (1 s, 2 s): each must not log again
	if n := strings.Count(s.logs.String(), "could not sync a file"); n != 1 {
		t.Fatalf("the failure was logged %d times, want once:\n%s", n, s.logs.String())
	}
	must(t, os.Remove(filepath.Join(p.dir, "big.bin")))
	testutil.Eventually(t, 15*time.Second, "Synced once big.bin is gone", func() bool {
		return s.state() == StateSynced && p.state() == StateSynced
	})
	waitSameDirs(t, p.dir, s.dir, 10*time.Second, "after the cause is gone")
}

// TestProcessManyWriteErrorsOneLine: when one cause fails many files of a
// batch (a full disk during an initial copy failed all 10,000 files), the
// log gets one line with the count and the first paths, not a line per
// file; the status still names a file.
func TestProcessManyWriteErrorsOneLine(t *testing.T) {
	needBinary(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash for ulimit")
	}
	const n = 6
	p, s := procPair(t, ModePrimary, ModeSecondaryCopy, "")
	s.wrap = []string{"bash", "-c", `ulimit -f 512 && exec "$@"`, "bash"} // 512 KiB
	for i := range n {
		must(t, os.WriteFile(filepath.Join(p.dir, fmt.Sprintf("big%d.bin", i)), bigData(1<<20, byte(i)), 0o644))
	}
	p.start()
	s.start()
	testutil.Eventually(t, 15*time.Second, "Not synced naming a big file, and the failure logged", func() bool {
		d, err := s.status()
		return err == nil && State(d.State) == StateNotSynced && strings.Contains(d.Reason, "big") &&
			strings.Contains(s.logs.String(), "could not sync")
	})
	logs := s.logs.String()
	if c := strings.Count(logs, "could not sync"); c != 1 || !strings.Contains(logs, fmt.Sprintf("files=%d", n)) {
		t.Fatalf("%d lines about %d failed files, want one that counts them:\n%s", c, n, logs)
	}
}
