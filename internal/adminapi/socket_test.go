package adminapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/status"
)

// The client's decision on an admin socket, before connecting (PeerUID -1)
// and after: a socket another user could have put there, or could
// replace, or that another user's process serves, is refused with the
// reason; the daemon's own socket passes.
func TestSocketTrustDecide(t *testing.T) {
	const self, daemon, other = 1000, 998, 1001
	trust := &SocketTrust{Self: self, UIDs: []int{daemon}, Names: map[int]string{daemon: "redund"}}
	sock := fs.ModeSocket | 0o660
	dir := func(mode fs.FileMode, owner int) DirFacts {
		return DirFacts{Path: "/run/redund", Mode: fs.ModeDir | mode, OwnerUID: owner}
	}
	run := DirFacts{Path: "/run", Mode: fs.ModeDir | 0o755}
	root := DirFacts{Path: "/", Mode: fs.ModeDir | 0o755}
	tmp := DirFacts{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777}
	for _, tc := range []struct {
		name    string
		mode    fs.FileMode
		owner   int
		dirs    []DirFacts
		peer    int
		wantOK  bool
		wantWhy string
	}{
		{"the daemon's socket, not connected yet", sock, daemon, []DirFacts{dir(0o755, daemon), run, root}, -1, true, ""},
		{"the daemon's socket, served by the daemon", sock, daemon, []DirFacts{dir(0o755, daemon), run, root}, daemon, true, ""},
		{"root's socket in root's directory", sock, 0, []DirFacts{dir(0o750, 0), run, root}, 0, true, ""},
		{"the caller's own socket", sock, self, []DirFacts{dir(0o700, self), tmp, root}, self, true, ""},
		{"socket of another user", sock, other, []DirFacts{dir(0o755, daemon), run, root}, -1, false,
			"owned by uid 1001, not by root, uid 1000, uid 998 (redund)"},
		{"served by another user's process", sock, daemon, []DirFacts{dir(0o755, daemon), run, root}, other, false,
			"the process serving it runs as uid 1001"},
		{"a regular file", 0o660, daemon, []DirFacts{dir(0o755, daemon), run, root}, -1, false, "not a socket (a regular file)"},
		{"a symbolic link", fs.ModeSymlink | 0o777, daemon, []DirFacts{dir(0o755, daemon), run, root}, -1, false,
			"not a socket (a symbolic link)"},
		{"directory writable by others", sock, daemon, []DirFacts{dir(0o757, daemon), run, root}, -1, false,
			"directory /run/redund is writable by other users (mode 0757)"},
		{"directory writable by its group", sock, daemon, []DirFacts{dir(0o775, daemon), run, root}, -1, false,
			"directory /run/redund is writable by other users (mode 0775)"},
		{"socket directory sticky but world-writable", sock, daemon,
			[]DirFacts{{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777}, root}, -1, false,
			"directory /tmp is writable by other users (mode 0777)"},
		{"sticky /tmp above the socket's directory", sock, daemon, []DirFacts{dir(0o755, daemon), tmp, root}, daemon, true, ""},
		{"world-writable parent without sticky", sock, daemon,
			[]DirFacts{dir(0o755, daemon), {Path: "/srv", Mode: fs.ModeDir | 0o777}, root}, -1, false,
			"directory /srv is writable by other users (mode 0777)"},
		{"directory of another user", sock, daemon, []DirFacts{dir(0o755, other), run, root}, -1, false,
			"directory /run/redund is owned by uid 1001"},
		{"parent of another user", sock, daemon,
			[]DirFacts{dir(0o755, daemon), {Path: "/run", Mode: fs.ModeDir | 0o755, OwnerUID: other}, root}, -1, false,
			"directory /run is owned by uid 1001"},
		{"a symbolic link among the directories", sock, daemon,
			[]DirFacts{{Path: "/run/redund", Mode: fs.ModeSymlink | 0o777, OwnerUID: daemon}, run, root}, -1, false,
			"/run/redund is not a directory (a symbolic link)"},
		{"directories not checked", sock, daemon, nil, -1, false, "its directory was not checked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := trust.Decide(SocketFacts{Path: "/run/redund/ddns.sock", Mode: tc.mode, OwnerUID: tc.owner,
				Dirs: tc.dirs, PeerUID: tc.peer})
			if tc.wantOK {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var se *SocketRefusedError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.wantWhy) {
				t.Fatalf("got %v, want a refusal with %q", err, tc.wantWhy)
			}
			if !strings.HasPrefix(err.Error(), "admin socket /run/redund/ddns.sock refused, nothing sent: ") {
				t.Errorf("the message does not name the socket first: %v", err)
			}
		})
	}
}

