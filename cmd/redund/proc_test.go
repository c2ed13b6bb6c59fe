package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/testutil"
)

// asMainEnv makes this test binary run main(): tests start it as a real
// redund process (signals, shell completion) without a separate go build.
const asMainEnv = "REDUND_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		main() // exits
	}
	if os.Getenv(stopContextEnv) == "1" {
		stopContextChild() // exits
	}
	os.Exit(m.Run())
}

// selfBinary is the path of this test binary, which runs as redund when
// asMainEnv=1 is in its environment (redundEnv).
func selfBinary(t testing.TB) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// redundEnv is the environment of a child that runs as redund.
func redundEnv(extra ...string) []string {
	return append(append(os.Environ(), asMainEnv+"=1"), extra...)
}

// redundCommand is a real redund process (not yet started).
func redundCommand(t testing.TB, ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, selfBinary(t), args...)
	cmd.Env = redundEnv()
	return cmd
}

// needTool returns the path of an external program a test needs: the test
// skips without it, and fails with REDUND_INTEGRATION=1 (CI installs it).
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("REDUND_INTEGRATION") == "1" {
			t.Fatalf("%s is required with REDUND_INTEGRATION=1 (.ci/run installs it): %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// daemonProc is a real redund daemon process started by a test.
type daemonProc struct {
	cmd    *exec.Cmd
	logs   *testutil.Buffer // its stderr
	exited chan error       // gets cmd.Wait's result
}

func startDaemon(t *testing.T, notifySock string, args ...string) *daemonProc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	p := &daemonProc{cmd: redundCommand(t, ctx, args...), logs: &testutil.Buffer{}, exited: make(chan error, 1)}
	p.cmd.Env = append(p.cmd.Env, "NOTIFY_SOCKET="+notifySock)
	p.cmd.Stderr = p.logs
	// a child the daemon left behind (a hook cut short) may hold stderr:
	// Wait still returns soon after the daemon itself has exited
	p.cmd.WaitDelay = time.Second
	if err := p.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait(); cancel() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("daemon log:\n%s", p.logs)
		}
	})
	return p
}

// waitLog waits until the daemon has logged want; it fails if the process
// exits or 10 s pass first.
func (p *daemonProc) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.logs.String(), want) {
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("the daemon exited (%v) before logging %q", err, want)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log after 10 s", want)
		}
	}
}

