package adminapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// SocketScheme prefixes an endpoint that is a Unix socket's path
// ("unix:/run/redund/ddns.sock"), as Config.Endpoint gives it.
const SocketScheme = "unix:"

// DefaultSocketUser is the user the packaged units run the daemons as: a
// client trusts an admin socket of this user (besides root and itself)
// when [admin] socket_user is not set and the user exists.
const DefaultSocketUser = "redund"

// SocketPath is the admin socket of daemon ("ddns") in dir: <dir>/<daemon>.sock.
func SocketPath(dir, daemon string) string { return filepath.Join(dir, daemon+".sock") }

// SocketOf returns the path of a socket endpoint ("unix:/path", or a bare
// absolute path) and true, or "" and false for a TCP endpoint.
func SocketOf(endpoint string) (string, bool) {
	e := strings.TrimSpace(endpoint)
	if p, ok := strings.CutPrefix(e, SocketScheme); ok {
		return p, true
	}
	if strings.HasPrefix(e, "/") {
		return e, true
	}
	return "", false
}

// Endpoint is where a client reaches daemon: its admin socket when
// socket_dir is set ("unix:<dir>/<daemon>.sock"), else its TCP address
// (For). A client never falls back from the socket to TCP: whoever
// listens on a TCP port while the daemon is down would get the token.
func (a Config) Endpoint(daemon string) string {
	if a.SocketDir != "" {
		return SocketScheme + SocketPath(a.SocketDir, daemon)
	}
	return a.For(daemon)
}

// SocketTrust is whom a client believes an admin socket comes from: root,
// the client's own user (Self) and the users in UIDs (the daemons' user).
// A socket, its directory or the directories above it owned by anyone
// else, a directory another user can write to, or a server process of
// another user is refused before anything is sent.
type SocketTrust struct {
	Self  int
	UIDs  []int
	Names map[int]string // user names for messages
}

// DefaultTrust trusts root and the calling user only.
func DefaultTrust() *SocketTrust { return &SocketTrust{Self: os.Getuid()} }

// SocketTrust resolves socket_user (DefaultSocketUser when unset; an
// unknown default user is left out, an unknown configured one is an
// error) into the users a client trusts.
func (a Config) SocketTrust() (*SocketTrust, error) {
	t := DefaultTrust()
	name := a.SocketUser
	if name == "" {
		name = DefaultSocketUser
	}
	uid, err := lookupUID(name)
	switch {
	case err == nil:
		t.UIDs = append(t.UIDs, uid)
		t.Names = map[int]string{uid: name}
	case a.SocketUser != "":
		return nil, fmt.Errorf("[admin] socket_user: %v", err)
	}
	return t, nil
}

func lookupUID(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, fmt.Errorf("no user %q on this host", name)
	}
	return strconv.Atoi(u.Uid)
}

func lookupGID(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("no group %q on this host", name)
	}
	return strconv.Atoi(g.Gid)
}

func (t *SocketTrust) trusted(uid int) bool {
	return uid == 0 || uid == t.Self || slices.Contains(t.UIDs, uid)
}

// who names uid for a message: "uid 1001", "uid 998 (redund)".
func (t *SocketTrust) who(uid int) string {
	if n := t.Names[uid]; n != "" {
		return fmt.Sprintf("uid %d (%s)", uid, n)
	}
	return fmt.Sprintf("uid %d", uid)
}

func (t *SocketTrust) whom() string {
	parts := []string{"root"}
	for _, u := range append([]int{t.Self}, t.UIDs...) {
		if u != 0 && !slices.Contains(parts, t.who(u)) {
			parts = append(parts, t.who(u))
		}
	}
	return strings.Join(parts, ", ")
}

// SocketFacts is what a client sees of an admin socket before it sends
// anything: the file, every directory from its own up to /, and, once
// connected, the server process's user (SO_PEERCRED).
type SocketFacts struct {
	Path     string      // with symbolic links resolved
	Mode     fs.FileMode // of the socket file (Lstat)
	OwnerUID int
	Dirs     []DirFacts // the socket's directory first, then each parent up to /
	PeerUID  int        // the server's user; -1 before connecting
}

// DirFacts is one directory above an admin socket.
type DirFacts struct {
	Path     string
	Mode     fs.FileMode // Lstat: a symbolic link is not a directory
	OwnerUID int
}

// SocketRefusedError is an admin socket the client did not trust: nothing
// was sent to it.
type SocketRefusedError struct {
	Path   string
	Reason string
}