// The daemon's check of socket_dir: its own or root's directory that no
// one else can write to.
func TestCheckSocketDir(t *testing.T) {
	const euid, other = 998, 1001
	for _, tc := range []struct {
		name  string
		mode  fs.FileMode
		owner int
		want  string // "" for accepted
	}{
		{"systemd's RuntimeDirectory", fs.ModeDir | 0o755, euid, ""},
		{"root's, closed", fs.ModeDir | 0o750, 0, ""},
		{"writable by others", fs.ModeDir | 0o777, euid, "writable by other users (mode 0777)"},
		{"writable by the group", fs.ModeDir | 0o775, euid, "writable by other users (mode 0775)"},
		{"sticky and writable by all", fs.ModeDir | fs.ModeSticky | 0o777, 0, "writable by other users"},
		{"another user's", fs.ModeDir | 0o755, other, "owned by uid 1001, not by this daemon's user (uid 998) or root"},
		{"a symbolic link", fs.ModeSymlink | 0o777, euid, "is not a directory (a symbolic link)"},
		{"a file", 0o600, euid, "is not a directory (a regular file)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkSocketDir(DirFacts{Path: "/run/redund", Mode: tc.mode, OwnerUID: tc.owner}, euid)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// The server's decision on a socket client (SO_PEERCRED): root, the
// daemon's user and members of socket_group act as if they had the token.
func TestPeerPolicyAllows(t *testing.T) {
	const daemon, op, stranger, admins = 998, 1000, 1001, 50
	member := func(uid, gid int) bool { return uid == op && gid == admins }
	for _, tc := range []struct {
		name string
		pol  peerPolicy
		peer ucred
		want bool
	}{
		{"root", peerPolicy{euid: daemon, gid: -1}, ucred{uid: 0, gid: 0}, true},
		{"the daemon's user", peerPolicy{euid: daemon, gid: -1}, ucred{uid: daemon, gid: daemon}, true},
		{"another user, no group configured", peerPolicy{euid: daemon, gid: -1}, ucred{uid: op, gid: admins}, false},
		{"primary group is socket_group", peerPolicy{euid: daemon, gid: admins}, ucred{uid: stranger, gid: admins}, true},
		{"supplementary member of socket_group", peerPolicy{euid: daemon, gid: admins}, ucred{uid: op, gid: op}, true},
		{"not a member", peerPolicy{euid: daemon, gid: admins}, ucred{uid: stranger, gid: stranger}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.pol.allows(tc.peer, member); got != tc.want {
				t.Errorf("allows = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSocketConfig(t *testing.T) {
	a := Config{SocketDir: "/run/redund", Ddns: "127.0.0.1:9182"}
	if got := a.Endpoint("ddns"); got != "unix:/run/redund/ddns.sock" {
		t.Errorf("Endpoint(ddns) = %q", got)
	}
	if got := (Config{Ddns: "127.0.0.1:9182"}).Endpoint("ddns"); got != "127.0.0.1:9182" {
		t.Errorf("without socket_dir, Endpoint(ddns) = %q, want the TCP address", got)
	}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"relative", Config{SocketDir: "run/redund"}, "socket_dir"},
		{"not clean", Config{SocketDir: "/run//redund/"}, "socket_dir"},
		{"too long", Config{SocketDir: "/" + strings.Repeat("d", 100)}, "too long"},
		{"user with a slash", Config{SocketDir: "/run/redund", SocketUser: "a/b"}, "socket_user"},
		{"group with a space", Config{SocketDir: "/run/redund", SocketGroup: "a b"}, "socket_group"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errs config.Errors
			if err := tc.cfg.Validate(); !errors.As(err, &errs) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want a problem with %s", err, tc.want)
			}
		})
	}
	if err := (Config{SocketDir: "/run/redund", SocketUser: "redund", SocketGroup: "adm"}).Validate(); err != nil {
		t.Errorf("good table: %v", err)
	}
}

// startSocketServer runs an admin server on loopback and on a socket in a
// fresh directory until the test ends; POST /v1/act is guarded by Protect
// with token.
func startSocketServer(t *testing.T, token config.Secret) (tcp, sock string) {
	t.Helper()
	s := NewServer("test run", "v9.9.9", nil, logging.Discard())
	s.AddSource(status.SourceFunc(func() []status.Document { return nil }))
	s.Handle("POST /v1/act", Protect(token, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"result": "done"})
	})))
	s.SetAccess(Config{Token: token})
	dir := filepath.Join(t.TempDir(), "run")
	a := Config{SocketDir: dir}
	if err := a.PrepareSocketDir(); err != nil {
		t.Fatal(err)
	}
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	path := SocketPath(dir, "test")
	if err := s.ListenSocket(path, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the socket is left behind after Serve: %v", err)
		}
	})
	return s.Addr(), SocketScheme + path
}

