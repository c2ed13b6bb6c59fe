package health

import (
	"errors"
	"os/exec"

	"github.com/redund/redund/internal/reaper"
)

// run runs the command under a reaper (internal/reaper): what it leaves
// running when it ends, or when the timeout kills it, is killed too, even
// a child that left its process group and session (setsid(2)) or
// double-forked.
func run(cmd *exec.Cmd) error {
	err := reaper.Run(cmd)
	var es reaper.ExitStatus
	if errors.As(err, &es) {
		return exitStatus(es)
	}
	return err
}
