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
	cmd.WaitDelay = time.Second // do not wait for children that keep the output open
	// the output goes into a bounded buffer: a command that writes without
	// end (or quotes a server that answers without end) costs its probe
	// the pipe's copying until the timeout, not memory
	out := &headBuffer{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	// run kills what the command started and left running (a child in
	// the background), which would outlive the probe, one more with every
	// probe
	err := run(cmd)
	text := trimReason(out.b)
	if ctx.Err() != nil {
		return false, text
	}
	var es exitStatus
	switch {
	case err == nil && text == "":
		return true, "exit 0"
	case err == nil:
		return true, text
	case errors.As(err, &es) && text != "":
		return false, string(es) + ": " + text
	}
	return false, err.Error()
}

// exitStatus is the error of a command that ended other than with exit
// status 0, worded as os.ProcessState words it: "exit status 2",
// "signal: killed".
type exitStatus string

func (e exitStatus) Error() string { return string(e) }

// maxOutput is how much of a command's output a probe keeps (the reason
// shows at most maxReason bytes of it, after leading space).
const maxOutput = 4 << 10

// headBuffer keeps the first max bytes written to it and discards the
// rest, without failing the write: a command whose output is long but
// that ends in time is judged by its exit status, not killed by a broken
// pipe. os/exec writes to it from one goroutine.
type headBuffer struct {
	b   []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}