// Over the socket the caller (root, or the daemon's own user: the test's)
// needs no token, and the token still works; over TCP the token is needed.
func TestAdminSocketServesTrustedPeerWithoutToken(t *testing.T) {
	const token config.Secret = "0123456789abcdef0123"
	tcp, sock := startSocketServer(t, token)
	path, _ := SocketOf(sock)
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o660 || st.Mode().Type() != fs.ModeSocket {
		t.Errorf("socket mode %v, want a socket 0660", st.Mode())
	}
	if dst, err := os.Lstat(filepath.Dir(path)); err != nil || dst.Mode().Perm() != 0o755 {
		t.Errorf("socket_dir made with %v (%v), want 0755", dst.Mode(), err)
	}
	ctx := t.Context()
	for _, tc := range []struct {
		name     string
		endpoint string
		token    config.Secret
		wantCode int // 0: 200
	}{
		{"socket without token", sock, "", 0},
		{"socket with the token", sock, token, 0},
		{"socket with a wrong token", sock, "wrong-wrong-wrong-wrong", 0},
		{"tcp without token", tcp, "", http.StatusUnauthorized},
		{"tcp with the token", tcp, token, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Call(ctx, tc.endpoint, tc.token, http.MethodPost, "/v1/act", nil)
			var ce *CallError
			switch {
			case tc.wantCode == 0 && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantCode == 0 && !strings.Contains(string(out), "done"):
				t.Fatalf("answer %q", out)
			case tc.wantCode != 0 && (!errors.As(err, &ce) || ce.Code != tc.wantCode):
				t.Fatalf("got %v, want HTTP %d", err, tc.wantCode)
			}
		})
	}
	rep, err := Fetch(ctx, sock)
	if err != nil || rep.Daemon != "test run" {
		t.Errorf("status over the socket: %+v, %v", rep, err)
	}
}

// A second server on the same socket path is refused while the first
// accepts; a stale socket (nobody accepting) is replaced.
func TestListenSocketLiveAndStale(t *testing.T) {
	_, sock := startSocketServer(t, "")
	path, _ := SocketOf(sock)
	s := NewServer("test run", "v9.9.9", nil, logging.Discard())
	if err := s.ListenSocket(path, ""); err == nil || !strings.Contains(err.Error(), "another process accepts on it") {
		t.Errorf("a second server on a live socket: %v", err)
	}

	stale := filepath.Join(t.TempDir(), "stale.sock")
	ln, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if err := s.ListenSocket(stale, ""); err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	s.mu.Lock()
	_ = s.sock.Close()
	s.mu.Unlock()

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.ListenSocket(file, ""); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("a regular file in the way: %v", err)
	}
}