func (e *SocketRefusedError) Error() string {
	return "admin socket " + shownPath(e.Path) + " refused, nothing sent: " + e.Reason
}

// shownPath is a path for a message: as it is, or quoted (strconv.Quote)
// if it holds anything but printable UTF-8. A refused socket's path and
// directories are named as the symbolic links resolved, names another
// user may have chosen: terminal escapes or a line break in them must not
// reach the operator's terminal or log as they are.
func shownPath(p string) string {
	if !utf8.ValidString(p) || strings.ContainsFunc(p, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(p)
	}
	return p
}

// Decide is the client's trust decision on an admin socket, a pure
// function of what it saw (nil: trusted so far). The socket and every
// directory above it must be owned by root or a trusted user (another
// user could have put the socket there, or replace it); no directory may
// be writable by group or others, except, above the socket's own, one
// with the sticky bit (/tmp: others cannot rename what they do not own);
// and the process that accepted the connection must run as root or a
// trusted user.
func (t *SocketTrust) Decide(f SocketFacts) error {
	refuse := func(format string, args ...any) error {
		return &SocketRefusedError{Path: f.Path, Reason: fmt.Sprintf(format, args...)}
	}
	if f.Mode.Type() != fs.ModeSocket {
		return refuse("not a socket (%s)", typeName(f.Mode))
	}
	if !t.trusted(f.OwnerUID) {
		return refuse("owned by %s, not by %s: another user may have put it there while the daemon was down",
			t.who(f.OwnerUID), t.whom())
	}
	if len(f.Dirs) == 0 {
		return refuse("its directory was not checked")
	}
	for i, d := range f.Dirs {
		switch {
		case !d.Mode.IsDir():
			return refuse("%s is not a directory (%s)", shownPath(d.Path), typeName(d.Mode))
		case !t.trusted(d.OwnerUID):
			return refuse("directory %s is owned by %s, not by %s", shownPath(d.Path), t.who(d.OwnerUID), t.whom())
		case d.Mode.Perm()&0o022 != 0 && (i == 0 || d.Mode&fs.ModeSticky == 0):
			return refuse("directory %s is writable by other users (mode %04o): one of them could replace the socket",
				shownPath(d.Path), d.Mode.Perm())
		}
	}
	if f.PeerUID >= 0 && !t.trusted(f.PeerUID) {
		return refuse("the process serving it runs as %s, not as %s", t.who(f.PeerUID), t.whom())
	}
	return nil
}

func typeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}

// gatherFacts reads SocketFacts (without the peer) of the socket at path.
func gatherFacts(path string) (SocketFacts, error) {
	f := SocketFacts{Path: path, PeerUID: -1}
	if !filepath.IsAbs(path) {
		return f, &SocketRefusedError{Path: path, Reason: "not an absolute path"}
	}
	dialErr := func(err error) error { // as a failed dial says it: "dial unix <path>: <errno>"
		return &net.OpError{Op: "dial", Net: "unix", Addr: &net.UnixAddr{Name: path, Net: "unix"}, Err: unwrapPath(err)}
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return f, dialErr(err)
	}
	f.Path = real
	st, err := os.Lstat(real)
	if err != nil {
		return f, dialErr(err)
	}
	f.Mode, f.OwnerUID = st.Mode(), ownerUID(st)
	for d := filepath.Dir(real); ; d = filepath.Dir(d) {
		st, err := os.Lstat(d)
		if err != nil {
			return f, dialErr(err)
		}
		f.Dirs = append(f.Dirs, DirFacts{Path: d, Mode: st.Mode(), OwnerUID: ownerUID(st)})
		if d == filepath.Dir(d) {
			break
		}
	}
	return f, nil
}

