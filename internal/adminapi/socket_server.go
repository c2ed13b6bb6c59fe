package adminapi

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/user"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/redund/redund/internal/netlimit"
)

// peerPolicy is who the admin socket serves as if it had the token: root,
// the daemon's own user, and the members of [admin] socket_group.
type peerPolicy struct {
	euid int
	gid  int // -1: no group
}

// allows is the server's authorization decision on a socket client, a pure
// function of its SO_PEERCRED and the member lookup.
func (p peerPolicy) allows(c ucred, memberOf func(uid, gid int) bool) bool {
	switch {
	case c.uid == 0, c.uid == p.euid:
		return true
	case p.gid < 0:
		return false
	}
	return c.gid == p.gid || memberOf(c.uid, p.gid)
}

// memberOf reports whether uid's user has gid among its groups (os/user).
func memberOf(uid, gid int) bool {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return false
	}
	ids, err := u.GroupIds()
	return err == nil && slices.Contains(ids, strconv.Itoa(gid))
}

// peerAddr is the RemoteAddr of a connection to the admin socket: the
// client's user and process, and whether peerPolicy allows it.
type peerAddr struct {
	cred    ucred
	known   bool
	trusted bool
}

func (a peerAddr) Network() string { return "unix" }

func (a peerAddr) String() string {
	if !a.known {
		return "unix:peer-unknown"
	}
	return fmt.Sprintf("unix:uid=%d,pid=%d", a.cred.uid, a.cred.pid)
}

// credListener reads each accepted connection's SO_PEERCRED and hands it
// on as the connection's RemoteAddr (a peerAddr).
type credListener struct {
	net.Listener
	pol peerPolicy
}

func (l credListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cred, err := peerCred(c)
	a := peerAddr{cred: cred, known: err == nil}
	a.trusted = a.known && l.pol.allows(cred, memberOf)
	return &credConn{Conn: c, peer: a}, nil
}

type credConn struct {
	net.Conn
	peer peerAddr
}

func (c *credConn) RemoteAddr() net.Addr { return c.peer }

// peerLimited caps the connections to the admin socket per user of the
// client (SO_PEERCRED), as netlimit caps a TCP listener's per source
// address: every client of a Unix socket has the same address, so one
// user who may connect but is not trusted (a member of the socket's group
// that socket_group does not name) holding PerSrc connections used to
// lock root and the daemon's user out. Each user gets PerSrc; the
// untrusted ones share Total besides, which the connections of trusted
// users (root, the daemon's user, socket_group) do not count against.
type peerLimited struct {
	net.Listener // a credListener
	lim          netlimit.Limits
	mu           sync.Mutex
	untrusted    int // connections of untrusted users, against Total
	perUID       map[int]int
}

func limitPeers(ln net.Listener, lim netlimit.Limits) *peerLimited {
	return &peerLimited{Listener: ln, lim: lim, perUID: map[int]int{}}
}

// Accept returns the next connection within the caps; one over a cap is
// closed at once and Accept waits for the next.
func (l *peerLimited) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		p, _ := c.RemoteAddr().(peerAddr)
		uid := -1 // the user is unknown: all such count as one
		if p.known {
			uid = p.cred.uid
		}
		if l.take(uid, p.trusted) {
			return &limitedConn{Conn: c, release: func() { l.release(uid, p.trusted) }}, nil
		}
		_ = c.Close()
	}
}

func (l *peerLimited) take(uid int, trusted bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if (!trusted && l.lim.Total > 0 && l.untrusted >= l.lim.Total) || (l.lim.PerSrc > 0 && l.perUID[uid] >= l.lim.PerSrc) {
		return false
	}
	if !trusted {
		l.untrusted++
	}
	l.perUID[uid]++
	return true
}

func (l *peerLimited) release(uid int, trusted bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !trusted {
		l.untrusted--
	}
	if l.perUID[uid]--; l.perUID[uid] <= 0 {
		delete(l.perUID, uid)
	}
}

// limitedConn gives its slot back once, on the first Close.
type limitedConn struct {
	net.Conn
	release func()
	once    sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// trustedPeerKey marks the context of a request that came over the admin
// socket from a client peerPolicy allows.
type trustedPeerKey struct{}

// socketConnContext marks requests from an allowed socket client.
func socketConnContext(ctx context.Context, c net.Conn) context.Context {
	if a, ok := c.RemoteAddr().(peerAddr); ok && a.trusted {
		return context.WithValue(ctx, trustedPeerKey{}, a)
	}
	return ctx
}

// trustedPeer reports whether r came over the admin socket from root, the
// daemon's user or a member of socket_group: it may do what the token
// allows.
func trustedPeer(r *http.Request) bool {
	_, ok := r.Context().Value(trustedPeerKey{}).(peerAddr)
	return ok
}

// ListenSocket binds the admin socket at path as well as the TCP listener:
// mode 0660, its group set to group when given (the daemon must be a
// member). A stale socket (nobody accepts on it) is removed; a path that
// something answers on, or that is not a socket, is an error. Call it
// after Listen and after Config.PrepareSocketDir checked the directory.
func (s *Server) ListenSocket(path, group string) error {
	pol := peerPolicy{euid: os.Geteuid(), gid: -1}
	if group != "" {
		gid, err := lookupGID(group)
		if err != nil {
			return fmt.Errorf("status: admin socket: [admin] socket_group: %v", err)
		}
		pol.gid = gid
	}
	if st, err := os.Lstat(path); err == nil {
		if st.Mode().Type() != fs.ModeSocket {
			return fmt.Errorf("status: admin socket %s: exists and is not a socket", path)
		}
		c, err := net.DialTimeout("unix", path, time.Second)
		switch {
		case err == nil:
			_ = c.Close()
			return fmt.Errorf("status: admin socket %s: another process accepts on it (a second daemon on the "+
				"same socket_dir?)", path)
		case !errors.Is(err, syscall.ECONNREFUSED):
			// only a refused connection shows that nothing listens: a
			// live daemon's socket with a full backlog says EAGAIN
			why := err
			var errno syscall.Errno
			if errors.As(err, &errno) {
				why = errno
			}
			return fmt.Errorf("status: admin socket %s: cannot tell whether it is stale (connecting to it: %v); "+
				"remove it if no daemon uses it", path, why)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("status: admin socket: removing the stale one: %w", err)
		}
	}
	raw, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("status: admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		_ = raw.Close()
		return fmt.Errorf("status: admin socket: %w", err)
	}
	if pol.gid >= 0 {
		if err := os.Chown(path, -1, pol.gid); err != nil {
			_ = raw.Close()
			return fmt.Errorf("status: admin socket: giving it to group %s: %w", group, err)
		}
	}
	s.mu.Lock()
	s.sock, s.sockPath = credListener{Listener: raw, pol: pol}, path
	s.mu.Unlock()
	return nil
}

// SocketPath is the admin socket's path ("" without one).
func (s *Server) SocketPath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sockPath
}
