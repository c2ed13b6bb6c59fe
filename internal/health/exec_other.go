//go:build !unix

package health

import "os/exec"

// run runs the command; what it leaves running is not killed where
// process groups are not available.
func run(cmd *exec.Cmd) error { return asExitStatus(cmd.Run()) }
