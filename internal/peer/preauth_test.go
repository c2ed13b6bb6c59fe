package peer

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// strangerFirst is a well-formed first frame of a dialer with a secret,
// made by someone who does not know it (its proof is random).
func strangerFirst() []byte {
	b := encodeFirst([]byte("not the secret"), nonce(), time.Now())
	copy(b[len(b)-proofLen:], nonce())
	return b
}

// validFirst is a first frame made with testSecret, signed at sent.
func validFirst(sent time.Time) []byte {
	return encodeFirst([]byte(testSecret), nonce(), sent)
}

// dribble announces a valid first frame and then sends it one byte per
// 100 ms (a slow connection) until stop or an error.
func dribble(c net.Conn, stop <-chan struct{}) {
	body := append([]byte{typeAuthHello}, strangerFirst()...)
	if _, err := c.Write([]byte{0, 0, 0, byte(len(body))}); err != nil {
		return
	}
	for _, b := range body {
		select {
		case <-stop:
			return
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := c.Write([]byte{b}); err != nil {
			return
		}
	}
}

// floodFrom opens connections from src as fast as a 5 ms pause allows
// until stop, holding the newest 8 open (a stranger redialling).
func floodFrom(src, addr string, stop <-chan struct{}) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: time.Second}
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for {
		select {
		case <-stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			continue
		}
		if held = append(held, c); len(held) > 8 {
			held[0].Close()
			held = held[1:]
		}
	}
}

// TestHandshakeFloodDoesNotDelayThePeer: idle and slow connections from
// eight other sources (127.0.0.2-9; Linux routes 127/8 to lo), half again
// as many as the listener has handshake slots, plus a ninth source that
// keeps dialing while the peer connects. The peer's link comes up while
// flood connections are still open, so it waited for none of their
// deadlines; the connections the flood lost to eviction are counted.
func TestHandshakeFloodDoesNotDelayThePeer(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	// a first-frame deadline longer than the test needs, so that "still
	// open" means "not waited for" even on a loaded machine
	l, lrec := startNodeWith(t, cfg, Options{Listen: "127.0.0.1:0", Hello: hello("master-1", "master")},
		func(n *Node) { n.firstFrame = 4 * time.Second })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	var standing []net.Conn
	for i := 2; i <= 9; i++ {
		for j := range 6 {
			c := rawConn(t, fmt.Sprintf("127.0.0.%d", i), l.Addr())
			standing = append(standing, c)
			if j%2 == 1 {
				wg.Add(1)
				go func() { defer wg.Done(); dribble(c, stop) }()
			}
		}
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return l.Status().Dropped >= 16 }) // 48 connections, 4 slots per source
	wg.Add(1)
	go func() { defer wg.Done(); floodFrom("127.0.0.10", l.Addr(), stop) }()

	_, drec := dialer(t, cfg, l.Addr(), Options{})
	drec.waitState(t, Up)
	lrec.waitState(t, Up)
	open := 0
	for _, c := range standing {
		if isOpen(c) {
			open++
		}
	}
	if open == 0 {
		t.Fatal("the link came up only after the flood's connections were closed")
	}
	t.Logf("link up with %d of %d flood connections still open, %d dropped", open, len(standing), l.Status().Dropped)
}

// An idle connection, and one that sends a valid first frame too slowly,
// lose their slot at the first-frame deadline (1 s), well before the 5 s
// handshake timeout; both are counted drops without an event.
func TestFirstFrameDeadline(t *testing.T) {
	l, lrec := listener(t, &Config{Secret: testSecret}, Options{})
	idle := rawConn(t, "", l.Addr())
	slow := rawConn(t, "", l.Addr())
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); dribble(slow, stop) }()
	t.Cleanup(func() { close(stop); <-done })
	start := time.Now()
	for _, c := range []net.Conn{idle, slow} {
		waitClosed(t, c)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("closed after %v; the first frame has 1s", el)
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return l.Status().Dropped == 2 })
	if ev := lrec.snapshot(); len(ev) != 1 {
		t.Fatalf("events %+v", ev)
	}
}

// Before authentication a frame may not exceed 64 KiB: a connection that
// announces 1 MiB is dropped on the length alone (the node neither waits
// for nor allocates the body) and counted, without an event.
func TestPreAuthFrameAbove64KiBDroppedUnread(t *testing.T) {
	log, logs := captureLog()
	l, lrec := listener(t, &Config{Secret: testSecret}, Options{Log: log})
	c := rawConn(t, "", l.Addr())
	if _, err := c.Write([]byte{0, 0x10, 0, 0, typeAuthHello}); err != nil { // 1 MiB
		t.Fatal(err)
	}
	waitClosed(t, c)
	testutil.Eventually(t, 5*time.Second, "one drop", func() bool { return l.Status().Dropped == 1 })
	// the drop is counted before its log line is written: wait for the line
	testutil.Eventually(t, 5*time.Second, "the drop logged as for the frame's length", func() bool {
		return strings.Contains(logs.String(), "frame too large before authentication")
	})
	if ev := lrec.snapshot(); len(ev) != 1 {
		t.Fatalf("events %+v", ev)
	}
}