// unwrapPath drops the *fs.PathError around err: the path is in the
// message already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Dial connects to the admin socket at path once Decide trusts it: first
// the file and its directories, then the server's user. Nothing is sent
// before both checks pass.
func (t *SocketTrust) Dial(ctx context.Context, path string) (net.Conn, error) {
	f, err := gatherFacts(path)
	if err != nil {
		return nil, err
	}
	if err := t.Decide(f); err != nil {
		return nil, err
	}
	c, err := (&net.Dialer{}).DialContext(ctx, "unix", f.Path)
	if err != nil {
		return nil, err
	}
	cred, err := peerCred(c)
	if err != nil {
		_ = c.Close()
		return nil, &SocketRefusedError{Path: f.Path, Reason: "cannot read the server's user: " + err.Error()}
	}
	f.PeerUID = cred.uid
	if err := t.Decide(f); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// checkSocketDir is the daemon's check of its socket directory: a real
// directory (not a symbolic link), owned by the daemon's user (euid) or
// root, writable by neither group nor others. Anything else lets another
// user replace the socket, and the daemon refuses to start.
func checkSocketDir(d DirFacts, euid int) error {
	switch {
	case !d.Mode.IsDir():
		return fmt.Errorf("[admin] socket_dir %s is not a directory (%s)", d.Path, typeName(d.Mode))
	case d.OwnerUID != euid && d.OwnerUID != 0:
		return fmt.Errorf("[admin] socket_dir %s is owned by uid %d, not by this daemon's user (uid %d) or root",
			d.Path, d.OwnerUID, euid)
	case d.Mode.Perm()&0o022 != 0:
		return fmt.Errorf("[admin] socket_dir %s is writable by other users (mode %04o): one of them could replace "+
			"the socket; chmod go-w it (systemd's RuntimeDirectory= makes it 0755)", d.Path, d.Mode.Perm())
	}
	return nil
}

// checkSocketParents is the daemon's check of the directories above
// socket_dir, with symbolic links resolved, as the client checks them
// (SocketTrust.Decide): each owned by the daemon's user (euid) or root,
// and writable by neither group nor others unless it has the sticky bit
// (/tmp). A parent another user could write to lets that user move
// socket_dir away and put a directory of their own, or a symbolic link,
// in its place: the daemon would then bind (and remove a stale socket)
// where that user chose, and every client would refuse the socket.
func checkSocketParents(dir string, euid int) error {
	parent, err := filepath.EvalSymlinks(filepath.Dir(dir))
	if err != nil {
		return fmt.Errorf("[admin] socket_dir: %v", err)
	}
	for d := parent; ; d = filepath.Dir(d) {
		st, err := os.Lstat(d)
		if err != nil {
			return fmt.Errorf("[admin] socket_dir: %v", err)
		}
		owner := ownerUID(st)
		switch {
		case !st.IsDir():
			return fmt.Errorf("[admin] socket_dir %s: %s above it is not a directory (%s)", dir, shownPath(d),
				typeName(st.Mode()))
		case owner != euid && owner != 0:
			return fmt.Errorf("[admin] socket_dir %s: directory %s above it is owned by uid %d, not by this "+
				"daemon's user (uid %d) or root: that user could replace socket_dir", dir, shownPath(d), owner, euid)
		case st.Mode().Perm()&0o022 != 0 && st.Mode()&fs.ModeSticky == 0:
			return fmt.Errorf("[admin] socket_dir %s: directory %s above it is writable by other users (mode %04o): "+
				"one of them could replace socket_dir", dir, shownPath(d), st.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// PrepareSocketDir makes socket_dir if it is missing (0755, its parent
// must exist) and checks it and the directories above it (see
// checkSocketDir and checkSocketParents), and checks that the
// daemon runs as root or as a configured socket_user (clients would
// refuse its socket otherwise). A daemon calls it before it starts: an
// error is a configuration problem. Nothing to do without socket_dir.
func (a Config) PrepareSocketDir() error {
	if a.SocketDir == "" {
		return nil
	}
	euid := os.Geteuid()
	if a.SocketUser != "" {
		uid, err := lookupUID(a.SocketUser)
		if err != nil {
			return fmt.Errorf("[admin] socket_user: %v", err)
		}
		if euid != 0 && euid != uid {
			return fmt.Errorf("[admin] socket_user is %s (uid %d) but this daemon runs as uid %d: clients would "+
				"refuse its socket", a.SocketUser, uid, euid)
		}
	}
	if a.SocketGroup != "" {
		if _, err := lookupGID(a.SocketGroup); err != nil {
			return fmt.Errorf("[admin] socket_group: %v", err)
		}
	}
	if err := checkSocketParents(a.SocketDir, euid); err != nil {
		return err
	}
	if err := os.Mkdir(a.SocketDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("[admin] socket_dir: %v", err)
	}
	st, err := os.Lstat(a.SocketDir)
	if err != nil {
		return fmt.Errorf("[admin] socket_dir: %v", err)
	}
	return checkSocketDir(DirFacts{Path: a.SocketDir, Mode: st.Mode(), OwnerUID: ownerUID(st)}, euid)
}
