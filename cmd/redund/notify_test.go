package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/status"
)

// notifySocket is a datagram socket standing in for systemd: NOTIFY_SOCKET
// names it for this test.
func notifySocket(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

// nextNotify reads the next datagram, skipping WATCHDOG=1 unless want is it.
func nextNotify(t *testing.T, c *net.UnixConn, want string) string {
	t.Helper()
	buf := make([]byte, 4096)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := c.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %q: %v", want, err)
		}
		msg := string(buf[:n])
		if msg == notifyWatchdog && want != notifyWatchdog {
			continue
		}
		if !strings.HasPrefix(msg, want) {
			t.Fatalf("notification %q, want %q first", msg, want)
		}
		return msg
	}
}

// The daemon speaks sd_notify on a real datagram socket: READY=1 once the
// admin listener is bound, RELOADING=1 with MONOTONIC_USEC and READY=1
// around a SIGHUP reload, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1.
func TestSdNotify(t *testing.T) {
	sock := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "200000") // 200 ms: fed every 100 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	path := writeFile(t, "redund.toml", reloadBase)
	d, logs := configDaemon(t, path, "voter serve")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- d.run(ctx, adminapi.Config{}, "127.0.0.1:0", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	}()
	ready := nextNotify(t, sock, "READY=1")
	if !strings.Contains(ready, "\nSTATUS=running, admin on 127.0.0.1:") {
		t.Errorf("READY without the admin address in STATUS: %q", ready)
	}
	resp, err := http.Get("http://" + d.Admin.Addr() + "/healthz")
	if err != nil {
		t.Fatalf("READY=1 sent but the admin listener does not answer: %v", err)
	}
	resp.Body.Close()
	nextNotify(t, sock, notifyWatchdog)
	nextNotify(t, sock, notifyWatchdog)
	before := monotonicNow(t)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	rel := nextNotify(t, sock, "RELOADING=1\nMONOTONIC_USEC=")
	if usec, err := strconv.ParseInt(strings.TrimPrefix(rel, "RELOADING=1\nMONOTONIC_USEC="), 10, 64); err != nil ||
		usec < before || usec > before+int64(5*time.Second/time.Microsecond) {
		t.Errorf("RELOADING %q: MONOTONIC_USEC not CLOCK_MONOTONIC now (%d): %v", rel, before, err)
	}
	nextNotify(t, sock, "READY=1")
	if !strings.Contains(logs.String(), "nothing changed for this daemon") {
		t.Errorf("the reload was not logged:\n%s", logs)
	}
	cancel()
	nextNotify(t, sock, "STOPPING=1")
	if err := <-done; err != nil {
		t.Fatalf("run = %v", err)
	}
}

// monotonicNow is CLOCK_MONOTONIC in microseconds.
func monotonicNow(t *testing.T) int64 {
	t.Helper()
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1000
}

// Without NOTIFY_SOCKET (not under systemd) notifications are no-ops, and
// a wrong WATCHDOG_PID means the watchdog is someone else's.
func TestSdNotifyOff(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "200000")
	t.Setenv("WATCHDOG_PID", "1")
	d, logs := configDaemon(t, "", "voter serve")
	if every := d.notify.watchdogEvery(); every != 0 {
		t.Errorf("watchdog of pid 1 fed every %v", every)
	}
	d.notify.send(notifyReady)
	if strings.Contains(logs.String(), "sd_notify failed") {
		t.Errorf("a send without NOTIFY_SOCKET logged a failure:\n%s", logs)
	}
}

// WATCHDOG=1 went out from a ticker whatever the schemes did. Now each one
// follows a status report: while a scheme's status cannot be read (here a
// source that blocks, as one whose lock is held for good), none goes out,
// so systemd's watchdog restarts the daemon; once it answers they resume.
func TestWatchdogNeedsTheStatus(t *testing.T) {
	sock := notifySocket(t)
	t.Setenv("WATCHDOG_USEC", "200000") // fed every 100 ms
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	d, _ := configDaemon(t, "", "voter serve")
	var stuck atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	d.Admin.AddSource(status.SourceFunc(func() []status.Document {
		if stuck.Load() {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
		}
		return nil
	}))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- d.run(ctx, adminapi.Config{}, "127.0.0.1:0", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	}()
	nextNotify(t, sock, "READY=1")
	nextNotify(t, sock, notifyWatchdog)
	stuck.Store(true)
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("WATCHDOG=1 is sent without the status being built")
	}
	buf := make([]byte, 512)
	for { // what was sent before the source blocked
		_ = sock.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		if _, err := sock.Read(buf); err != nil {
			break
		}
	}
	_ = sock.SetReadDeadline(time.Now().Add(time.Second)) // ten watchdog intervals
	if n, err := sock.Read(buf); err == nil {
		t.Errorf("%q sent while the status could not be built", buf[:n])
	}
	stuck.Store(false)
	close(release)
	nextNotify(t, sock, notifyWatchdog)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