// After authentication the limit is Options.MaxFrame again.
func TestFrameAbovePreAuthLimitAfterUp(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	l, lrec := listener(t, cfg, Options{})
	d, drec := dialer(t, cfg, l.Addr(), Options{})
	drec.waitState(t, Up)
	lrec.waitState(t, Up)
	if err := d.Send(TypeApp, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return len(lrec.messages()) == 1 })
	if lrec.sawState(Down) {
		t.Fatalf("the link dropped: %+v", lrec.snapshot())
	}
}

const evil = "\x1b[31mEVIL"

// Whatever an unauthenticated connection sends, a Refuse frame with
// terminal escapes included, is a counted drop: no event, no state
// change, and its text appears nowhere (status, events, log).
func TestStrangersRefuseBeforeAuthIsADrop(t *testing.T) {
	log, logs := captureLog()
	l, lrec := listener(t, &Config{Secret: testSecret}, Options{Log: log})
	attempts := []func(c net.Conn){
		func(c net.Conn) { // after the answer to a first frame without the secret
			sendFrame(t, c, typeAuthHello, strangerFirst())
			if typ, b, err := newFrameReader(c, 1024).readFrame(); err != nil || typ != typeAuthFail || len(b) != 1 {
				t.Fatalf("first frame answered with %#x %x, %v; want an AuthFail code", typ, b, err)
			}
			sendFrame(t, c, typeRefuse, []byte(evil))
		},
		func(c net.Conn) { sendFrame(t, c, typeRefuse, []byte(evil)) }, // as the first frame
		func(c net.Conn) { // a plain hello, refused by the node, then text
			sendFrame(t, c, typeAuthHello, encodeFirst(nil, nil, time.Now()))
			sendFrame(t, c, typeRefuse, []byte(evil))
		},
		func(c net.Conn) { // imitating a node with another secret
			sendFrame(t, c, typeAuthHello, strangerFirst())
			sendFrame(t, c, typeAuthFail, []byte{failSecretsDiffer})
		},
	}
	for _, attempt := range attempts {
		c := rawConn(t, "", l.Addr())
		attempt(c)
		waitClosed(t, c)
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return l.Status().Dropped == len(attempts) })
	st := l.Status()
	if ev := lrec.snapshot(); len(ev) != 1 || st.State != Connecting {
		t.Fatalf("a stranger changed the link: state %v, events %+v", st.State, ev)
	}
	if strings.Contains(fmt.Sprintf("%+v", st), "EVIL") || strings.Contains(logs.String(), "EVIL") {
		t.Fatalf("the stranger's text was shown: %+v\n%s", st, logs)
	}
}

// fakeListener accepts one connection at a time on 127.0.0.1 and runs
// answer on it (a stranger where the peer should be).
func fakeListener(t *testing.T, answer func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			answer(c)
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// A dialer shows no text from an end that has not authenticated either:
// a Refuse before the challenge is a plain Down.
func TestDialerShowsNoUnauthenticatedText(t *testing.T) {
	addr := fakeListener(t, func(c net.Conn) {
		if _, _, err := newFrameReader(c, 1024).readFrame(); err == nil {
			w := newFrameWriter(c)
			_ = w.writeFrame(typeRefuse, []byte(evil))
			_ = w.flush()
		}
	})
	d, drec := dialer(t, &Config{Secret: testSecret}, addr, Options{})
	e := drec.waitState(t, Down)
	for e.Reason == "" || strings.HasPrefix(e.Reason, "dial") {
		e = drec.waitState(t, Down)
	}
	if strings.Contains(fmt.Sprintf("%+v %+v", drec.snapshot(), d.Status()), "EVIL") || drec.sawState(Refused) {
		t.Fatalf("the stranger's text or refusal was reported: %+v", drec.snapshot())
	}
}

// Text from an authenticated peer is shown with control characters
// removed: a refusal reason and the Hello's strings.
func TestPeerTextIsCleaned(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	l, lrec := listener(t, cfg, Options{Compat: func(_, remote Hello) error {
		if remote.Mode == "bad" {
			return fmt.Errorf("no\x1b[2J thanks\x07\u202e")
		}
		return nil
	}})
	_, brec := dialer(t, cfg, l.Addr(), Options{Hello: hello("x", "bad")})
	if e := brec.waitState(t, Refused); e.Reason != "no[2J thanks" {
		t.Fatalf("reason %q", e.Reason)
	}
	dialer(t, cfg, l.Addr(), Options{Hello: func() Hello {
		return Hello{NodeID: "backup\x1b]0;owned\x07", Mode: "backup", App: map[string]string{"role\x1b": "\u009bactive"}}
	}})
	e := lrec.waitState(t, Up)
	if e.Remote.NodeID != "backup]0;owned" || e.Remote.App["role"] != "active" {
		t.Fatalf("remote %+v", e.Remote)
	}
}

func TestReasonBounded(t *testing.T) {
	if got := reason([]byte(strings.Repeat("x", 1000))); len(got) != maxReason {
		t.Errorf("reason kept %d bytes", len(got))
	}
}

func TestPickVictim(t *testing.T) {
	// "src", "src*" (authenticated), "src+" (a known source) or "src!" (a
	// known source, from the known address)
	v := func(specs ...string) []slotView {
		var out []slotView
		for _, s := range specs {
			out = append(out, slotView{src: strings.TrimRight(s, "*+!"), authed: strings.HasSuffix(s, "*"),
				known: strings.HasSuffix(s, "+") || strings.HasSuffix(s, "!"), knownAddr: strings.HasSuffix(s, "!")})
		}
		return out
	}
	for _, c := range []struct {
		name string
		live []slotView
		src  string
		want int
	}{
		{"empty", nil, "a", fitsNew},
		{"room", v("a", "b", "a"), "a", fitsNew},
		{"source full: its own oldest", v("b", "a", "c", "a", "a"), "a", 1},
		{"source full: skips authenticated", v("a*", "b", "a", "a"), "a", 2},
		{"source full of authenticated", v("a*", "a*", "a*"), "a", refuseNew},
		{"table full: busiest source", v("p", "a", "b", "b", "a", "b"), "c", 2},
		{"table full: tie, oldest of the busiest", v("p", "b", "a", "a", "b"), "c", 1},
		{"table full: authenticated not counted", v("a*", "a*", "b", "p", "b"), "c", 2},
		{"table full of authenticated", v("a*", "b*", "p*", "d*", "e*"), "c", refuseNew},
		{"table full: tie, a known source spared", v("p+", "a", "b", "d", "e"), "c", 1},
		{"table full: known spared over busiest", v("p+", "p+", "a", "b", "d"), "c", 2},
		{"table full of known sources: busiest", v("p+", "q+", "q+", "p+", "q+"), "c", 1},
		{"known source full: its own oldest", v("a", "p+", "p+", "p+", "b"), "p", 1},
		{"known source full: the known address last", v("p!", "p+", "p+", "b"), "p", 1},
		{"known source full of the known address", v("p!", "p!", "p!", "b"), "p", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := pickVictim(c.live, c.src, 3, 5); got != c.want {
				t.Errorf("%s: pickVictim = %d, want %d", c.name, got, c.want)
			}
		})
	}
}

func TestSourceKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:5000":             "192.0.2.7/32",
		"[::ffff:192.0.2.7]:5000":    "192.0.2.7/32",
		"[2001:db8:1:2:3:4:5:6]:80":  "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
	} {
		t.Run(in, func(t *testing.T) {
			a, err := net.ResolveTCPAddr("tcp", in)
			if err != nil {
				t.Fatal(err)
			}
			if got := sourceKey(a); got != want {
				t.Errorf("sourceKey(%s) = %q, want %q", in, got, want)
			}
		})
	}
}

// TestStrangerCostsLittleMemory: what a connection that has not
// authenticated makes the listener allocate is bounded by what a first
// frame needs, not by the 64 KiB pre-authentication frame limit: small
// buffers, and a first frame announced larger than any first frame is
// dropped on its length (before, each stranger's connection cost 128 KiB
// of buffers at once and 64 KiB more for five bytes announcing a frame of
// that size: a flood of connections that each evict the oldest made the
// listener allocate some 40,000 times what the stranger sent). The
// buffers grow once the link is up.
func TestStrangerCostsLittleMemory(t *testing.T) {
	cases := []struct {
		name   string
		length int // announced length of the first frame
	}{
		{"announces 60 KiB", 60 << 10},
		{"announces 2 KiB", 2 << 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer b.Close()
			s := newShake(a, &Config{Secret: testSecret}, Hello{NodeID: "m"}, nil, DefaultMaxFrame)
			s.nonces = newFirstNonces()
			done := make(chan error, 1)
			go func() { _, err := s.accept(); a.Close(); done <- err }()
			hdr := []byte{byte(c.length >> 24), byte(c.length >> 16), byte(c.length >> 8), byte(c.length), typeAuthHello}
			_, _ = b.Write(hdr)
			b.Close()
			err := <-done
			if !errors.Is(err, ErrFrameTooLarge) {
				t.Errorf("err %v, want a frame too large", err)
			}
			if s.r.largest > maxFirstFrame {
				t.Errorf("allocated %d bytes for the first frame", s.r.largest)
			}
			if rs, ws := s.r.r.Size(), s.w.w.Size(); rs > preAuthBuffer || ws > preAuthBuffer {
				t.Errorf("buffers of %d and %d bytes before authentication", rs, ws)
			}
		})
	}
	t.Run("buffers grow once up", func(t *testing.T) {
		cfg := &Config{Secret: testSecret}
		l, lrec := listener(t, cfg, Options{})
		_, drec := dialer(t, cfg, l.Addr(), Options{})
		drec.waitState(t, Up)
		lrec.waitState(t, Up)
		c := l.current()
		if c == nil {
			t.Fatal("no connection")
		}
		if rs, ws := c.s.r.r.Size(), c.s.w.w.Size(); rs != linkBuffer || ws != linkBuffer {
			t.Errorf("buffers of %d and %d bytes on the link", rs, ws)
		}
	})
}
