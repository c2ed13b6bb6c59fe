package peer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
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

// readAll returns the frames the listener sends on c until it closes it.
func readAll(t *testing.T, c net.Conn) (frames [][]byte) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := newFrameReader(c, preAuthMaxFrame)
	for {
		typ, b, err := r.readFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the listener neither answered nor closed within 5s")
			}
			return frames
		}
		frames = append(frames, append([]byte{typ}, b...))
	}
}

// A connector that has not proved the secret gets nothing from the
// listener but an AuthFail code (or a close): no challenge, no HMAC of
// the listener's, nothing to test guesses of the secret on offline.
// Protocol 1 sent the listener's proof to whoever sent a nonce.
func TestStrangerGetsNoHMACFromTheListener(t *testing.T) {
	l, _ := listener(t, &Config{Secret: testSecret}, Options{})
	stale := validFirst(time.Now().Add(-time.Hour))
	copy(stale[len(stale)-proofLen:], nonce())
	for name, first := range map[string][]byte{
		"protocol 1 hello":    append([]byte("RDP1\x01"), nonce()...),
		"protocol 3 hello":    append([]byte("RDP3\x01"), nonce()...),
		"random proof":        strangerFirst(),
		"stale, random proof": stale,
		"plain":               encodeFirst(nil, nil, time.Now()),
	} {
		c := rawConn(t, "", l.Addr())
		sendFrame(t, c, typeAuthHello, first)
		frames := readAll(t, c)
		if len(frames) > 1 || (len(frames) == 1 && (frames[0][0] != typeAuthFail || len(frames[0]) > 3)) {
			t.Errorf("%s: the listener sent %x", name, frames)
		}
	}
}

// A first frame made with the secret is answered (the challenge) once;
// the same frame again, as someone who captured it would send it, gets
// a close and nothing else, and is a counted drop.
func TestReplayedFirstFrameIsRefused(t *testing.T) {
	l, _ := listener(t, &Config{Secret: testSecret}, Options{})
	first := validFirst(time.Now())
	c := rawConn(t, "", l.Addr())
	sendFrame(t, c, typeAuthHello, first)
	if typ, b, err := newFrameReader(c, 1024).readFrame(); err != nil || typ != typeAuthChal || len(b) != nonceLen+32 {
		t.Fatalf("a first frame with the secret: %#x %x, %v; want the challenge", typ, b, err)
	}
	again := rawConn(t, "", l.Addr())
	sendFrame(t, again, typeAuthHello, first)
	if frames := readAll(t, again); len(frames) != 0 {
		t.Fatalf("the replay was answered: %x", frames)
	}
	testutil.Eventually(t, 5*time.Second, "the replay counted as a drop", func() bool { return l.Status().Dropped == 1 })
}

// A first frame signed more than 60 s before or after the listener's
// clock is refused with the clock code, whatever its proof.
func TestStaleFirstFrameIsRefused(t *testing.T) {
	log, logs := captureLog()
	l, _ := listener(t, &Config{Secret: testSecret}, Options{Log: log})
	for _, off := range []time.Duration{-2 * time.Minute, 2 * time.Minute} {
		c := rawConn(t, "", l.Addr())
		sendFrame(t, c, typeAuthHello, validFirst(time.Now().Add(off)))
		if frames := readAll(t, c); len(frames) != 1 || !bytes.Equal(frames[0], []byte{typeAuthFail, failClock}) {
			t.Fatalf("signed %v away: the listener sent %x; want the clock code", off, frames)
		}
	}
	testutil.Eventually(t, 5*time.Second, "two drops", func() bool { return l.Status().Dropped == 2 })
	if !strings.Contains(logs.String(), reasonClock) {
		t.Fatalf("the drop does not say why:\n%s", logs)
	}
}

// A backup whose clock is two minutes ahead reaches a live master that
// refuses its time: Mismatch (alive), with a reason that names the clocks.
func TestDialerWithAClockOffReportsMismatch(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	l, _ := listener(t, cfg, Options{})
	_, drec := startNodeWith(t, cfg, Options{Dial: l.Addr(), Hello: hello("backup-1", "backup")},
		func(n *Node) { n.now = func() time.Time { return time.Now().Add(2 * time.Minute) } })
	if e := drec.waitState(t, Mismatch); e.Reason != reasonClock {
		t.Fatalf("reason %q", e.Reason)
	}
}

