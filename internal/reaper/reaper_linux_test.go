package reaper

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// every Run starts this test binary again: built with -race it would
	// wait a second at exit (the race detector's atexit_sleep_ms)
	if _, ok := os.LookupEnv("GORACE"); !ok {
		_ = os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
	os.Exit(m.Run())
}

// TestRunResult: Run gives the error os/exec would have given.
func TestRunResult(t *testing.T) {
	badFormat := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(badFormat, []byte{0, 1, 2, 3}, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		argv []string
		want string // "" for nil
	}{
		{"exit 0", []string{"true"}, ""},
		{"exit status", []string{"sh", "-c", "exit 3"}, "exit status 3"},
		{"signal", []string{"sh", "-c", "kill -KILL $$"}, "signal: killed"},
		{"not found", []string{"/nonexistent/redund-reaper-test"}, "no such file or directory"},
		{"not executable", []string{"/dev/null"}, "permission denied"},
		// found, but the reaper cannot start it: it says why
		{"exec format", []string{badFormat}, "fork/exec " + badFormat + ": exec format error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Run(exec.Command(tt.argv[0], tt.argv[1:]...))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Run = %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Run = %v, want %q", err, tt.want)
			}
			if strings.HasPrefix(tt.want, "exit") || strings.HasPrefix(tt.want, "signal") {
				var es ExitStatus
				if !errors.As(err, &es) || string(es) != tt.want {
					t.Errorf("Run = %#v, want ExitStatus(%q)", err, tt.want)
				}
			}
		})
	}
}

// TestRunArgsAndEnv: the command sees its own argument 0 and arguments,
// the environment given, without the reaper's mark, and not the reaper's
// report pipe (descriptor 3).
func TestRunArgsAndEnv(t *testing.T) {
	var out strings.Builder
	cmd := exec.Command("sh", "-c", `echo "$0 $1 ${REDUND_REAPER:-unset} $REAPER_TEST"; [ -e /proc/$$/fd/3 ] || echo "no fd 3"`, "zero", "one")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "GORACE=" + os.Getenv("GORACE"), "REAPER_TEST=seen"}
	cmd.Stdout = &out
	if err := Run(cmd); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "zero one unset seen\nno fd 3\n"; got != want {
		t.Errorf("the command printed %q, want %q", got, want)
	}
}

// TestRunCancel: at the cancellation the reaper kills the command and
// ends; Run returns the reaper's report.
func TestRunCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", "echo started; exec sleep 30")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = 5 * time.Second
	done := make(chan error, 1)
	go func() { done <- Run(cmd) }()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "started\n" {
		t.Fatalf("read %q, %v; want the readiness line", line, err)
	}
	cancel()
	if err := <-done; err == nil || err.Error() != "signal: killed" {
		t.Errorf("Run = %v, want signal: killed", err)
	}
}

