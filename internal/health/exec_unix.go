//go:build unix && !linux

package health

import (
	"os/exec"
	"syscall"
)

// run runs the command in its own process group and kills what is left
// of the group when it ends. A child that leaves the group (setsid(2))
// escapes: only Linux has the means to follow it (exec_linux.go).
func run(cmd *exec.Cmd) error {
	killGroup(cmd)
	err := cmd.Run()
	killLeftovers(cmd)
	return asExitStatus(err)
}

// killGroup runs the command in its own process group and kills the whole
// group when the probe's context ends, so that children die with it.
func killGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// killLeftovers kills what is left of the command's process group once
// the command has ended (and been waited for). The group's ID stays in use
// while one of its processes lives, so the signal reaches only those; with
// none left the ID is free again, and only a process ID recycled within
// those microseconds (Linux hands them out in turn up to pid_max) could
// be hit, as with the kill at the timeout.
func killLeftovers(cmd *exec.Cmd) {
	if cmd.Process != nil && cmd.ProcessState != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