// A socket that another user put in place (here: given to nobody after
// binding, which needs root) is refused before anything is sent: the
// listener never accepts a connection. So is one in a directory others can
// write to.
func TestSocketOfAnotherUserRefusedBeforeConnecting(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a socket to another user needs root")
	}
	for _, tc := range []struct {
		name  string
		setup func(dir, path string) error
		want  string
	}{
		{"socket of nobody", func(_, path string) error { return os.Chown(path, 65534, 65534) }, "owned by uid 65534"},
		{"directory writable by all", func(dir, _ string) error { return os.Chmod(dir, 0o777) },
			"is writable by other users (mode 0777)"},
		{"directory of nobody", func(dir, _ string) error { return os.Chown(dir, 65534, 65534) },
			"is owned by uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "ddns.sock")
			ln, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			accepted := make(chan bool, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					c.Close()
				}
				accepted <- err == nil
			}()
			defer ln.Close()
			if err := tc.setup(dir, path); err != nil {
				t.Fatal(err)
			}
			_, err = Call(t.Context(), SocketScheme+path, "0123456789abcdef0123", http.MethodPost, "/v1/act", nil)
			var se *SocketRefusedError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal with %q", err, tc.want)
			}
			ln.Close() // Accept returns: with a connection, had the client made one
			if <-accepted {
				t.Fatal("the client connected to the socket it refused")
			}
		})
	}
}

// A client of another user who can connect to the socket (here: the socket
// opened to all, and curl run as nobody, which needs root) is not trusted
// by SO_PEERCRED: it reads the status like a loopback client but cannot
// act without the token.
func TestAdminSocketRefusesOtherUserWithoutToken(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a client as another user needs root")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skipf("curl not installed: %v", err)
	}
	_, sock := startSocketServer(t, "")
	path, _ := SocketOf(sock)
	for d := filepath.Dir(path); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil { // t.TempDir's are 0700
			t.Fatal(err)
		}
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	asNobody := func(args ...string) string {
		cmd := exec.CommandContext(t.Context(), curl, append([]string{"-sS", "--unix-socket", path,
			"-w", " %{http_code}"}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("curl %v: %v: %s", args, err, out)
		}
		return string(out)
	}
	if out := asNobody("-X", "POST", "http://localhost/v1/act"); !strings.HasSuffix(out, " 403") ||
		!strings.Contains(out, "admin socket: only root, the daemon's user and [admin] socket_group") {
		t.Errorf("POST as nobody: %s", out)
	}
	if out := asNobody("http://localhost/v1/status"); !strings.HasSuffix(out, " 200") {
		t.Errorf("GET /v1/status as nobody: %s", out)
	}
}

// A live socket whose backlog is full (its server busy, or a client
// holding it) answers a connect with EAGAIN, not ECONNREFUSED: it is not
// stale, and a second server must neither remove it nor take its path.
func TestListenSocketBusyIsNotStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // never accepts
		t.Fatal(err)
	}
	before, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	// fill the backlog: connect until the kernel says EAGAIN
	for i := 0; ; i++ {
		c, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(c)
		err = syscall.Connect(c, &syscall.SockaddrUnix{Name: path})
		if errors.Is(err, syscall.EAGAIN) {
			break
		}
		if err != nil || i > 100 {
			t.Fatalf("filling the backlog: %v after %d", err, i)
		}
	}
	s := NewServer("test run", "v9.9.9", nil, logging.Discard())
	err = s.ListenSocket(path, "")
	if err == nil {
		s.mu.Lock()
		_ = s.sock.Close()
		s.mu.Unlock()
		t.Error("ListenSocket took the path of a live socket with a full backlog")
	} else if !strings.Contains(err.Error(), "cannot tell whether it is stale (connecting to it: resource temporarily unavailable)") {
		t.Errorf("ListenSocket = %v, want it to say it cannot tell", err)
	}
	after, err := os.Lstat(path)
	if err != nil || !os.SameFile(before, after) {
		t.Errorf("the live socket was removed or replaced (%v)", err)
	}
}

