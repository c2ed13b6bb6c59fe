package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/lifecycle"
	"github.com/redund/redund/internal/logging"
)

// daemon is what every long-running command shares: a logger with an event
// ring, an admin server for status, metrics and scheme endpoints, the
// systemd notification socket, and the SIGHUP config reload.
type daemon struct {
	Log   *slog.Logger
	Ring  *logging.Ring
	Admin *adminapi.Server

	// Tables are the key paths of the config this daemon runs on (set by
	// newDaemon from its name; voter serve --instance narrows them). A
	// reload reports changes under them and ignores the rest of the file.
	Tables []string
	// Reload applies a re-read config live (see reloadFunc). serve sets it
	// for every daemon; only tests reload without one.
	Reload reloadFunc

	name    string
	cfgPath string
	running flatConfig // the config the daemon runs on, flattened
	sum     string     // configSum of the file running was last read from
	pending []string   // keys changed in that file that need a restart
	// lastReload says what the last SIGHUP did, for the STATUS line.
	lastReload string
	bound      []slog.Attr    // sockets the command bound before run
	notify     notifier       // systemd's NOTIFY_SOCKET, when set
	hup        chan os.Signal // SIGHUP while run runs
	live       liveness       // the scheme's loops, as the watchdog sees them (serve)
}

// daemonExitHelp is the EXIT STATUS section of the long-running commands.
var daemonExitHelp = exitHelp("stopped by SIGINT/SIGTERM", "could not start (an address in use, ...) or failed") +
	"\n\nSIGHUP re-reads and checks the config file: a bad one is logged (file:line)\n" +
	"and the daemon keeps running on the old one. See docs/service.md."

// clientExitHelp is the EXIT STATUS section of the commands that ask a
// running daemon through its admin API.
var clientExitHelp = exitHelp("the daemon did it", "the daemon could not be reached or refused (the reason is printed)")

// newDaemon sets up logging from the global flags and an admin server, and
// takes the config file (g.ConfigPath, already loaded by the command) as
// the one SIGHUP compares with. name is "<scheme> <command>".
func newDaemon(g *globalOptions, name string) (*daemon, error) {
	ring := logging.NewRing(200)
	log, err := logging.New(os.Stderr, g.LogLevel, g.LogFormat, ring)
	if err != nil {
		return nil, usageErr("%v", err)
	}
	d := &daemon{Log: log, Ring: ring, Admin: adminapi.NewServer(name, version, ring, log), name: name,
		cfgPath: g.ConfigPath, Tables: schemeTables(name), notify: newNotifier(log)}
	d.Admin.AddSource(d.livenessSource())
	if d.cfgPath != "" {
		if d.running, d.sum, err = readFlatSum(d.cfgPath); err != nil {
			return nil, err
		}
		for _, w := range config.Exposed(d.cfgPath, &fileConfig{}) {
			log.Warn("config: a secret every user may read", "at", w.Error())
		}
	}
	return d, nil
}

// bind records a socket the command bound before run, for the start line.
func (d *daemon) bind(name, addr string) { d.bound = append(d.bound, slog.String(name, addr)) }

// serve drives a scheme through its lifecycle, the same way for every
// daemon: Register its status, metrics and endpoints; Listen (every
// socket bound before the admin address and READY=1); run it with the
// admin server; and on SIGHUP hand it the re-read config (pick takes the
// scheme's part of the file) to apply live. The caller maps New's error to
// exit status 2; a failure here is 1.
func serve[C any](ctx context.Context, d *daemon, s lifecycle.Daemon[C], f *fileConfig, adminAddr string,
	pick func(*fileConfig) C) error {
	if err := f.Admin.PrepareSocketDir(); err != nil {
		return usageErr("%v", err)
	}
	d.Admin.SetNeighbours(f.adminNeighbours(d.name))
	if err := s.Register(d.Admin, f.Admin.Token); err != nil {
		return failed(err)
	}
	if err := s.Listen(); err != nil {
		return failed(err)
	}
	for _, b := range s.Bound() {
		d.bind(b.Key, b.Addr)
	}
	d.Reload = func(ctx context.Context, f *fileConfig, changed []string) ([]string, error) {
		return s.Reload(ctx, pick(f), changed)
	}
	d.live.pinger, _ = any(s).(lifecycle.LoopPinger)
	d.live.starter, _ = any(s).(lifecycle.Starter)
	return d.run(ctx, f.Admin, adminAddr, s.Run)
}