// TestSIGHUPReloadsInARealProcess: SIGHUP used to kill every daemon (exit
// 129, nothing logged). Now a broken config is logged with file:line and
// the daemon keeps serving; a good one logs each changed key; SIGTERM
// stops it with exit 0 and a last log line.
func TestSIGHUPReloadsInARealProcess(t *testing.T) {
	sock := notifySocket(t)
	const conf = "[admin]\nvoter = \"127.0.0.1:0\"\n\n[voter.east]\nlisten = \"127.0.0.1:0\"\npassword = \"BLAH\"\n%s\n" +
		"[voter.east.clients.a]\npassword = \"%s\"\n"
	path := writeFile(t, "redund.toml", fmt.Sprintf(conf, "", "a-pw"))
	p := startDaemon(t, os.Getenv("NOTIFY_SOCKET"), "--config", path, "voter", "serve")
	nextNotify(t, sock, "READY=1")
	p.waitLog(t, "voter serve started")
	admin := regexp.MustCompile(`admin=(\S+)`).FindStringSubmatch(p.logs.String())
	if m := regexp.MustCompile(`voter\.east\.listen=127\.0\.0\.1:[1-9]\d*`).FindString(p.logs.String()); admin == nil || m == "" {
		t.Fatalf("the start line does not name the admin and VOTER addresses:\n%s", p.logs)
	}
	if err := os.WriteFile(path, []byte(fmt.Sprintf(conf, "lingr = 4", "a-pw")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	nextNotify(t, sock, "RELOADING=1")
	p.waitLog(t, "at=\""+path+":7: voter.east.lingr: unknown key")
	nextNotify(t, sock, "READY=1")
	resp, err := http.Get("http://" + admin[1] + "/healthz")
	if err != nil {
		t.Fatalf("after a bad reload the daemon does not serve: %v", err)
	}
	resp.Body.Close()

	if err := os.WriteFile(path, []byte(fmt.Sprintf(conf, "linger = 4", "b-pw")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	nextNotify(t, sock, "RELOADING=1")
	nextNotify(t, sock, "READY=1")
	p.waitLog(t, "key=voter.east.linger at="+path+":7")
	p.waitLog(t, "key=voter.east.clients.a.password")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	nextNotify(t, sock, "STOPPING=1")
	if err := <-p.exited; err != nil {
		t.Fatalf("after SIGTERM: %v, want exit 0", err)
	}
	p.exited <- nil
	if !strings.Contains(p.logs.String(), `msg="voter serve stopped" reason="terminated signal received"`) {
		t.Errorf("no stop line:\n%s", p.logs)
	}
}

// TestSIGHUPReloadsDdnsLive: SIGHUP with a new server in a ddns scheme
// makes the running process probe it and show it, without a restart;
// its keys are logged as applied, and a key of [admin] as needing a
// restart.
func TestSIGHUPReloadsDdnsLive(t *testing.T) {
	sock := notifySocket(t)
	probed := make(chan struct{}, 1)
	extra := serveTCP(t, func(c net.Conn) {
		select {
		case probed <- struct{}{}:
		default:
		}
	})
	base := "[admin]\nddns = \"127.0.0.1:0\"\n" + ddnsConfig(t,
		"[ddns.cat.provider]\nkind = \"he\"\npassword = \"k\"\nserver = \"127.0.0.1:1\"\nbase_url = \"http://127.0.0.1:1/nic/update\"\n")
	path := writeFile(t, "redund.toml", base)
	p := startDaemon(t, os.Getenv("NOTIFY_SOCKET"), "--config", path, "ddns", "run")
	nextNotify(t, sock, "READY=1")
	p.waitLog(t, "ddns run started")
	admin := regexp.MustCompile(`admin=(\S+)`).FindStringSubmatch(p.logs.String())[1]
	next := strings.Replace(base, `ddns = "127.0.0.1:0"`, `ddns = "127.0.0.1:1"`, 1) +
		fmt.Sprintf("[[ddns.cat.servers]]\nname = \"extra\"\naddress = \"192.0.2.9\"\npriority = 40\n"+
			"[ddns.cat.servers.check]\nkind = \"tcp\"\naddress = %q\n", extra)
	if err := os.WriteFile(path, []byte(next), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	nextNotify(t, sock, "RELOADING=1")
	nextNotify(t, sock, "READY=1")
	p.waitLog(t, `"config key applied" key=ddns.cat.servers[2].name`)
	p.waitLog(t, "key=admin.ddns at="+path+":2")
	select {
	case <-probed:
	case <-time.After(10 * time.Second):
		t.Fatal("the server added by the reload was not probed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		rep, err := adminapi.Fetch(ctx, admin)
		if err == nil && len(rep.Instances) == 1 && len(rep.Instances[0].Health) == 3 && rep.Instances[0].Health[2].State == "OK" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the status does not show the new server OK: %v %+v", err, rep.Instances)
		}
		time.Sleep(20 * time.Millisecond) // sleep: poll interval; the failure message prints the last status
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-p.exited; err != nil {
		t.Fatalf("after SIGTERM: %v, want exit 0", err)
	}
	p.exited <- nil
}

// TestReadyAfterEverySocket: READY=1 comes once the scheme's own sockets
// are bound, not only the admin listener (the gateway bound client_listen
// and peer_listen after it), and the start line names them.
func TestReadyAfterEverySocket(t *testing.T) {
	sock := notifySocket(t)
	conf := fmt.Sprintf("[admin]\ngateway = \"127.0.0.1:0\"\n\n[gateway]\nmode = \"master\"\ndata_dir = %q\n"+
		"peer_listen = \"127.0.0.1:0\"\nclient_listen = \"127.0.0.1:0\"\napp_url = \"http://127.0.0.1:1\"\n"+
		"[gateway.link]\nsecret = \"0123456789abcdef0123456789\"\n", t.TempDir())
	path := writeFile(t, "redund.toml", conf)
	p := startDaemon(t, os.Getenv("NOTIFY_SOCKET"), "--config", path, "gateway", "run")
	p.waitLog(t, "gateway run started") // opening the stores is slow under -race
	nextNotify(t, sock, "READY=1")
	logs := p.logs.String()
	for _, key := range []string{"gateway.peer_listen", "gateway.client_listen"} {
		m := regexp.MustCompile(regexp.QuoteMeta(key) + `=(127\.0\.0\.1:[1-9]\d*)`).FindStringSubmatch(logs)
		if m == nil {
			t.Fatalf("the start line does not name %s:\n%s", key, logs)
		}
		c, err := net.DialTimeout("tcp", m[1], 2*time.Second)
		if err != nil {
			t.Fatalf("%s %s is not accepting at READY=1: %v", key, m[1], err)
		}
		c.Close()
	}
}

// TestSecondSignalEndsAHungStop: a stop that takes long (here schedsync's
// on_demote on a primary) could not be cut short: a second SIGTERM or
// Ctrl-C was swallowed, leaving SIGKILL. Now the first signal stops the
// daemon cleanly and says a second one ends it at once, which it does.
func TestSecondSignalEndsAHungStop(t *testing.T) {
	sleep := needTool(t, "sleep")
	sock := notifySocket(t)
	dir := t.TempDir()
	path := writeFile(t, "redund.toml", fmt.Sprintf("[admin]\nschedsync = \"127.0.0.1:0\"\n[schedsync]\nmode = \"primary\"\n"+
		"dir = %q\nlisten = \"127.0.0.1:0\"\nsecret = \"0123456789abcdef0123\"\non_demote = [%q, \"8\"]\n", dir, sleep))
	p := startDaemon(t, os.Getenv("NOTIFY_SOCKET"), "--config", path, "schedsync", "run")
	nextNotify(t, sock, "READY=1")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	nextNotify(t, sock, "STOPPING=1")
	p.waitLog(t, "a second SIGINT or SIGTERM ends it at once")
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err
		if err == nil {
			t.Errorf("after a second SIGTERM the daemon exited 0, as if its stop had finished")
		}
	case <-time.After(4 * time.Second):
		t.Fatal("the daemon still ran 4 s after a second SIGTERM (its on_demote sleeps 8 s)")
	}
}

// stopContextEnv makes this test binary run stopContextChild.
const stopContextEnv = "REDUND_TEST_STOP_CONTEXT"

// stopContextChild waits for stopContext to end, then at once does what
// an operator does on the "a second signal ends it" line: it sends a
// second SIGTERM. Exit 0 means that signal was swallowed.
func stopContextChild() {
	ctx, stop := stopContext()
	defer stop()
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	<-ctx.Done()
	_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
	time.Sleep(10 * time.Second) // sleep: the time the signal has to end us; the test reads the exit status
	os.Exit(0)
}

// TestSecondSignalRightAfterTheFirst: the context the first signal ends
// is ended only once the default action is back. Before, a goroutine put
// it back some time after, and a second SIGTERM sent in between (as the
// daemon's "a second SIGINT or SIGTERM ends it" line invites) was
// swallowed; TestSecondSignalEndsAHungStop failed so in CI.
func TestSecondSignalRightAfterTheFirst(t *testing.T) {
	for i := 0; i < 20; i++ {
		cmd := exec.Command(selfBinary(t))
		cmd.Env = append(os.Environ(), stopContextEnv+"=1")
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run %d: %v, want death by SIGTERM", i, err)
		}
		ws, ok := ee.Sys().(syscall.WaitStatus)
		if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			t.Fatalf("run %d: %v, want death by SIGTERM (the second signal was swallowed)", i, err)
		}
	}
}
