// Package reaper runs a command so that nothing it starts outlives it
// (Linux only: Run is defined there).
//
// A process group is not enough for that: a child that calls setsid(2),
// or double-forks into a new session, leaves the group, and after a
// double fork it is no longer the command's child but init's. Run starts
// the command under a reaper: this binary run again (/proc/self/exe) as a
// child subreaper (prctl PR_SET_CHILD_SUBREAPER), which starts the
// command and, once it has ended (or at the cancellation), kills and
// reaps every process left of its tree. Under a subreaper every orphan of
// the tree becomes the reaper's child instead of init's, so none can get
// away. The calling process is never made a subreaper itself: the orphans
// of other commands it runs stay init's, and no reaping of its own can
// take their exit status from os/exec.
//
// The reaper reports the command's wait status (or why it could not be
// started) on a Unix socket, its file descriptor 3, so that the caller
// sees the error os/exec would have given ("exit status 2", "signal:
// killed"). A socket, not a pipe: /proc/<reaper>/fd/3 would open a pipe
// anew for any process of the same user (the command, or one it left
// outside the tree), which could then write a report of its own or take
// the reaper's. The report is believed only when it is one record and
// the reaper ended with exit status 0 after writing it: a command that
// kills its reaper leaves no report, and cannot report its own failure
// as a success.
//
// A binary that imports this package runs as the reaper, from the
// package's init, when it is started with argument 0 "redund-reaper"
// and REDUND_REAPER=1 in its environment (the reaper removes the
// variable before it starts the command); other packages' inits may have
// run by then, so they must not have side effects beyond the process.
//
// Without /proc (a chroot) Run falls back to the process group alone,
// and a child that leaves it escapes.
//
// The cost is one more process start per command: the Go runtime and the
// package inits of this binary, 9-11 ms of CPU on a 2-core VM (about as
// much as `redund version`), against about 1 ms to run a program that does
// nothing without the reaper.
package reaper

// ExitStatus is the error of a command that ended other than with exit
// status 0, worded as os.ProcessState words it: "exit status 2",
// "signal: killed".
type ExitStatus string

func (e ExitStatus) Error() string { return string(e) }
