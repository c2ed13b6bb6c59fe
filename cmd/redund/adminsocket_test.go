package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/redund/redund/internal/adminapi"
)

// heProvider is a Hurricane Electric provider that reaches nothing.
const heProvider = "[ddns.cat.provider]\nkind = \"he\"\npassword = \"k\"\nserver = \"127.0.0.1:1\"\n" +
	"base_url = \"http://127.0.0.1:1/nic/update\"\n"

// squatter is what a local user can bind on a daemon's admin port while
// the daemon is down: it records the Authorization header of every request
// and answers 200, as if it were the daemon.
type squatter struct {
	addr string
	mu   sync.Mutex
	got  []string // "METHOD path Authorization", one per request
}

func startSquatter(t *testing.T) *squatter {
	s := &squatter{}
	s.addr = serveTCP(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		s.mu.Lock()
		s.got = append(s.got, req.Method+" "+req.URL.Path+" "+req.Header.Get("Authorization"))
		s.mu.Unlock()
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"))
	})
	return s
}

func (s *squatter) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// The finding: while ddns run is down, whoever binds its admin port gets
// the operator's token with the next `redund ddns maintenance` and is
// believed. With [admin] socket_dir the CLI asks the daemon's socket only:
// nothing reaches the port, and the operator is told the daemon is not
// there.
func TestSquattedAdminPortGetsNothingWithSocketDir(t *testing.T) {
	const token = "0123456789abcdef0123"
	for _, tc := range []struct {
		name      string
		socketDir bool
		wantCode  int
		wantOut   string
		wantSquat bool
	}{
		{"TCP only: the squatter gets the token", false, exitOK, "cat/main maintenance on", true},
		{"socket_dir: the squatter gets nothing", true, exitFailed, "is `redund ddns run` running?", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sq := startSquatter(t)
			run := filepath.Join(t.TempDir(), "run")
			if err := os.Mkdir(run, 0o755); err != nil {
				t.Fatal(err)
			}
			conf := fmt.Sprintf("[admin]\nddns = %q\ntoken = %q\n", sq.addr, token)
			if tc.socketDir {
				conf += fmt.Sprintf("socket_dir = %q\n", run)
			}
			cfg := writeFile(t, "redund.toml", conf+ddnsConfig(t, heProvider))
			out, code := runCLI(t, "-c", cfg, "ddns", "maintenance", "cat", "main", "on")
			if code != tc.wantCode || !strings.Contains(out, tc.wantOut) {
				t.Errorf("maintenance: exit %d, want %d with %q:\n%s", code, tc.wantCode, tc.wantOut, out)
			}
			if tc.socketDir && !strings.Contains(out, filepath.Join(run, "ddns.sock")) {
				t.Errorf("the error does not name the socket:\n%s", out)
			}
			out, _ = runCLI(t, "-c", cfg, "status", "--json")
			if tc.socketDir && !strings.Contains(out, `"endpoint": "unix:`+filepath.Join(run, "ddns.sock")) {
				t.Errorf("status does not ask the socket:\n%s", out)
			}
			got := sq.requests()
			if tc.wantSquat != (len(got) > 0) {
				t.Errorf("requests that reached the squatter: %q", got)
			}
			if tc.wantSquat && !strings.Contains(strings.Join(got, "\n"), "Bearer "+token) {
				t.Errorf("the squatter did not get the token (the threat this test shows): %q", got)
			}
		})
	}
}

