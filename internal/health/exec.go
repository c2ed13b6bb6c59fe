package health

import (
	"context"
	"errors"
	"os/exec"
	"time"

	"github.com/redund/redund/internal/config"
)

// execCheck runs a program (no shell); exit status 0 is OK and the combined
// output, trimmed to 200 bytes, is the reason.
type execCheck struct {
	argv []string
}

func (e *execCheck) probe(ctx context.Context) (bool, string) {
	cmd := exec.CommandContext(ctx, e.argv[0], e.argv[1:]...)
	cmd.Env = config.ChildEnv() // without the variables that hold secrets
	killGroup(cmd)
	cmd.WaitDelay = time.Second // do not wait for children that keep the output open
	out, err := cmd.CombinedOutput()
	text := trimReason(out)
	if ctx.Err() != nil {
		return false, text
	}
	var ee *exec.ExitError
	switch {
	case err == nil && text == "":
		return true, "exit 0"
	case err == nil:
		return true, text
	case errors.As(err, &ee) && text != "":
		return false, ee.String() + ": " + text
	}
	return false, err.Error()
}
