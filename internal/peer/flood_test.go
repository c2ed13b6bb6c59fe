package peer

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/peer/peertest"
	"github.com/redund/redund/internal/testutil"
)

// gateProxy forwards each connection to target. On each it calls the
// function newHold returns before it passes on every chunk the listener
// sends (the first one answers the dialer's first frame): whatever it
// does happens while the dialer's handshake is in flight.
func gateProxy(t *testing.T, target string, newHold func() func()) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(u, c); u.Close(); c.Close() }()
			go func() { defer wg.Done(); gateCopy(c, u, newHold()); u.Close(); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// gateCopy copies src to dst, running hold before each write.
func gateCopy(dst, src net.Conn, hold func()) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			hold()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// onFirst returns a newHold for gateProxy that runs f before the first
// chunk of each connection only.
func onFirst(f func()) func() func() {
	return func() func() {
		done := false
		return func() {
			if !done {
				done = true
				f()
			}
		}
	}
}

// idleFlood opens connections that send nothing, each from a new
// 127.1.x.y address, and keeps them open until the test ends.
type idleFlood struct {
	t    *testing.T
	addr string
	next atomic.Uint32
	mu   sync.Mutex
	held []net.Conn
}

// wave opens n connections and waits until the listener l has dropped
// at least evicted more connections than before (the evictions they
// caused; an idle connection is dropped no other way before the
// first-frame deadline, which the tests raise).
func (f *idleFlood) wave(l *Node, n, evicted int) {
	before := l.Status().Dropped
	for range n {
		i := f.next.Add(1)
		src := fmt.Sprintf("127.1.%d.%d", i/200%200+1, i%200+1)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", f.addr)
		if err != nil {
			f.t.Errorf("cannot dial from %s (Linux routes 127/8 to lo): %v", src, err)
			return
		}
		f.mu.Lock()
		f.held = append(f.held, c)
		f.mu.Unlock()
	}
	testutil.Eventually(f.t, 10*time.Second, "the flood's evictions", func() bool {
		return l.Status().Dropped >= before+evicted
	})
}

// open counts the flood's connections the listener still holds open.
func (f *idleFlood) open() (open, total int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.held {
		if isOpen(c) {
			open++
		}
	}
	return open, len(f.held)
}

func (f *idleFlood) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.held {
		c.Close()
	}
}

// floodDuringHandshake starts a listener (firstFrame raised so that the
// flood's idle connections stay open), and a backup that dials it through
// a gate: on every connection, after the listener has read the backup's
// first frame, flood runs a wave. It returns once the backup is Up.
func floodDuringHandshake(t *testing.T, cfg *Config, opts Options, wave func(l *Node, f *idleFlood)) (*idleFlood, *recorder) {
	opts.Hello = hello("master-1", "master")
	if opts.Listener == nil {
		opts.Listen = "127.0.0.1:0"
	}
	l, _ := startNodeWith(t, cfg, opts, func(n *Node) { n.firstFrame = 20 * time.Second })
	f := &idleFlood{t: t, addr: l.Addr()}
	t.Cleanup(f.close)
	via := gateProxy(t, l.Addr(), onFirst(func() { wave(l, f) }))
	_, drec := dialer(t, cfg, via, Options{})
	drec.waitState(t, Up)
	return f, drec
}

// checkFloodStillOpen: the backup came up on its first connection, while
// the flood's connections were open (it waited for none of them).
func checkFloodStillOpen(t *testing.T, f *idleFlood, drec *recorder) {
	t.Helper()
	if drec.sawState(Down) {
		t.Fatalf("the backup's first connection did not come up: %+v", drec.snapshot())
	}
	if open, total := f.open(); open == 0 {
		t.Fatalf("none of the flood's %d connections is open", total)
	} else {
		t.Logf("up with %d of the flood's %d connections open", open, total)
	}
}

// The attack the review found: a master that has not seen its backup
// since it started has no known source to spare. 64 connections from 64
// new addresses (twice the table) arrive while the backup's handshake is
// in flight, on every attempt. Before protocol 2 the backup's handshake
// was the oldest unauthenticated one and was evicted every time (never
// Up); now its first frame has proved the secret before the flood, and a
// verified handshake is never evicted by an unverified one.
func TestFloodFromManySourcesSparesAVerifiedFirstFrame(t *testing.T) {
	f, drec := floodDuringHandshake(t, &Config{Secret: testSecret}, Options{}, func(l *Node, f *idleFlood) {
		f.wave(l, 2*maxHandshakes, maxHandshakes+1) // at least 64-31 evictions
	})
	checkFloodStillOpen(t, f, drec)
}

// v6Listener shows every connection to the node with an IPv6 remote
// address in 2001:db8::/64: 127.0.0.1 (the backup, through the gate) is
// 2001:db8::b, 127.1.x.y (the flood) 2001:db8::1:x:y. Real sockets, one
// /64 as the slot table sees it.
type v6Listener struct{ net.Listener }

func (l v6Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	a := c.RemoteAddr().(*net.TCPAddr)
	ip := a.IP.To4()
	remote := fmt.Sprintf("[2001:db8::b]:%d", a.Port)
	if ip[1] == 1 {
		remote = fmt.Sprintf("[2001:db8::1:%x:%x]:%d", ip[2], ip[3], a.Port)
	}
	return v6Conn{Conn: c, remote: remote}, nil
}

// The same from the backup's own /64 (any host of an IPv6 LAN): four
// handshakes fill the source, and each new one evicted the source's oldest
// unauthenticated handshake, the backup's, on a master that had not seen
// it. Now the backup's verified first frame keeps its slot.
func TestFloodFromTheBackupsSlash64SparesAVerifiedFirstFrame(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f, drec := floodDuringHandshake(t, &Config{Secret: testSecret}, Options{Listener: v6Listener{ln}}, func(l *Node, f *idleFlood) {
		f.wave(l, 2*maxPerSource, maxPerSource+1) // at least 8-3 evictions
	})
	checkFloodStillOpen(t, f, drec)
}

// With pinned TLS and no secret the certificate authenticates the dialer:
// once it matched the pin, the handshake has the same precedence.
func TestFloodSparesACertificateVerifiedHandshake(t *testing.T) {
	dir := t.TempDir()
	lc, lk, lfp := peertest.SelfSigned(t, dir, "master")
	dc, dk, dfp := peertest.SelfSigned(t, dir, "backup")
	lcfg := &Config{TLSCert: lc, TLSKey: lk, TLSPeerFingerprint: dfp}
	l, _ := startNodeWith(t, lcfg, Options{Listen: "127.0.0.1:0", Hello: hello("master-1", "master")},
		func(n *Node) { n.firstFrame = 20 * time.Second })
	f := &idleFlood{t: t, addr: l.Addr()}
	t.Cleanup(f.close)
	via := gateProxy(t, l.Addr(), func() func() {
		// TLS answers before it has seen the dialer's certificate: flood
		// before the first chunk sent after the listener checked it
		done := false
		return func() {
			if !done && l.slots.anyAuthed() {
				done = true
				f.wave(l, 2*maxHandshakes, maxHandshakes+1)
			}
		}
	})
	_, drec := dialer(t, &Config{TLSCert: dc, TLSKey: dk, TLSPeerFingerprint: lfp}, via, Options{})
	drec.waitState(t, Up)
	checkFloodStillOpen(t, f, drec)
}

// anyAuthed reports whether a live slot holds a verified connection.
func (t *slotTable) anyAuthed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.live {
		if l.authed {
			return true
		}
	}
	return false
}
