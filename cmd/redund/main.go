// Command redund gives operators five redundancy schemes behind one CLI,
// one config file and one status view. This package is the CLI layer only:
// flags into option structs, one call into a library package, and the
// mapping of errors to exit codes (here and nowhere else).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/redund/redund/internal/config"
)

// Exit codes shared by every command.
const (
	exitOK     = 0
	exitFailed = 1 // a check failed or drift was found
	exitUsage  = 2 // bad usage or bad configuration
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first SIGINT or SIGTERM stops the command cleanly (a daemon runs
	// its stop hooks); from then on the signals have their default action
	// again, so that a second one ends a stop that hangs.
	go func() { <-ctx.Done(); stop() }()
	err := run(ctx, newApp(), os.Args)
	stop()
	os.Exit(report(err))
}

// run runs app on args, flags after a command's arguments included.
func run(ctx context.Context, app *cli.App, args []string) error {
	return app.RunContext(ctx, flagsFirst(app, args))
}

// report prints err (if any) and returns the exit code it stands for.
func report(err error) int {
	if err == nil {
		return exitOK
	}
	code := exitCode(err)
	var silent *exitError
	if !(errors.As(err, &silent) && silent.err == nil) {
		fmt.Fprintln(os.Stderr, "redund:", err)
	}
	return code
}

// exitCode is the exit status err stands for (0 for nil).
func exitCode(err error) int {
	var ee *exitError
	var ce config.Errors
	var fe *config.FieldError
	var he cli.ExitCoder // urfave/cli's own: "No help topic for 'x'"
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ce), errors.As(err, &fe), errors.As(err, &he):
		return exitUsage
	case errors.Is(err, context.Canceled):
		return exitOK
	}
	return exitFailed
}

// exitError carries an explicit exit code; a nil err prints nothing.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageErr marks err as bad usage (exit 2).
func usageErr(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// failed marks err as a failed check (exit 1); nil err exits 1 silently.
func failed(err error) error { return &exitError{code: exitFailed, err: err} }