// A refusal names the socket and directories as the client resolved them:
// a name another user chose (here a directory with terminal escapes and a
// line break, reached through a symbolic link) is quoted, not written to
// the operator's terminal as it is.
func TestSocketRefusalQuotesNames(t *testing.T) {
	base := t.TempDir()
	evil := filepath.Join(base, "x\x1b[2J\nOK: all trusted")
	if err := os.Mkdir(evil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(evil, 0o777); err != nil { // writable by others: refused, and named
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(evil, "ddns.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	link := filepath.Join(base, "run")
	if err := os.Symlink(evil, link); err != nil {
		t.Fatal(err)
	}
	_, err = DefaultTrust().Dial(context.Background(), filepath.Join(link, "ddns.sock"))
	if err == nil {
		t.Fatal("the socket was trusted")
	}
	for _, msg := range []string{err.Error(), Reason(err)} {
		if strings.ContainsFunc(msg, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Errorf("the message carries control characters: %q", msg)
		}
		if !strings.Contains(msg, `\x1b[2J\nOK: all trusted`) {
			t.Errorf("the message does not name the directory quoted: %q", msg)
		}
	}
}

// The daemon checks the directories above socket_dir as the client does:
// a parent another user owns, or may write to without the sticky bit,
// could swap socket_dir (and the socket in it) for its own; the daemon
// refuses to start rather than serve a socket every client refuses, and
// makes no directory there.
func TestPrepareSocketDirParents(t *testing.T) {
	for _, tc := range []struct {
		name  string
		root  bool // chown needs root
		setup func(parent string) error
		want  string // "" for accepted
	}{
		{"closed parent", false, func(string) error { return nil }, ""},
		{"parent writable by others", false, func(p string) error { return os.Chmod(p, 0o777) },
			"is writable by other users (mode 0777)"},
		{"parent writable by its group", false, func(p string) error { return os.Chmod(p, 0o775) },
			"is writable by other users (mode 0775)"},
		{"sticky parent writable by all", false, func(p string) error { return os.Chmod(p, 0o777|fs.ModeSticky) }, ""},
		{"parent of another user", true, func(p string) error { return os.Chown(p, 65534, 65534) },
			"is owned by uid 65534"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root && os.Geteuid() != 0 {
				t.Skip("giving a directory to another user needs root")
			}
			parent := filepath.Join(t.TempDir(), "p")
			if err := os.Mkdir(parent, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := tc.setup(parent); err != nil {
				t.Fatal(err)
			}
			// reached through a symbolic link: the directories it resolves to count
			link := filepath.Join(t.TempDir(), "link")
			if err := os.Symlink(parent, link); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(link, "run")
			err := Config{SocketDir: dir}.PrepareSocketDir()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
				return
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if _, err := os.Lstat(filepath.Join(parent, "run")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("socket_dir was made under the refused parent (%v)", err)
			}
		})
	}
}

// holdEnv names the socket TestHelperHoldSocket connects to.
const holdEnv = "ADMINAPI_TEST_HOLD_SOCKET"

// TestHelperHoldSocket is the other user of TestAdminSocketOtherUserCannotLockOut:
// it opens 64 connections to the socket, says so, and holds them until its
// standard input closes.
func TestHelperHoldSocket(t *testing.T) {
	path := os.Getenv(holdEnv)
	if path == "" {
		t.Skip("a helper process of TestAdminSocketOtherUserCannotLockOut")
	}
	var conns []net.Conn
	for range 64 {
		c, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	fmt.Println("holding")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		_ = c.Close()
	}
}

// A user who may connect to the socket but is not trusted (here nobody,
// with the socket opened to all, which needs root) and holds as many
// connections as the listener allows one source does not lock root or
// the daemon's user out: the socket counts connections per user, and
// those of a trusted user are not refused for another's.
func TestAdminSocketOtherUserCannotLockOut(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a client as another user needs root")
	}
	_, sock := startSocketServer(t, "")
	path, _ := SocketOf(sock)
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	// this test binary, where nobody may run it
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "adminapi.test")
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, bin} {
		for d := filepath.Dir(p); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
			if err := os.Chmod(d, 0o755); err != nil { // t.TempDir's are 0700
				t.Fatal(err)
			}
		}
	}
	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^TestHelperHoldSocket$")
	cmd.Env = append(os.Environ(), holdEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("the helper: %v", err)
		}
	}()
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "holding\n" {
		t.Fatalf("the helper said %q (%v), want its readiness line", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	if rep, err := Fetch(t.Context(), sock); err != nil || rep.Daemon != "test run" {
		t.Errorf("root's status request while nobody holds 64 connections: %+v, %v", rep, err)
	}
}