// End to end: a real ddns run serves its socket in socket_dir; the CLI,
// with a config that has no token, changes maintenance through it (root
// or the daemon's own user need none there), and status reads it.
func TestAdminSocketEndToEnd(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run") // made by the daemon, 0755
	base := fmt.Sprintf("[admin]\nddns = \"127.0.0.1:0\"\nsocket_dir = %q\n", run) + ddnsConfig(t, heProvider)
	daemonCfg := writeFile(t, "daemon.toml", strings.Replace(base, "[admin]\n", "[admin]\ntoken = \"0123456789abcdef0123\"\n", 1))
	cliCfg := writeFile(t, "cli.toml", base)
	p := startDaemon(t, "", "--config", daemonCfg, "ddns", "run")
	p.waitLog(t, "ddns run started")
	sock := filepath.Join(run, "ddns.sock")
	if !strings.Contains(p.logs.String(), "admin_socket="+sock) {
		t.Errorf("the start line does not name the socket:\n%s", p.logs)
	}
	admin := regexp.MustCompile(`admin=(\S+)`).FindStringSubmatch(p.logs.String())[1]

	out, code := runCLI(t, "-c", cliCfg, "ddns", "maintenance", "cat", "main", "on")
	if code != exitOK || out != "cat/main maintenance on\n" {
		t.Fatalf("maintenance over the socket without a token: exit %d:\n%s", code, out)
	}
	out, code = runCLI(t, "-c", cliCfg, "ddns", "maintenance", "--admin", admin, "cat", "main", "off")
	if code != exitFailed || !strings.Contains(out, "401") {
		t.Errorf("over TCP without the token: exit %d, want 1 and 401:\n%s", code, out)
	}
	out, _ = runCLI(t, "-c", cliCfg, "status", "--json")
	var res []struct {
		Endpoint string `json:"endpoint"`
		Report   struct {
			Daemon string `json:"daemon"`
		} `json:"report"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 {
		t.Fatalf("status --json: %v:\n%s", err, out)
	}
	if res[0].Endpoint != adminapi.SocketScheme+sock || res[0].Report.Daemon != "ddns run" || res[0].Error != "" {
		t.Errorf("status: %+v", res[0])
	}
}

// The daemon refuses to start (exit 2, before binding anything) on a
// socket_dir that other users can write to: one of them could replace the
// socket.
func TestDaemonRefusesSocketDirWritableByOthers(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(run, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(run, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	cfg := writeFile(t, "redund.toml", fmt.Sprintf("[admin]\nvoter = \"127.0.0.1:0\"\nsocket_dir = %q\n", run)+
		"[voter.a]\nlisten = \"127.0.0.1:0\"\npassword = \"one\"\n[voter.a.clients.x]\npassword = \"x\"\n")
	out, code := runCLI(t, "--config", cfg, "--log-level", "error", "voter", "serve")
	if code != exitUsage || !strings.Contains(out, "[admin] socket_dir "+run+" is writable by other users (mode 0777)") {
		t.Errorf("exit %d, want 2 and the reason:\n%s", code, out)
	}
}

// tcpListeners counts the listening TCP sockets the process pid holds
// (its socket descriptors matched against /proc/net/tcp and tcp6).
func tcpListeners(t *testing.T, pid int) int {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	n := 0
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue // no IPv6
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 9 && f[3] == "0A" && inodes[f[9]] { // 0A: TCP_LISTEN
				n++
			}
		}
	}
	return n
}

// [admin] ddns = "off": the daemon opens no TCP admin listener at all, so
// nobody who binds its port while it is down answers browsers or
// Prometheus in its name; status, metrics and actions are on its socket.
func TestAdminTCPOff(t *testing.T) {
	run := filepath.Join(t.TempDir(), "run")
	cfg := writeFile(t, "redund.toml", fmt.Sprintf("[admin]\nddns = \"off\"\nsocket_dir = %q\n", run)+ddnsConfig(t, heProvider))
	p := startDaemon(t, "", "--config", cfg, "ddns", "run")
	p.waitLog(t, "ddns run started")
	if !strings.Contains(p.logs.String(), "admin=off") {
		t.Errorf("the start line does not say admin=off:\n%s", p.logs)
	}
	if n := tcpListeners(t, p.cmd.Process.Pid); n != 0 {
		t.Errorf("the daemon listens on %d TCP socket(s), want none", n)
	}
	out, code := runCLI(t, "-c", cfg, "ddns", "maintenance", "cat", "main", "on")
	if code != exitOK {
		t.Fatalf("maintenance over the socket: exit %d:\n%s", code, out)
	}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", filepath.Join(run, "ddns.sock"))
	}}}
	resp, err := hc.Get("http://localhost/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "redund_ddns_") {
		t.Errorf("/metrics on the socket: %s\n%.300s", resp.Status, b)
	}
}

// "off" without socket_dir would leave the daemon with no admin API: a
// config error naming the key, exit 2; --admin off likewise.
func TestAdminTCPOffNeedsSocketDir(t *testing.T) {
	cfg := writeFile(t, "redund.toml", "[admin]\nddns = \"off\"\n"+ddnsConfig(t, heProvider))
	out, code := runCLI(t, "config", "check", cfg)
	if code != exitUsage || !strings.Contains(out, `admin.ddns: "off" needs [admin] socket_dir`) {
		t.Errorf("config check: exit %d, want 2 naming admin.ddns:\n%s", code, out)
	}
	cfg = writeFile(t, "redund2.toml", ddnsConfig(t, heProvider))
	out, code = runCLI(t, "-c", cfg, "ddns", "run", "--admin", "off")
	if code != exitUsage || !strings.Contains(out, "--admin off needs [admin] socket_dir") {
		t.Errorf("ddns run --admin off: exit %d, want 2:\n%s", code, out)
	}
}
