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
	ctx, stop := stopContext()
	err := run(ctx, newApp(), os.Args)
	stop()
	os.Exit(report(err))
}

// stopContext is a context that the first SIGINT or SIGTERM ends, so the
// command stops cleanly (a daemon runs its stop hooks). The signals get
// their default action back before the context ends, not after: whoever
// sees it end may say that a second signal ends the process at once,
// and a second signal sent on that word must not be swallowed.
// (signal.NotifyContext plus a goroutine that stops it left that window.)
func stopContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case s := <-sigs:
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			cancel(signalError(s.String() + " signal received"))
		case <-quit:
		}
	}()
	return ctx, func() {
		close(quit)
		<-done
		signal.Stop(sigs)
		cancel(context.Canceled)
	}
}

// signalError is the cause of a stopContext ended by a signal; it reads
// as signal.NotifyContext's does ("terminated signal received").
type signalError string

func (e signalError) Error() string { return string(e) }

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
