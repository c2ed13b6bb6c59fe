package gateway

import (
	"fmt"
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

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	_, ok := readStat(pid)
	return ok
}

func killOnCleanup(t *testing.T, pid int) {
	if pid > 1 {
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	}
}

// TestProcessKill9LeavesNoApplicationRunning: kill -9 of `redund gateway
// run` must not leave its supervised command running (it kept serving its
// port, and with cold standby a second copy started on restart). The
// command dies with redund (parent-death signal); what it started itself
// (here a background sleep, in its process group) is killed when redund
// starts again, from the group recorded in data_dir.
func TestProcessKill9LeavesNoApplicationRunning(t *testing.T) {
	bin := redundBinary(t)
	dir := t.TempDir()
	gcFile := filepath.Join(dir, "grandchild.pid")
	script := fmt.Sprintf("sleep 1000 & echo $! > %s; wait", gcFile)
	p := newProc(t, bin, dir, "solo", fmt.Sprintf("mode = \"independent\"\nrun = [\"sh\", \"-c\", %q]\n", script))
	p.start()
	var child, grandchild int
	testutil.Eventually(t, 10*time.Second, "the application and its background process run", func() bool {
		d, err := p.status()
		b, _ := os.ReadFile(gcFile)
		grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		child = d.App.PID
		return err == nil && d.App.Running && child > 0 && grandchild > 0
	})
	killOnCleanup(t, child)
	killOnCleanup(t, grandchild)
	p.kill()
	testutil.Eventually(t, 5*time.Second, fmt.Sprintf("the application (pid %d) is gone after kill -9 of redund", child), func() bool { return !alive(child) })
	if !alive(grandchild) {
		t.Fatal("the background process died with redund: the restart below would prove nothing")
	}
	p.start()
	testutil.Eventually(t, 10*time.Second, fmt.Sprintf("the leftover background process (pid %d) is killed when redund starts again", grandchild),
		func() bool { return !alive(grandchild) })
	var again int
	t.Cleanup(func() { // the new copy's group, when the test ends
		if again > 1 {
			_ = syscall.Kill(-again, syscall.SIGKILL)
		}
	})
	testutil.Eventually(t, 10*time.Second, "a new copy of the application runs, with an event about the leftover", func() bool {
		d, err := p.status()
		if err != nil || !d.App.Running || d.App.PID == child {
			return false
		}
		again = d.App.PID
		for _, e := range d.Events {
			if e.Kind == "application" && strings.Contains(e.Message, "left running by a previous run") {
				return true
			}
		}
		return false
	})
}

func TestParseProcStat(t *testing.T) {
	st, err := parseProcStat([]byte("4242 (my (odd) cmd) S 1 4240 4240 0 -1 4194560 116 0 0 0 0 0 0 0 20 0 1 0 123456 2539520 227 18446744073709551615"))
	if err != nil || st.State != 'S' || st.PGRP != 4240 || st.Start != 123456 {
		t.Fatalf("%+v %v", st, err)
	}
	for _, bad := range []string{"", "1 (x", "1 (x) S 1 2", "1 (x) S 1 z 3 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 5"} {
		t.Run(bad, func(t *testing.T) {
			if _, err := parseProcStat([]byte(bad)); err == nil {
				t.Errorf("%q accepted", bad)
			}
		})
	}
	if _, ok := readStat(os.Getpid()); !ok {
		t.Fatal("cannot read this process's stat")
	}
}

// TestKillLeftoverOnlyTheRecordedGroup: a record whose start time or boot
// id does not match (a recycled pid, a reboot) kills nothing; a matching
// one kills the whole group.
func TestKillLeftoverOnlyTheRecordedGroup(t *testing.T) {
	cmd := exec.Command("sh", "-c", "sleep 1000 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL); _ = cmd.Wait() })
	testutil.Eventually(t, 5*time.Second, "the group has two processes", func() bool { return len(groupMembers(pgid, 0)) == 2 })
	st, _ := readStat(pgid)
	path := filepath.Join(t.TempDir(), pidFileName)
	for _, r := range []groupRecord{{pgid, st.Start + 1, bootID()}, {pgid, st.Start, "another-boot"}} {
		if err := os.WriteFile(path, r.encode(), 0o600); err != nil {
			t.Fatal(err)
		}
		if n, err := killLeftover(path); n != 0 || err != nil || len(groupMembers(pgid, 0)) != 2 {
			t.Fatalf("record %+v: killed %d (%v)", r, n, err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatal("the record is kept")
		}
	}
	if err := recordGroup(path, pgid); err != nil {
		t.Fatal(err)
	}
	if n, err := killLeftover(path); n != 2 || err != nil || len(groupMembers(pgid, 0)) != 0 {
		t.Fatalf("killed %d (%v), %d left", n, err, len(groupMembers(pgid, 0)))
	}
}
