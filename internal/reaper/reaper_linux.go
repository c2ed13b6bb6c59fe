//go:build linux

package reaper

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// reaperArg0 and reaperEnv together mark a run as the reaper: a
	// process started with one of them alone is not one
	reaperArg0 = "redund-reaper"
	reaperEnv  = "REDUND_REAPER"
	modeKeep   = "keep" // reaperEnv's value for Options.KeepOnExit
	reaperFD   = 3
	selfExe    = "/proc/self/exe"
)

func init() {
	if mode := os.Getenv(reaperEnv); len(os.Args) >= 3 && os.Args[0] == reaperArg0 && (mode == "1" || mode == modeKeep) {
		os.Exit(reaper(os.Args[1], os.Args[2:], mode == modeKeep))
	}
}

// Run starts cmd under a reaper and waits for it and for the reaper. It
// returns the command's error: nil for exit status 0, an ExitStatus, or
// why it could not be started. Run sets cmd's Path, Args, ExtraFiles,
// SysProcAttr and Cancel; the command runs in a process group of its own
// with the reaper. At the cancellation of cmd's context (exec.CommandContext)
// the reaper kills the command and what it left; set cmd.WaitDelay to
// bound the wait for a reaper that does not end then.
func Run(cmd *exec.Cmd) error { return RunWith(cmd, Options{}) }

// Options change what Run kills.
type Options struct {
	// KeepOnExit leaves what the command started running when the
	// command ends by itself: a hook may start a program that is meant
	// to outlive it. At the cancellation everything is killed as by Run,
	// the command's whole tree, even a child that called setsid(2) or
	// double-forked, so a hook killed at its timeout leaves nothing.
	KeepOnExit bool
}

// RunWith is Run with options.
func RunWith(cmd *exec.Cmd, o Options) error {
	if cmd.Err != nil { // not found: as os/exec words it, nothing started
		return cmd.Err
	}
	if _, err := os.Stat(selfExe); err != nil {
		return runGroup(cmd, o) // no /proc (a chroot): the process group only
	}
	r, w, err := reportChannel()
	if err != nil {
		return err
	}
	defer r.Close()
	path, args := cmd.Path, cmd.Args
	cmd.Path = selfExe // this binary, even if replaced on disk since
	cmd.Args = append([]string{reaperArg0, path}, args...)
	mode := "1"
	if o.KeepOnExit {
		mode = modeKeep
	}
	cmd.Env = append(cmd.Environ(), reaperEnv+"="+mode)
	cmd.ExtraFiles = []*os.File{w}
	// the reaper and the command in a process group of their own: the
	// last resort if the reaper does not end
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// at the timeout the reaper kills the command and all it left; if it
	// has not ended WaitDelay later, os/exec kills it
	var cancelled atomic.Bool
	if cmd.Cancel != nil { // made by exec.CommandContext
		cmd.Cancel = func() error { cancelled.Store(true); return cmd.Process.Signal(syscall.SIGTERM) }
	}
	err = cmd.Start()
	_ = w.Close()
	if err != nil {
		return err
	}
	// the last resort if the reaper was killed: the group, where all
	// that did not leave it still is. It is killed once the reaper has
	// ended but before Wait reaps it: while it is a zombie its ID, the
	// group's, cannot go to another process (killed after Wait, a group
	// that a new process made with the recycled ID could be hit).
	awaitExit(cmd.Process.Pid)
	// With KeepOnExit, what the command left in the group is meant to
	// stay unless it was cancelled. (A command that kills its reaper
	// then leaves what it started: it could as well have started it
	// without being asked.)
	if !o.KeepOnExit || cancelled.Load() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	werr := cmd.Wait()
	// the reaper has ended and its descriptor was close-on-exec for the
	// command: the report is in the socket, or there is none
	_ = r.SetReadDeadline(time.Now().Add(time.Second))
	report, _ := io.ReadAll(io.LimitReader(r, 4<<10))
	return reaperResult(report, cmd.ProcessState != nil && cmd.ProcessState.Success(), werr)
}

