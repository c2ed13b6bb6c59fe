package peer

import (
	"context"
	"crypto/rand"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redund/redund/internal/peer/peertest"
	"github.com/redund/redund/internal/testutil"
)

// countingListener counts accepted connections (the dialer's attempts).
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func countingListen(t *testing.T) *countingListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &countingListener{Listener: ln}
}

func warnLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "level=WARN") {
			out = append(out, l)
		}
	}
	return out
}

// Nodes with different secrets: the dialer keeps redialing, but each side
// logs one warning (not one per attempt), and the dialer's says "secrets
// differ" without blaming the other node.
func TestMismatchIsLoggedOnce(t *testing.T) {
	llog, llogs := captureLog()
	dlog, dlogs := captureLog()
	ln := countingListen(t)
	startNode(t, &Config{Secret: testSecret}, Options{Listener: ln, Hello: hello("m", "master"), Log: llog})
	dialer(t, &Config{Secret: "a different secret value"}, ln.Addr().String(), Options{Log: dlog})
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return ln.n.Load() >= 6 })
	dw, lw := warnLines(dlogs.String()), warnLines(llogs.String())
	if len(dw) != 1 || !strings.Contains(dw[0], "secrets differ") || strings.Contains(dw[0], "listener does not know") {
		t.Fatalf("dialer warnings after %d attempts:\n%s", ln.n.Load(), strings.Join(dw, "\n"))
	}
	if len(lw) != 1 {
		t.Fatalf("listener warnings after %d attempts:\n%s", ln.n.Load(), strings.Join(lw, "\n"))
	}
}

// While in Mismatch the dialer redials at least three times per
// DownAfter whatever MaxBackoff says, so that a scheme may take "a
// Mismatch within DownAfter" as "the other node is alive".
func TestMismatchRedialsWithinDownAfter(t *testing.T) {
	ln := countingListen(t)
	startNode(t, &Config{Secret: testSecret}, Options{Listener: ln, Hello: hello("m", "master")})
	dialer(t, &Config{Secret: "a different secret value"}, ln.Addr().String(),
		Options{DownAfter: 300 * time.Millisecond, MaxBackoff: 10 * time.Second})
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return ln.n.Load() >= 10 }) // uncapped: 8 attempts at most in 5 s
}

// Mismatch is a sign of life only while the other node answers: once it
// stops, the dialer reports Down, and every repeated Mismatch before that
// was flagged Repeat with a fresh LastHeard.
func TestMismatchEndsWhenTheOtherNodeStops(t *testing.T) {
	ln := countingListen(t)
	l, err := New(&Config{Secret: testSecret}, Options{Listener: ln, Hello: hello("m", "master")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	d, drec := dialer(t, &Config{Secret: "a different secret value"}, ln.Addr().String(), Options{})
	first := drec.waitState(t, Mismatch)
	again := drec.waitState(t, Mismatch)
	if first.Repeat || !again.Repeat || !again.LastHeard.After(first.LastHeard) {
		t.Fatalf("first %+v, again %+v", first, again)
	}
	cancel()
	<-done
	if e := drec.waitState(t, Down); !strings.HasPrefix(e.Reason, "dial") && !strings.HasPrefix(e.Reason, "handshake") {
		t.Fatalf("down reason %q", e.Reason)
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return d.Status().State == Down })
}

// With pinned TLS the listener knows the dialer is the real peer, so a
// secret mismatch is a Mismatch on both sides.
func TestPinnedTLSSecretsDifferIsMismatchOnBothSides(t *testing.T) {
	dir := t.TempDir()
	lc, lk, lfp := peertest.SelfSigned(t, dir, "master")
	dc, dk, dfp := peertest.SelfSigned(t, dir, "backup")
	l, lrec := listener(t, &Config{TLSCert: lc, TLSKey: lk, TLSPeerFingerprint: dfp, Secret: testSecret}, Options{})
	_, drec := dialer(t, &Config{TLSCert: dc, TLSKey: dk, TLSPeerFingerprint: lfp, Secret: "a different secret value"}, l.Addr(), Options{})
	for _, r := range []*recorder{drec, lrec} {
		if e := r.waitState(t, Mismatch); e.Reason != "secrets differ" {
			t.Fatalf("reason %q", e.Reason)
		}
	}
}

// The trade-off of Mismatch: an end without the secret can imitate a node
// with another secret by answering with a well-formed challenge whose
// proof fails. A challenge that is not well-formed is garbage: Down.
func TestMismatchNeedsAWellFormedChallenge(t *testing.T) {
	answer := func(size int) func(net.Conn) {
		return func(c net.Conn) {
			if _, _, err := newFrameReader(c, 1024).readFrame(); err != nil {
				return
			}
			b := make([]byte, size)
			_, _ = rand.Read(b)
			w := newFrameWriter(c)
			_ = w.writeFrame(typeAuthChal, b)
			_ = w.flush()
			_, _, _ = newFrameReader(c, 1024).readFrame() // the dialer's AuthFail
		}
	}
	_, drec := dialer(t, &Config{Secret: testSecret}, fakeListener(t, answer(nonceLen+32)), Options{})
	if e := drec.waitState(t, Mismatch); e.Reason != "secrets differ" {
		t.Fatalf("reason %q", e.Reason)
	}
	_, grec := dialer(t, &Config{Secret: testSecret}, fakeListener(t, answer(nonceLen+5)), Options{})
	if e := grec.waitState(t, Down); !strings.Contains(e.Reason, "bad auth challenge") {
		t.Fatalf("reason %q", e.Reason)
	}
	if grec.sawState(Mismatch) {
		t.Fatal("garbage was taken for a mismatched node")
	}
}

func TestStateNames(t *testing.T) {
	for _, s := range []State{Connecting, Up, Down, Refused, Mismatch} {
		b, _ := s.MarshalText()
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Fatalf("%v: %q -> %v, %v", s, b, back, err)
		}
	}
	if Mismatch.String() != "Mismatch" {
		t.Fatal(Mismatch.String())
	}
}
