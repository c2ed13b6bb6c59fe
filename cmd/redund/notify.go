package main

import (
	"log/slog"
	"strconv"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// The sd_notify states a daemon sends (systemd's Type=notify).
const (
	notifyReady    = sd.SdNotifyReady
	notifyStopping = sd.SdNotifyStopping
	notifyWatchdog = sd.SdNotifyWatchdog
)

// notifier tells systemd about the daemon's state through the datagram
// socket named by NOTIFY_SOCKET (go-systemd's daemon package); without
// that variable every send is a no-op.
type notifier struct{ log *slog.Logger }

func newNotifier(log *slog.Logger) notifier { return notifier{log: log} }

// send sends one notification; a failure is logged, never fatal.
func (n notifier) send(state string) {
	if _, err := sd.SdNotify(false, state); err != nil {
		n.log.Warn("sd_notify failed", "state", state, "err", err)
	}
}

// reloading is RELOADING=1 with the CLOCK_MONOTONIC time systemd asks for
// (it tells one reload from the next under Type=notify-reload).
func reloading() string {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	usec := ts.Nano() / int64(time.Microsecond)
	return sd.SdNotifyReloading + "\nMONOTONIC_USEC=" + strconv.FormatInt(usec, 10)
}

// watchdogEvery is how often to send WATCHDOG=1: half of WATCHDOG_USEC
// (WatchdogSec= in the unit) when it is set for this process, else 0.
func (n notifier) watchdogEvery() time.Duration {
	d, err := sd.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("systemd watchdog: bad WATCHDOG_USEC/WATCHDOG_PID, not fed", "err", err)
		return 0
	}
	return d / 2
}