// Nodes of different protocol versions are told apart from strangers and
// from other secrets. A protocol 1 node is answered with the code it
// reads as "secrets differ" (so an old backup stays standby), and this
// node logs the versions; a later version is answered with its version,
// and a dialer that receives that code reports the other's version.
func TestOtherProtocolVersionIsRefused(t *testing.T) {
	log, logs := captureLog()
	l, _ := listener(t, &Config{Secret: testSecret}, Options{Log: log})
	c := rawConn(t, "", l.Addr())
	sendFrame(t, c, typeAuthHello, append([]byte("RDP1\x01"), nonce()...))
	if frames := readAll(t, c); len(frames) != 1 || !bytes.Equal(frames[0], []byte{typeAuthFail, failSecretsDiffer}) {
		t.Fatalf("protocol 1 hello answered with %x", frames)
	}
	testutil.Eventually(t, 5*time.Second, "the drop logged", func() bool {
		return strings.Contains(logs.String(), "the other node speaks peer protocol 1: run the same redund version on both nodes")
	})
	c = rawConn(t, "", l.Addr())
	sendFrame(t, c, typeAuthHello, append([]byte("RDP3\x01"), nonce()...))
	if frames := readAll(t, c); len(frames) != 1 || !bytes.Equal(frames[0], []byte{typeAuthFail, failVersion, protoVersion}) {
		t.Fatalf("protocol 3 hello answered with %x", frames)
	}

	v3 := fakeListener(t, func(c net.Conn) {
		if _, _, err := newFrameReader(c, 1024).readFrame(); err == nil {
			w := newFrameWriter(c)
			_ = w.writeFrame(typeAuthFail, []byte{failVersion, 3})
			_ = w.flush()
		}
	})
	_, drec := dialer(t, &Config{Secret: testSecret}, v3, Options{})
	if e := drec.waitState(t, Mismatch); e.Reason != "the other node speaks peer protocol 3: run the same redund version on both nodes" {
		t.Fatalf("reason %q", e.Reason)
	}
}

// A backup upgraded before its master (the order of the rolling upgrade)
// dials a protocol 1 node, which closes on the new first frame without a
// word. The backup asks it, with a plain protocol 1 hello, whether it is
// an old redund node: it answers "this node needs a secret", so the
// backup reports Mismatch (the master is alive: a gateway backup stays
// standby) with the versions, instead of Down.
func TestBackupReportsAnOldMaster(t *testing.T) {
	v1 := fakeListener(t, func(c net.Conn) { // what a protocol 1 listener with a secret does
		_, b, err := newFrameReader(c, 1024).readFrame()
		if err == nil && string(b) == "RDP1\x00" {
			w := newFrameWriter(c)
			_ = w.writeFrame(typeAuthFail, []byte{failNeedSecret})
			_ = w.flush()
		}
	})
	_, drec := dialer(t, &Config{Secret: testSecret}, v1, Options{})
	if e := drec.waitState(t, Mismatch); e.Reason != reasonVersion(1) {
		t.Fatalf("reason %q", e.Reason)
	}
	if drec.sawState(Down) {
		t.Fatalf("events %+v", drec.snapshot())
	}

	// a silent close from anything else stays Down, with a reason that
	// says what it may be
	mute := fakeListener(t, func(c net.Conn) { _, _, _ = newFrameReader(c, 1024).readFrame() })
	_, mrec := dialer(t, &Config{Secret: testSecret}, mute, Options{})
	e := mrec.waitState(t, Down)
	for strings.HasPrefix(e.Reason, "dial") {
		e = mrec.waitState(t, Down)
	}
	if !strings.Contains(e.Reason, "without answering the first frame") || mrec.sawState(Mismatch) {
		t.Fatalf("reason %q, events %+v", e.Reason, mrec.snapshot())
	}
}
