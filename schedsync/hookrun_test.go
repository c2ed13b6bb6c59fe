package schedsync

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// hookNode is a node that runs no role loop: the tests call runHook.
func hookNode(t *testing.T) *testNode {
	t.Helper()
	return startNode(t, &Config{Mode: ModePrimary, Dir: t.TempDir(), Secret: config.Secret(testSecret), NodeID: "a"}, nil)
}

// TestHooksRunInOrder: on_demote ("stop the application") and on_promote
// ("start it") run one after the other in the order of the role changes.
// They ran concurrently: a slow on_demote started before a quick
// on_promote finished after it, leaving the application stopped on a
// node that is primary.
func TestHooksRunInOrder(t *testing.T) {
	n := hookNode(t)
	out := filepath.Join(t.TempDir(), "hooks")
	n.runHook([]string{"/bin/sh", "-c", `sleep 0.5; echo "$REDUND_SCHEDSYNC_EVENT" >> "$0"`, out}, "demote", RoleSecondary, 1, "test")
	n.runHook([]string{"/bin/sh", "-c", `echo "$REDUND_SCHEDSYNC_EVENT" >> "$0"`, out}, "promote", RolePrimary, 2, "test")
	n.hooks.Wait()
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "demote promote" {
		t.Fatalf("hooks ran as %v, want [demote promote]", got)
	}
}

// TestHookLeavingAChildFinishes: a hook that exits but leaves a child
// holding its output open (an application started in the background
// without redirecting it) counts as finished when it exits. The hook
// runner waited for the child's end: the hook never finished, the
// hooks after it never ran, and the daemon could not stop.
func TestHookLeavingAChildFinishes(t *testing.T) {
	n := hookNode(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	n.runHook([]string{"/bin/sh", "-c", `sleep 60 & echo $! > "$0"; echo started`, pidFile}, "promote", RolePrimary, 2, "test")
	testutil.Eventually(t, 10*time.Second, "the hook finished", func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.hookDone == 1
	})
	if d := n.Status()[0]; len(d.Health) != 0 {
		t.Fatalf("a hook that exited 0 is shown as failed: %+v", d.Health)
	}
}

// TestHookRunningShown: while a hook runs, the status says which one, for
// how long and how many wait behind it (details.hook_running); it said
// nothing, so a primary whose on_promote had not finished starting the
// application looked done.
func TestHookRunningShown(t *testing.T) {
	n := hookNode(t)
	release := filepath.Join(t.TempDir(), "release")
	t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o644) }) // before the node stops, which waits for the hook
	n.runHook([]string{"/bin/sh", "-c", `while [ ! -e "$0" ]; do sleep 0.05; done`, release}, "promote", RolePrimary, 2, "test")
	n.runHook([]string{"/bin/true"}, "demote", RoleSecondary, 2, "test")
	testutil.Eventually(t, 10*time.Second, "the running hook in the status", func() bool {
		r, _ := n.Status()[0].Details["hook_running"].(map[string]any)
		return r["hook"] == "on_promote" && r["queued"] == 1
	})
	page := getPage(t, servePage(t, n, nil, ""), "")
	if !strings.Contains(page, `id="hook-running">on_promote running for`) || !strings.Contains(page, "1 more waiting") {
		t.Fatalf("the page does not show the running hook:\n%s", page)
	}
	must(t, os.WriteFile(release, nil, 0o644))
	n.hooks.Wait()
	if r, ok := n.Status()[0].Details["hook_running"]; ok {
		t.Fatalf("hook_running %v after the hooks ran", r)
	}
}

// TestHookChildKeepsWritingOutput: a program a hook starts in the
// background that keeps writing to the output it inherited goes on
// running after the hook has finished. The runner stopped reading that
// output a second after the hook exited, and the program's next write
// killed it (SIGPIPE): an application started by on_promote died.
func TestHookChildKeepsWritingOutput(t *testing.T) {
	n := hookNode(t)
	alive := filepath.Join(t.TempDir(), "alive")
	n.runHook([]string{"/bin/sh", "-c", `( for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo tick; sleep 0.2; done; : > "$0" ) & echo started`, alive},
		"promote", RolePrimary, 2, "test")
	testutil.Eventually(t, 10*time.Second, "the hook finished", func() bool {
		n.mu.Lock()
		defer n.mu.Unlock()
		return n.hookDone == 1
	})
	testutil.Eventually(t, 15*time.Second, "the child ran to its end", func() bool {
		_, err := os.Stat(alive)
		return err == nil
	})
	if d := n.Status()[0]; len(d.Health) != 0 {
		t.Fatalf("the hook is shown as failed: %+v", d.Health)
	}
}

// TestHookTimeoutKillsItsTree: a hook killed at its time limit leaves
// nothing running, not even a child that left its session (setsid): an
// on_demote that hung while stopping the application must not leave a
// piece of it serving. Only the hook's own process was killed; its
// children, in or out of its process group, ran on.
func TestHookTimeoutKillsItsTree(t *testing.T) {
	setsid := needSetsid(t)
	n := hookNode(t)
	n.hookLimit = 2 * time.Second
	dir := t.TempDir()
	inGroup, outside := filepath.Join(dir, "in-group"), filepath.Join(dir, "setsid")
	var pids []int
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	n.runHook([]string{"/bin/sh", "-c", `sleep 300 & echo $! > "$0"; ` + setsid + ` sh -c 'echo $$ > "$0"; exec sleep 300' "$1" & sleep 300`, inGroup, outside},
		"demote", RoleSecondary, 1, "test")
	n.hooks.Wait()
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
	if d := n.Status()[0]; len(d.Health) == 0 || !strings.Contains(d.Health[0].Reason, "timed out") {
		t.Fatalf("the hook is not shown as timed out: %+v", d.Health)
	}
	for i, pid := range pids {
		// the reaper has killed and reaped them before the hook counted as
		// finished; a zombie of another parent would still be listed
		if alive(pid) {
			t.Errorf("%s child %d of the hook still runs after the hook was killed at its timeout",
				[]string{"an in-group", "a setsid"}[i], pid)
		}
	}
}

// alive reports whether pid is a process that has not ended (a zombie
// counts as ended).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || s[i+2] != 'Z'
}

// needSetsid is the path of setsid(1) (util-linux, always on Debian).
func needSetsid(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("setsid")
	if err != nil {
		t.Skipf("setsid not installed: %v", err)
	}
	return p
}