// awaitExit waits until the process pid has ended, leaving it to be
// reaped (waitid WNOWAIT). At the cancellation, os/exec's own goroutine
// signals it meanwhile, and kills it after WaitDelay.
func awaitExit(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, syscall.EINTR) {
			return
		}
	}
}

// reportChannel is the reaper's report channel: r for Run (non-blocking,
// with deadlines), w for the reaper (its descriptor 3). A Unix socket pair,
// not a pipe: a pipe is opened anew through /proc/<pid>/fd/<n> by any
// process of the same user, so the command, or a process it left outside
// the tree, could write into it, or read the reaper's report first and
// write a success in its place; a socket cannot be opened that way.
func reportChannel() (r, w *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("reaper: %w", err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		_ = syscall.Close(fds[0])
		_ = syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("reaper: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "reaper report"), os.NewFile(uintptr(fds[1]), "reaper report"), nil
}

// runGroup runs cmd in a process group of its own, killed at the
// cancellation and when cmd ends: what left the group escapes.
func runGroup(cmd *exec.Cmd, o Options) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cmd.Cancel != nil {
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	}
	err := cmd.Run()
	if cmd.Process != nil && !o.KeepOnExit {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ExitStatus(ee.String())
	}
	return err
}

// reaperResult is the command's error from the reaper's report, or, with
// no report (the reaper was killed), the reaper's own (werr, from Wait).
//
// The report is believed only when the reaper ended with exit status 0
// (reaperOK: it does once it has written it; Wait may still return the
// context's error then) and it is exactly one record, "exit
// <wait status>\n" or "error <why>\n": a command that kills its reaper
// leaves no report, and anything else in the channel (it is a socket
// that only Run and the reaper hold: see reportChannel) is refused.
func reaperResult(report []byte, reaperOK bool, werr error) error {
	var ee *exec.ExitError
	switch {
	case errors.As(werr, &ee):
		return ExitStatus(ee.String())
	case !reaperOK && werr != nil:
		return werr
	case !reaperOK:
		return errors.New("reaper: did not end with exit status 0")
	}
	line, ok := bytes.CutSuffix(report, []byte("\n"))
	if !ok || bytes.IndexByte(line, '\n') >= 0 {
		return errors.New("reaper: no exit status, or a report it did not write")
	}
	kind, rest, _ := bytes.Cut(line, []byte(" "))
	switch string(kind) {
	case "exit":
		n, err := strconv.ParseUint(string(rest), 10, 32)
		if err != nil {
			break
		}
		if ws := syscall.WaitStatus(n); !ws.Exited() || ws.ExitStatus() != 0 {
			return ExitStatus(describeWait(ws))
		}
		return nil
	case "error":
		return errors.New(string(rest))
	}
	return errors.New("reaper: no exit status, or a report it did not write")
}

// describeWait words a wait status as os.ProcessState.String does.
func describeWait(ws syscall.WaitStatus) string {
	var s string
	switch {
	case ws.Exited():
		s = "exit status " + strconv.Itoa(ws.ExitStatus())
	case ws.Signaled():
		s = "signal: " + ws.Signal().String()
	default:
		s = fmt.Sprintf("wait status %#x", uint32(ws))
	}
	if ws.CoreDump() {
		s += " (core dumped)"
	}
	return s
}

// reaper is the reaper's main: it runs the program at path with argv,
// kills and reaps whatever is left of its tree when it ends (or at
// SIGTERM, the probe's timeout), and reports on reaperFD.
func reaper(path string, argv []string, keepOnExit bool) int {
	syscall.CloseOnExec(reaperFD) // not for the command
	report := os.NewFile(reaperFD, "report")
	_ = os.Unsetenv(reaperEnv)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		// without it the command runs as it would have: its process
		// group is still killed (killLeftovers)
		fmt.Fprintf(os.Stderr, "redund: reaper: cannot follow what the command leaves: %v\n", err)
	}
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	cmd := &exec.Cmd{Path: path, Args: argv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := cmd.Start(); err != nil {
		return writeReport(report, "error "+strings.ReplaceAll(err.Error(), "\n", " "))
	}
	waited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waited) }()
	select {
	case <-waited:
		if keepOnExit { // ended by itself: what it started may stay (Options.KeepOnExit)
			return writeReport(report, fmt.Sprintf("exit %d", uint32(cmd.ProcessState.Sys().(syscall.WaitStatus))))
		}
	case <-term:
		killGroup()
		_ = cmd.Process.Kill() // if the group could not be killed
		<-waited
	}
	killDescendants()
	return writeReport(report, fmt.Sprintf("exit %d", uint32(cmd.ProcessState.Sys().(syscall.WaitStatus))))
}

