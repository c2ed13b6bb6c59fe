package main

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/status"
)

// daemon is what every long-running command shares: a logger with an event
// ring, and an admin server for status, metrics and scheme endpoints.
type daemon struct {
	Log   *slog.Logger
	Ring  *logging.Ring
	Admin *status.Server
}

// daemonExitHelp is the EXIT STATUS section of the long-running commands.
var daemonExitHelp = exitHelp("stopped by SIGINT/SIGTERM", "could not start (an address in use, ...) or failed")

// clientExitHelp is the EXIT STATUS section of the commands that ask a
// running daemon through its admin API.
var clientExitHelp = exitHelp("the daemon did it", "the daemon could not be reached or refused (the reason is printed)")

// newDaemon sets up logging from the global flags and an admin server.
func newDaemon(g *globalOptions, name string) (*daemon, error) {
	ring := logging.NewRing(200)
	log, err := logging.New(os.Stderr, g.LogLevel, g.LogFormat, ring)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	return &daemon{Log: log, Ring: ring, Admin: status.NewServer(name, version, ring, log)}, nil
}

// run binds the admin address (guarded by the [admin] token and
// allowed_hosts of access), then runs the admin server and fn until ctx
// ends or fn returns.
func (d *daemon) run(ctx context.Context, access status.AdminConfig, adminAddr string, fn func(context.Context) error) error {
	d.Admin.SetAccess(access)
	if err := d.Admin.Listen(adminAddr); err != nil {
		return err
	}
	d.Log.Info("admin listening", "addr", d.Admin.Addr())
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- d.Admin.Serve(ctx) }()
	err := fn(ctx)
	cancel()
	<-errc
	if errors.Is(err, context.Canceled) { // fn stopped because ctx ended
		return nil
	}
	return err
}
