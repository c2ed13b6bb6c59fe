package gateway

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// TestHookTimeoutKillsItsTree: a role hook killed at its time limit leaves
// nothing running, not even a child that left its session (setsid).
// Only the hook's own process was killed; its children, in its process
// group or out of it, ran on (a piece of a service an on_standby was
// stopping, serving on a standby).
func TestHookTimeoutKillsItsTree(t *testing.T) {
	setsid, err := exec.LookPath("setsid")
	if err != nil {
		t.Skipf("setsid not installed: %v", err)
	}
	old := hookTimeout
	hookTimeout = 2 * time.Second
	t.Cleanup(func() { hookTimeout = old }) // after the gateway's own cleanup has stopped it
	dir := t.TempDir()
	inGroup, outside := filepath.Join(dir, "in-group"), filepath.Join(dir, "setsid")
	var pids []int
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	n := startGW(t, Config{NodeID: "solo", Mode: ModeIndependent, DataDir: t.TempDir(),
		OnActive: []string{"sh", "-c", `sleep 300 & echo $! > "$0"; ` + setsid +
			` sh -c 'echo $$ > "$0"; exec sleep 300' "$1" & sleep 300`, inGroup, outside}}, nil)
	testutil.Eventually(t, 15*time.Second, "the hook's failure logged", func() bool {
		for _, e := range n.ring.Events() {
			if strings.Contains(e.Message, "role hook failed") {
				return true
			}
		}
		return false
	})
	for _, f := range []string{inGroup, outside} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("the hook did not start its children: %v", err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	for i, pid := range pids {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err == nil && !strings.Contains(string(stat), ") Z ") {
			t.Errorf("%s child %d of the hook still runs after the hook was killed at its time limit",
				[]string{"an in-group", "a setsid"}[i], pid)
		}
	}
}