// writeReport writes the reaper's one record and is the reaper's exit
// status: 0 once the record is written, which the caller requires before
// it believes the record.
func writeReport(report *os.File, record string) int {
	if _, err := report.WriteString(record + "\n"); err != nil {
		return 1
	}
	return 0
}

// killGroup kills, at the timeout, the process group Run made for the
// reaper and the command, in one call: the command and every process of
// its tree still in the group, even one forked a moment ago that is not
// yet listed as anyone's child. The reaper, the group's leader, first
// moves into its parent's group (same session) so as not to kill itself;
// the group's ID stays its own while it lives, so the signal reaches no
// other group. If it cannot move it kills nothing here, and the sweep
// (killDescendants) does it all.
func killGroup() {
	self := os.Getpid()
	if pg, err := syscall.Getpgid(self); err != nil || pg != self {
		return // not the leader of a group of its own: not started by Run
	}
	parent, err := syscall.Getpgid(os.Getppid())
	if err != nil || parent == self || syscall.Setpgid(0, parent) != nil {
		return
	}
	_ = syscall.Kill(-self, syscall.SIGKILL)
}

// killDescendants kills every child of this process, and the children of
// those that the subreaper inherits as they die, until none is left. A
// child it may not kill (one that changed its user) is left: it would
// wait for it without end, and init inherits it when the reaper ends.
//
// Each round kills every child listed and then reaps as many children as
// it killed: before, a round reaped one, and listed and signalled all the
// others again, so a tree of thousands (a fork storm at the timeout) took
// seconds, os/exec killed the reaper (WaitDelay), and what it had not
// killed went to init.
func killDescendants() {
	for unseen := 0; unseen < 1000; {
		kids := children()
		killed := 0
		for _, pid := range kids {
			// ESRCH: already reaped; it is not waited for again
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
		if killed > 0 {
			// each killed child ends, so each wait returns (with it or
			// with another child that ended meanwhile)
			for ; killed > 0; killed-- {
				if _, err := wait(0); err != nil { // ECHILD: no child left
					return
				}
			}
			continue
		}
		pid, err := wait(syscall.WNOHANG)
		switch {
		case err != nil: // ECHILD: no child left
			return
		case pid == 0 && len(kids) > 0: // only children it may not kill
			return
		case pid == 0: // a child not listed yet (on its way to us): look again, for a second at most
			unseen++
			time.Sleep(time.Millisecond)
		}
	}
}

// wait reaps one child (wait4), again when a signal interrupts it.
func wait(flags int) (int, error) {
	for {
		pid, err := syscall.Wait4(-1, nil, flags, nil)
		if !errors.Is(err, syscall.EINTR) {
			return pid, err
		}
	}
}

// children lists this process's children, from the children files of
// its threads, or (a kernel without them) from every process's parent.
func children() []int {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []int
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, field := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(field); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	if len(tasks) > 0 {
		return pids
	}
	self := os.Getpid()
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses
		i := bytes.LastIndexByte(b, ')')
		fields := strings.Fields(string(b[i+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(self) {
			if pid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(filepath.Dir(f)), "/")); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
