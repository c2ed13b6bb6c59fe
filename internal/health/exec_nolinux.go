//go:build !linux

package health

import (
	"errors"
	"os/exec"
)

// asExitStatus turns an *exec.ExitError into an exitStatus.
func asExitStatus(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitStatus(ee.String())
	}
	return err
}