// run binds the admin address (guarded by the [admin] token and
// allowed_hosts of access), then runs the admin server and fn until ctx
// ends or fn returns. Meanwhile it reloads the config on SIGHUP and keeps
// systemd informed (READY, RELOADING, STOPPING, WATCHDOG). READY=1 waits
// until the scheme says it has started (see daemon.started): when fn fails
// first, systemd sees the failure and never READY=1. It logs one line
// when it starts, with every address bound, and one when it stops.
func (d *daemon) run(ctx context.Context, access adminapi.Config, adminAddr string, fn func(context.Context) error) error {
	d.Admin.SetAccess(access)
	if adminAddr == adminapi.Off && access.SocketDir == "" {
		return usageErr("--admin off needs [admin] socket_dir: without it the daemon would have no admin API")
	}
	if err := d.Admin.Listen(adminAddr); err != nil {
		return err
	}
	if access.SocketDir != "" {
		key, _, _ := strings.Cut(d.name, " ") // "ddns run": ddns.sock
		if err := d.Admin.ListenSocket(adminapi.SocketPath(access.SocketDir, key), access.SocketGroup); err != nil {
			return err
		}
	}
	d.hup = make(chan os.Signal, 1)
	signal.Notify(d.hup, syscall.SIGHUP)
	defer signal.Stop(d.hup)
	d.logStarted()
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- d.Admin.Serve(ctx) }()
	loopDone := make(chan struct{})
	go func() { defer close(loopDone); d.loop(ctx) }()
	err := fn(ctx)
	cancel()
	<-errc
	<-loopDone
	if errors.Is(err, context.Canceled) { // fn stopped because ctx ended
		err = nil
	}
	d.logStopped(parent, err)
	return err
}

// loop is run's helper goroutine: READY=1 once the scheme has started,
// then SIGHUP reloads, the watchdog is fed at half its interval when the
// status report could be built and no loop of the scheme is stuck, and
// STOPPING=1 goes out as soon as ctx ends. At each feed the loops are
// asked and have a quarter of the watchdog interval to answer; a loop
// that misses two pings in a row is stuck (decidePet), so a stuck loop
// is restarted within about twice the interval while one busy for less
// than three quarters of it is not. Without the watchdog the loops are
// still asked, every pingEvery, for the status.
func (d *daemon) loop(ctx context.Context) {
	// READY=1 from here: the loop owns the reload state that statusLine
	// reads, and a RELOADING=1 must not come first.
	if !d.started(ctx) {
		return // fn returned before the scheme started: no READY=1
	}
	d.notify.send(notifyReady + "\nSTATUS=" + d.statusLine())
	every, feed := d.notify.watchdogEvery(), true
	if every <= 0 {
		every, feed = pingEvery, false
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			d.notify.send(notifyStopping)
			d.Log.Info(d.name + " stopping; a second SIGINT or SIGTERM ends it at once")
			return
		case <-d.hup:
			d.reload(ctx)
		case now := <-t.C:
			// Not from a ticker alone: the daemon first builds its status
			// report, so a scheme whose state cannot be read (a lock held
			// for good) gets no WATCHDOG=1, and then asks each loop of the
			// scheme, so one that is stuck (blocked on a channel, in a
			// hung side effect) gets none either: systemd restarts it.
			d.Admin.Report()
			if d.ping(ctx, now, every/2, every*3/4, true) && feed {
				d.notify.send(notifyWatchdog)
			}
		}
	}
}

func (d *daemon) logStarted() {
	args := []any{"pid", os.Getpid(), "version", version, "config", d.cfgPath, "sum", d.sum, "admin", d.Admin.Addr()}
	if p := d.Admin.SocketPath(); p != "" {
		args = append(args, "admin_socket", p)
	}
	for _, a := range d.bound {
		args = append(args, a)
	}
	d.Log.Info(d.name+" started", args...)
}

func (d *daemon) logStopped(parent context.Context, err error) {
	switch {
	case err != nil:
		d.Log.Error(d.name+" stopped", "err", err)
	case parent.Err() != nil:
		d.Log.Info(d.name+" stopped", "reason", context.Cause(parent).Error())
	default:
		d.Log.Info(d.name + " stopped")
	}
}
