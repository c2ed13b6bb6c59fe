package health

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// TestExecKillsLeftovers: a process the command leaves running when it
// exits, or when the timeout kills it, does not outlive the probe (one
// more with every probe otherwise): a child in the background, one that
// left the command's process group and session with setsid(2), and one
// that did so after a double fork (its parent gone, so it is no longer
// the command's child).
func TestExecKillsLeftovers(t *testing.T) {
	// the sleeper writes its own process ID; the command waits for it
	const waitPid = `while [ ! -s "$1" ]; do :; done; echo started`
	tests := []struct {
		name, script string
		timeout      time.Duration
		ok           bool
		reason       string
	}{
		{"background", `sh -c 'echo $$ > "$1"; exec sleep 30' sh "$1" >/dev/null 2>&1 & ` + waitPid,
			0, true, "started"},
		{"setsid", `setsid sh -c 'echo $$ > "$1"; exec sleep 30' sh "$1" >/dev/null 2>&1 & ` + waitPid,
			0, true, "started"},
		{"double fork setsid", `(setsid sh -c 'echo $$ > "$1"; exec sleep 30' sh "$1" >/dev/null 2>&1 &); ` + waitPid,
			0, true, "started"},
		{"setsid at the timeout", `setsid sh -c 'echo $$ > "$1"; exec sleep 30' sh "$1" >/dev/null 2>&1 & ` + waitPid + `; sleep 30`,
			300 * time.Millisecond, false, "timeout after 300ms: started"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(t.TempDir(), "pid")
			c := Config{Kind: "exec", Command: []string{"sh", "-c", tt.script, "sh", pidFile}}
			if tt.timeout > 0 {
				c.Timeout = config.Duration(tt.timeout)
			}
			wantResult(t, check(t, c), tt.ok, tt.reason)
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
			testutil.Eventually(t, waitLimit, "the leftover to be killed", func() bool { return gone(pid) })
		})
	}
}

// gone reports whether process pid has ended: no such process, or a
// zombie waiting for its new parent to reap it.
func gone(pid int) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(st), ") ")
	return strings.HasPrefix(rest, "Z")
}
