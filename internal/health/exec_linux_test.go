package health

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/redund/redund/internal/testutil"
)

// TestExecKillsLeftovers: a process the command leaves running in the
// background when it exits does not outlive the probe (one more with
// every probe otherwise).
func TestExecKillsLeftovers(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	r := check(t, Config{Kind: "exec", Command: []string{"sh", "-c",
		`sleep 30 >/dev/null 2>&1 & echo $! > "$1"; echo started`, "sh", pidFile}})
	wantResult(t, r, true, "started")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	testutil.Eventually(t, waitLimit, "the background child to be killed", func() bool {
		// gone, or a zombie waiting for init to reap it
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true
		}
		_, rest, _ := strings.Cut(string(st), ") ")
		return strings.HasPrefix(rest, "Z")
	})
}