// TestRunForgedReport: a command that writes a report of its own into the
// reaper's pipe (through /proc/<pid>/fd, which opens the pipe anew for a
// process of the same user) and then fails, or kills the reaper so that
// its report is the only one, is not taken as having exited 0.
func TestRunForgedReport(t *testing.T) {
	// the caller's read end: the same pipe as the reaper's descriptor 3
	const intoCaller = `gp=$(cut -d' ' -f4 /proc/$PPID/stat); p=$(readlink /proc/$PPID/fd/3); ` +
		`for f in /proc/$gp/fd/*; do [ "$(readlink $f)" = "$p" ] && printf 'exit 0\n' > $f; done; `
	tests := []struct {
		name, script string
	}{
		{"forged then failed", `printf 'exit 0\n' > /proc/$PPID/fd/3; exit 1`},
		{"forged then the reaper killed", `printf 'exit 0\n' > /proc/$PPID/fd/3; kill -KILL $PPID; exit 1`},
		{"forged without newline then the reaper killed", `printf 'exit 0' > /proc/$PPID/fd/3; kill -KILL $PPID; exit 1`},
		{"forged into the caller's end then failed", intoCaller + `exit 1`},
		{"forged into the caller's end then the reaper killed", intoCaller + `kill -KILL $PPID; exit 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Run(exec.Command("sh", "-c", tt.script)); err == nil {
				t.Fatal("Run = nil: the command forged its own success")
			}
		})
	}
}

// deletedEnv marks the run of TestHelperDeletedSelf.
const deletedEnv = "REAPER_TEST_DELETED_SELF"

// TestHelperDeletedSelf is the process of TestRunFromDeletedBinary: it
// removes its own binary, as a package upgrade replaces redund's, then
// runs commands under the reaper and prints their errors.
func TestHelperDeletedSelf(t *testing.T) {
	if os.Getenv(deletedEnv) != "1" {
		t.Skip("a helper process of TestRunFromDeletedBinary")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(exe); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("exit 3: %v\n", Run(exec.Command("sh", "-c", "exit 3")))
	fmt.Printf("true: %v\n", Run(exec.Command("true")))
}

// TestRunFromDeletedBinary: once the binary is removed or replaced on
// disk (a package upgrade while the daemon runs), the reaper still
// starts: /proc/self/exe is the running binary itself, the same version,
// not whatever now has its name.
func TestRunFromDeletedBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "redund")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestHelperDeletedSelf$")
	cmd.Env = append(os.Environ(), deletedEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the helper: %v\n%s", err, out)
	}
	for _, want := range []string{"exit 3: exit status 3\n", "true: <nil>\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the helper printed %q, want %q in it", out, want)
		}
	}
	if _, err := os.Stat(bin); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the helper did not remove its binary: %v", err)
	}
}

// TestRunReportNotTakenByOthers: a process of the same user outside the
// command's tree (one the command left with at(1) or systemd-run, say;
// here this test) cannot take the reaper's report and put its own in its
// place: the report travels on a socket, which /proc/<pid>/fd/3 does not
// open, not on a pipe, which it does.
func TestRunReportNotTakenByOthers(t *testing.T) {
	mark := fmt.Sprintf("reaper-outsider-%d-%d", os.Getpid(), time.Now().UnixNano())
	cmd := exec.Command("sh", "-c", `echo ready; read line; exit 1`, mark)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Run(cmd) }()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("read %q, %v; want the readiness line", line, err)
	}
	reaper := 0
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range cmdlines {
		b, err := os.ReadFile(f)
		if err == nil && strings.HasPrefix(string(b), reaperArg0+"\x00") && strings.Contains(string(b), "\x00"+mark+"\x00") {
			reaper, _ = strconv.Atoi(filepath.Base(filepath.Dir(f)))
		}
	}
	if reaper == 0 {
		t.Fatal("the reaper is not running")
	}
	stolen := make(chan string, 1)
	if f, err := os.OpenFile(fmt.Sprintf("/proc/%d/fd/3", reaper), os.O_RDWR, 0); err == nil {
		defer f.Close()
		go func() { // take the reaper's record and put a success in its place
			b := make([]byte, 64)
			n, _ := f.Read(b)
			_, _ = f.WriteString("exit 0\n")
			stolen <- string(b[:n])
		}()
	} else {
		t.Logf("opening the reaper's report: %v", err)
		close(stolen)
	}
	_ = stdin.Close() // the command reads EOF and exits 1
	if err := <-done; err == nil || err.Error() != "exit status 1" {
		t.Errorf("Run = %v, want exit status 1 (the report taken: %q)", err, <-stolen)
	}
}

// TestReaperResult: the report is believed only when it is one record and
// the reaper ended with exit status 0.
func TestReaperResult(t *testing.T) {
	killed := exec.Command("sh", "-c", "kill -KILL $$").Run()
	tests := []struct {
		name     string
		report   string
		reaperOK bool
		werr     error
		want     string // "" for nil
	}{
		{"exit 0", "exit 0\n", true, nil, ""},
		{"exit 0, the context's error", "exit 0\n", true, context.DeadlineExceeded, ""},
		{"exit status 1", "exit 256\n", true, nil, "exit status 1"},
		{"killed", "exit 9\n", true, nil, "signal: killed"},
		{"not started", "error fork/exec /x: no such file\n", true, nil, "fork/exec /x: no such file"},
		{"no newline", "exit 0", true, nil, "reaper: no exit status, or a report it did not write"},
		{"two records", "exit 0\nexit 256\n", true, nil, "reaper: no exit status, or a report it did not write"},
		{"two records, success last", "exit 256\nexit 0\n", true, nil, "reaper: no exit status, or a report it did not write"},
		{"not a number", "exit 0x\n", true, nil, "reaper: no exit status, or a report it did not write"},
		{"empty", "", true, nil, "reaper: no exit status, or a report it did not write"},
		{"the reaper killed after a success", "exit 0\n", false, killed, "signal: killed"},
		{"the reaper failed", "exit 0\n", false, nil, "reaper: did not end with exit status 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := reaperResult([]byte(tt.report), tt.reaperOK, tt.werr)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("reaperResult = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("reaperResult = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestRunLastResortKillsTheGroup: a command that kills its reaper leaves
// its tree to init, but what stayed in the process group Run made is
// killed when Run returns.
func TestRunLastResortKillsTheGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	err := Run(exec.Command("sh", "-c", `sleep 1000 & echo $! > "$1"; kill -KILL $PPID; wait`, "sh", pidFile))
	if err == nil || err.Error() != "signal: killed" {
		t.Errorf("Run = %v, want the reaper's signal: killed", err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || bytes.Contains(stat, []byte(") Z ")) {
			return // gone, or dead and not yet reaped by init
		}
		if i == 500 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("the command's child %d outlived Run", pid)
		}
		time.Sleep(10 * time.Millisecond) // sleep: SIGKILL was sent; its delivery has no signal to wait on
	}
}

// TestRunCancelForkStorm: at the cancellation of a command that started
// thousands of processes, each in a session of its own (setsid), the
// reaper kills and reaps them all and ends with its report within the
// WaitDelay a health check gives it (one second before), and none of them
// is left. Before, a round of its sweep reaped one child and signalled
// all the others again: at 1,000 it was still reaping when os/exec killed
// it, and its report was lost.
func TestRunCancelForkStorm(t *testing.T) {
	const storm = 1000
	mark := fmt.Sprintf("REDUND_STORM_MARK=%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		for _, pid := range marked(mark) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", fmt.Sprintf(
		`export %s; i=0; while [ $i -lt %d ]; do setsid sleep 1000 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; echo started; exec sleep 1000`,
		mark, storm))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.WaitDelay = time.Second
	done := make(chan error, 1)
	go func() { done <- Run(cmd) }()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "started\n" {
		t.Fatalf("read %q, %v; want the readiness line", line, err)
	}
	cancel()
	if err := <-done; err == nil || err.Error() != "signal: killed" {
		t.Errorf("Run = %v, want signal: killed", err)
	}
	if !cmd.ProcessState.Success() {
		t.Errorf("the reaper ended with %v, want exit status 0 (its sweep done and reported)", cmd.ProcessState)
	}
	if left := marked(mark); len(left) > 0 {
		t.Errorf("%d processes of the storm outlived Run", len(left))
	}
}

// marked lists the processes alive (not zombies) with mark in their
// environment.
func marked(mark string) []int {
	var pids []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		env, err := os.ReadFile(d + "/environ")
		if err != nil || !bytes.Contains(env, []byte(mark)) {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil || bytes.Contains(stat, []byte(") Z ")) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(d)); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// readPids reads the process IDs written one per file.
func readPids(t *testing.T, files ...string) []int {
	t.Helper()
	var pids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	return pids
}

// running reports whether pid has not ended (a zombie has).
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !bytes.Contains(stat, []byte(") Z "))
}

// TestKeepOnExit: with KeepOnExit what the command started stays when the
// command exits by itself (a hook that starts an application), in its
// process group or out of its session; at the cancellation all of it is
// killed, as by Run.
func TestKeepOnExit(t *testing.T) {
	const script = `sleep 300 & echo $! > "$1"; setsid sh -c 'echo $$ > "$0"; exec sleep 300' "$2" & ` +
		`while [ ! -s "$2" ]; do sleep 0.01; done; `
	t.Run("exit", func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		if err := RunWith(exec.Command("sh", "-c", script+"exit 0", "sh", a, b), Options{KeepOnExit: true}); err != nil {
			t.Fatal(err)
		}
		for _, pid := range readPids(t, a, b) {
			if !running(pid) {
				t.Errorf("child %d was killed when the command exited by itself", pid)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		cmd := exec.CommandContext(ctx, "sh", "-c", script+"echo ready; exec sleep 300", "sh", a, b)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.WaitDelay = 5 * time.Second
		done := make(chan error, 1)
		go func() { done <- RunWith(cmd, Options{KeepOnExit: true}) }()
		if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
			t.Fatalf("read %q, %v; want the readiness line", line, err)
		}
		pids := readPids(t, a, b)
		cancel()
		if err := <-done; err == nil || err.Error() != "signal: killed" {
			t.Errorf("RunWith = %v, want signal: killed", err)
		}
		for _, pid := range pids {
			if running(pid) { // the reaper killed and reaped its tree before it reported
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("child %d outlived the cancellation", pid)
			}
		}
	})
}
