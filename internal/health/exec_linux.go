package health

import (
	"errors"
	"os/exec"
	"time"

	"github.com/redund/redund/internal/reaper"
)

// run runs the command under a reaper (internal/reaper): what it leaves
// running when it ends, or when the timeout kills it, is killed too, even
// a child that left its process group and session (setsid(2)) or
// double-forked.
func run(cmd *exec.Cmd) error {
	// at the timeout the reaper kills and reaps the command's tree before
	// it ends; os/exec kills it if it has not ended reaperWaitDelay later
	cmd.WaitDelay = reaperWaitDelay
	err := reaper.Run(cmd)
	var es reaper.ExitStatus
	if errors.As(err, &es) {
		return exitStatus(es)
	}
	return err
}

// reaperWaitDelay is how long the reaper has, after the timeout, to kill and
// reap what the command left: a tree of thousands takes a few hundred
// milliseconds on a loaded host, and a reaper killed first leaves what it
// has not killed to init. A command that keeps its output open is killed
// by the reaper, so this is not a wait for the output; the probe's result
// is the timeout either way.
const reaperWaitDelay = 5 * time.Second
