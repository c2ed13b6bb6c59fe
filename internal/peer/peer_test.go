package peer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/redund/redund/internal/peer/peertest"
	"github.com/redund/redund/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSecretLinkCarriesMessagesAndRequests(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	l, lrec := listener(t, cfg, Options{OnRequest: func(_ context.Context, typ byte, b []byte) ([]byte, error) {
		if string(b) == "fail" {
			return nil, errors.New("nope")
		}
		return append([]byte{typ}, b...), nil
	}})
	d, drec := dialer(t, cfg, l.Addr(), Options{})
	up := drec.waitState(t, Up)
	if up.Remote.NodeID != "master-1" || up.Remote.Mode != "master" {
		t.Fatalf("dialer saw remote %+v", up.Remote)
	}
	if e := lrec.waitState(t, Up); e.Remote.NodeID != "backup-1" {
		t.Fatalf("listener saw remote %+v", e.Remote)
	}
	for i := range 100 {
		if err := d.Send(TypeApp+1, fmt.Appendf(nil, "m%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := d.Request(context.Background(), 0x30, []byte("ping"))
	if err != nil || string(resp) != "0ping" {
		t.Fatalf("request: %q %v", resp, err)
	}
	_, err = d.Request(context.Background(), 0x30, []byte("fail"))
	var re *RemoteError
	if !errors.As(err, &re) || re.Msg != "nope" {
		t.Fatalf("want remote error nope, got %v", err)
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return len(lrec.messages()) == 100 })
	for i, m := range lrec.messages() {
		if want := fmt.Sprintf("%cm%03d", TypeApp+1, i); m != want {
			t.Fatalf("message %d = %q, want %q (order lost)", i, m, want)
		}
	}
	if err := d.Send(typePing, nil); err == nil {
		t.Fatal("sending a reserved type must fail")
	}
}

// A dialer whose secret differs from the listener's is in Mismatch
// ("secrets differ", blaming neither side); the listener, which cannot
// tell it from a stranger, counts a drop and reports nothing.
func TestWrongSecretIsMismatchOnDialerDropOnListener(t *testing.T) {
	l, lrec := listener(t, &Config{Secret: testSecret}, Options{})
	_, drec := dialer(t, &Config{Secret: "a different secret value"}, l.Addr(), Options{})
	if e := drec.waitState(t, Mismatch); e.Reason != "secrets differ" {
		t.Fatalf("dialer reason %q", e.Reason)
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return l.Status().Dropped >= 2 })
	if lrec.sawState(Up) || drec.sawState(Up) || len(lrec.messages()) > 0 {
		t.Fatal("a mismatched link must never come up or deliver data")
	}
	if ev := lrec.snapshot(); len(ev) != 1 || ev[0].State != Connecting || l.Status().State != Connecting {
		t.Fatalf("the listener reported a connection it cannot authenticate: %+v", ev)
	}
}

// One node with a secret, the other without (plain, or TLS only): the
// same Mismatch, whichever side has the secret.
func TestAuthModeMismatch(t *testing.T) {
	for _, c := range []struct{ l, d *Config }{
		{&Config{Secret: testSecret}, &Config{Plain: true}},
		{&Config{Plain: true}, &Config{Secret: testSecret}},
	} {
		t.Run(fmt.Sprintf("listener plain=%v dialer plain=%v", c.l.Plain, c.d.Plain), func(t *testing.T) {
			l, lrec := listener(t, c.l, Options{})
			_, drec := dialer(t, c.d, l.Addr(), Options{})
			if e := drec.waitState(t, Mismatch); e.Reason != "secrets differ" {
				t.Fatalf("dialer reason %q", e.Reason)
			}
			testutil.Eventually(t, 5*time.Second, "condition", func() bool { return l.Status().Dropped >= 1 })
			if lrec.sawState(Refused) || lrec.sawState(Mismatch) {
				t.Fatalf("listener events %+v", lrec.snapshot())
			}
		})
	}
}

func TestIncompatibleHelloRefusedWithSameReason(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	llog, lbuf := captureLog()
	l, lrec := listener(t, cfg, Options{Compat: DefaultCompat, Log: llog})
	_, drec := dialer(t, cfg, l.Addr(), Options{Hello: hello("other", "master"), Compat: DefaultCompat})
	de, le := drec.waitState(t, Refused), lrec.waitState(t, Refused)
	if de.Reason != le.Reason || !strings.Contains(de.Reason, `both nodes are in mode "master"`) {
		t.Fatalf("reasons differ or wrong: dialer %q listener %q", de.Reason, le.Reason)
	}
	// the listener refused the dialer's authenticated hello: its event
	// carries that hello; the dialer, refused before it read the
	// listener's, carries none
	if le.Remote.NodeID != "other" || le.Remote.Mode != "master" || de.Remote.NodeID != "" {
		t.Fatalf("remote hellos: listener's event %+v, dialer's %+v", le.Remote, de.Remote)
	}
	// each redial's hello is a sign of life: a Repeat event, not dropped
	testutil.Eventually(t, 10*time.Second, "three repeated Refused events with the hello", func() bool {
		n := 0
		for _, e := range lrec.snapshot() {
			if e.State == Refused && e.Repeat && e.Remote.NodeID == "other" {
				n++
			}
		}
		return n >= 3
	})
	// ... and the log says it once, not on every redial
	if n := strings.Count(lbuf.String(), "peer link refused"); n != 1 {
		t.Fatalf("%d log lines for one refusal repeated:\n%s", n, lbuf.String())
	}
}

func TestTLSWithPinnedCertificates(t *testing.T) {
	dir := t.TempDir()
	lc, lk, lfp := peertest.SelfSigned(t, dir, "master")
	dc, dk, dfp := peertest.SelfSigned(t, dir, "backup")
	_, _, otherFP := peertest.SelfSigned(t, dir, "stranger")
	l, lrec := listener(t, &Config{TLSCert: lc, TLSKey: lk, TLSPeerFingerprint: dfp}, Options{})
	d, drec := dialer(t, &Config{TLSCert: dc, TLSKey: dk, TLSPeerFingerprint: lfp}, l.Addr(), Options{})
	drec.waitState(t, Up)
	lrec.waitState(t, Up)
	if err := d.Send(TypeApp, []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return len(lrec.messages()) == 1 })

	// a dialer pinning another certificate than the listener's
	_, brec := dialer(t, &Config{TLSCert: dc, TLSKey: dk, TLSPeerFingerprint: otherFP}, l.Addr(), Options{})
	if e := brec.waitState(t, Mismatch); e.Reason != "certificates differ" {
		t.Fatalf("reason %q", e.Reason)
	}
	if fp, err := CertFingerprint(lc); err != nil || fp != lfp {
		t.Fatalf("CertFingerprint = %q, %v; want %q", fp, err, lfp)
	}
}

func TestGarbageOnPeerPortIsDropped(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	l, lrec := listener(t, cfg, Options{})
	junks := []string{"GET / HTTP/1.0\r\n\r\n", "\xff\xff\xff\xff\x01zzzz", "\x00\x00\x00\x05\x01RDP1",
		"\x00\x00\x00\x0a\x01RDP1\x09zzzz"} // a malformed protocol 1 hello is garbage, not a version to refuse
	for _, junk := range junks {
		c, err := net.Dial("tcp", l.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte(junk))
		_ = c.SetReadDeadline(time.Now().Add(6 * time.Second))
		if _, err := c.Read(make([]byte, 64)); err == nil {
			t.Fatalf("server answered garbage %q", junk)
		}
		c.Close()
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return l.Status().Dropped == len(junks) })
	_, drec := dialer(t, cfg, l.Addr(), Options{})
	drec.waitState(t, Up)
	lrec.waitState(t, Up)
}

func TestOversizedFrameDropsLinkAndDialerReconnects(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	l, lrec := listener(t, cfg, Options{MaxFrame: 1024})
	d, drec := dialer(t, cfg, l.Addr(), Options{})
	drec.waitState(t, Up)
	lrec.waitState(t, Up)
	if err := d.Send(TypeApp, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	if e := lrec.waitState(t, Down); !strings.Contains(e.Reason, "too large") {
		t.Fatalf("down reason %q", e.Reason)
	}
	lrec.waitState(t, Up) // the dialer came back
}

func TestSilentPeerIsDeclaredDown(t *testing.T) {
	cfg := &Config{Plain: true, PingInterval: 0}
	l, lrec := listener(t, cfg, Options{DownAfter: 300 * time.Millisecond})
	nc, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	s := newShake(nc, cfg, Hello{NodeID: "mute"}, nil, DefaultMaxFrame)
	if _, err := s.dial(); err != nil {
		t.Fatal(err)
	}
	lrec.waitState(t, Up)
	start := time.Now()
	e := lrec.waitState(t, Down)
	if !strings.Contains(e.Reason, "no frame") && !strings.Contains(e.Reason, "missed") {
		t.Fatalf("down reason %q", e.Reason)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("declared down after %v", el)
	}
}

func TestDialerReconnectsAfterListenerRestart(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	rec := newRecorder()
	n, err := New(cfg, Options{Listener: ln, Hello: hello("m", "master"), OnEvent: rec.onEvent})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = n.Run(ctx) }()
	_, drec := dialer(t, cfg, addr, Options{})
	drec.waitState(t, Up)
	cancel()
	<-done
	if e := drec.waitState(t, Down); !strings.Contains(e.Reason, "node stopping") {
		t.Logf("down reason %q", e.Reason)
	}
	listener2 := func() { // same address again
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("cannot rebind %s: %v", addr, err)
		}
		startNode(t, cfg, Options{Listener: ln2, Hello: hello("m", "master")})
	}
	listener2()
	drec.waitState(t, Up)
}

func TestEventsChannel(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	ch := make(chan Event, 16)
	l, _ := listener(t, cfg, Options{Events: ch})
	dialer(t, cfg, l.Addr(), Options{})
	for {
		select {
		case e := <-ch:
			if e.State == Up {
				if e.Remote.NodeID != "backup-1" {
					t.Fatalf("remote %+v", e.Remote)
				}
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no Up on the events channel")
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	cfg := &Config{Plain: true}
	if _, err := New(cfg, Options{Hello: hello("a", "b")}); err == nil {
		t.Fatal("neither listen nor dial must fail")
	}
	if _, err := New(cfg, Options{Dial: "x:1", Listen: "y:2", Hello: hello("a", "b")}); err == nil {
		t.Fatal("both listen and dial must fail")
	}
	if _, err := New(&Config{}, Options{Dial: "x:1", Hello: hello("a", "b")}); err == nil {
		t.Fatal("no auth and not plain must fail")
	}
}

// A listener that pins another certificate than the dialer's: the dialer
// sees Mismatch "certificates differ"; the listener, which cannot tell the
// dialer from a stranger, counts a drop and reports nothing.
func TestListenerRefusingOurCertificateIsMismatch(t *testing.T) {
	dir := t.TempDir()
	lc, lk, lfp := peertest.SelfSigned(t, dir, "master")
	dc, dk, _ := peertest.SelfSigned(t, dir, "backup")
	_, _, strangerFP := peertest.SelfSigned(t, dir, "stranger")
	l, lrec := listener(t, &Config{TLSCert: lc, TLSKey: lk, TLSPeerFingerprint: strangerFP}, Options{})
	_, drec := dialer(t, &Config{TLSCert: dc, TLSKey: dk, TLSPeerFingerprint: lfp}, l.Addr(), Options{})
	if e := drec.waitState(t, Mismatch); e.Reason != "certificates differ" {
		t.Fatalf("dialer reason %q", e.Reason)
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return l.Status().Dropped >= 1 })
	if lrec.sawState(Refused) || lrec.sawState(Mismatch) || drec.sawState(Refused) {
		t.Fatalf("events: listener %+v, dialer %+v", lrec.snapshot(), drec.snapshot())
	}
	if drec.sawState(Up) || lrec.sawState(Up) {
		t.Fatal("link came up with an untrusted certificate")
	}
}

// TestOversizedSendRefusedLocally: a request or a response above the
// sender's MaxFrame is an error for that call only; the link stays up.
func TestOversizedSendRefusedLocally(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	l, lrec := listener(t, cfg, Options{MaxFrame: 1024, OnRequest: func(_ context.Context, _ byte, b []byte) ([]byte, error) {
		if string(b) == "big" {
			return make([]byte, 4096), nil
		}
		return []byte("ok"), nil
	}})
	d, drec := dialer(t, cfg, l.Addr(), Options{MaxFrame: 1024})
	drec.waitState(t, Up)
	lrec.waitState(t, Up)
	if _, err := d.Request(context.Background(), 0x30, make([]byte, 4096)); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized request: %v", err)
	}
	_, err := d.Request(context.Background(), 0x30, []byte("big"))
	var re *RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, "too large") {
		t.Fatalf("oversized response: %v", err)
	}
	if resp, err := d.Request(context.Background(), 0x30, []byte("small")); err != nil || string(resp) != "ok" {
		t.Fatalf("after the refusals: %q %v", resp, err)
	}
	if drec.sawState(Down) || lrec.sawState(Down) {
		t.Fatalf("the link went down: %+v / %+v", drec.snapshot(), lrec.snapshot())
	}
}

// TestAnsweredRequestsLeaveNoGoroutine: the goroutine that ends a handler's
// ctx when the link drops also ends when the handler returns, so a long-lived
// link does not gather one goroutine per request served.
func TestAnsweredRequestsLeaveNoGoroutine(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	l, lrec := listener(t, cfg, Options{OnRequest: func(context.Context, byte, []byte) ([]byte, error) {
		return []byte("ok"), nil
	}})
	d, drec := dialer(t, cfg, l.Addr(), Options{})
	drec.waitState(t, Up)
	lrec.waitState(t, Up)
	for range 20 {
		if _, err := d.Request(context.Background(), 0x30, nil); err != nil {
			t.Fatal(err)
		}
	}
	left := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) { // sleep: poll interval (the failure counts the goroutines left)
		buf := make([]byte, 1<<20)
		left = strings.Count(string(buf[:runtime.Stack(buf, true)]), "(*conn).serveRequest")
		if left == 0 {
			return
		}
	}
	t.Fatalf("%d serveRequest goroutines still running after every request was answered", left)
}

// A connection that does not speak TLS to a TLS listener (HTTP, a port
// scan, a TCP check) is dropped and counted like garbage on a secret link:
// it is not a Refused peer, so an Up link stays Up.
func TestNonTLSOnTLSPeerPortIsDropped(t *testing.T) {
	dir := t.TempDir()
	lc, lk, lfp := peertest.SelfSigned(t, dir, "master")
	dc, dk, dfp := peertest.SelfSigned(t, dir, "backup")
	l, lrec := listener(t, &Config{TLSCert: lc, TLSKey: lk, TLSPeerFingerprint: dfp}, Options{})
	_, drec := dialer(t, &Config{TLSCert: dc, TLSKey: dk, TLSPeerFingerprint: lfp}, l.Addr(), Options{})
	drec.waitState(t, Up)
	lrec.waitState(t, Up)
	for _, junk := range []string{"GET / HTTP/1.0\r\n\r\n", ""} {
		c, err := net.Dial("tcp", l.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte(junk))
		c.Close()
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return l.Status().Dropped == 2 })
	if lrec.sawState(Refused) || lrec.sawState(Down) || l.Status().State != Up {
		t.Fatalf("a non-TLS connection changed the link: %+v", lrec.snapshot())
	}
}

// A stranger refused while the link is up (wrong secret here) is counted
// and logged by the listener, not reported: the working link stays Up. The
// stranger itself sees Mismatch.
func TestRefusalWhileUpLeavesLinkUp(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	l, lrec := listener(t, cfg, Options{})
	_, drec := dialer(t, cfg, l.Addr(), Options{})
	drec.waitState(t, Up)
	lrec.waitState(t, Up)
	_, srec := dialer(t, &Config{Secret: "a different secret of 16+"}, l.Addr(), Options{})
	if e := srec.waitState(t, Mismatch); e.Reason != "secrets differ" {
		t.Fatalf("stranger's reason %q", e.Reason)
	}
	testutil.Eventually(t, 5*time.Second, "condition", func() bool { return l.Status().Dropped >= 1 })
	if lrec.sawState(Refused) || lrec.sawState(Down) || l.Status().State != Up || drec.sawState(Down) {
		t.Fatalf("the stranger changed the link: listener %+v, dialer %+v", lrec.snapshot(), drec.snapshot())
	}
}

// TestRequestsServedAtOnceBounded: the requests of a peer served at once
// are bounded (maxServing); one beyond the bound is answered at once with
// a busy error, and the link stays up. Each request had a goroutine of its
// own with no bound: a peer (authenticated, but buggy or compromised)
// could pile up one per request held by its handler.
func TestRequestsServedAtOnceBounded(t *testing.T) {
	cfg := &Config{Secret: testSecret}
	release := make(chan struct{})
	var inHandler atomic.Int64
	l, lrec := listener(t, cfg, Options{OnRequest: func(ctx context.Context, _ byte, _ []byte) ([]byte, error) {
		inHandler.Add(1)
		defer inHandler.Add(-1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return []byte("ok"), nil
	}})
	d, drec := dialer(t, cfg, l.Addr(), Options{})
	drec.waitState(t, Up)
	lrec.waitState(t, Up)
	const n = maxServing + 40
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := d.Request(context.Background(), 0x30, nil)
			errs <- err
		}()
	}
	busy := 0
	for range n - maxServing { // the ones beyond the bound come back at once
		var err error
		select {
		case err = <-errs:
		case <-time.After(10 * time.Second):
			close(release)
			t.Fatalf("%d requests in the handler at once and no busy answer", inHandler.Load())
		}
		var re *RemoteError
		if !errors.As(err, &re) || !strings.Contains(re.Msg, "busy") {
			t.Fatalf("a request beyond the bound: %v, want a busy error", err)
		}
		busy++
	}
	if got := inHandler.Load(); got > maxServing {
		t.Fatalf("%d requests in the handler at once, bound %d", got, maxServing)
	}
	close(release)
	for range maxServing {
		if err := <-errs; err != nil {
			t.Fatalf("a request within the bound: %v", err)
		}
	}
	if drec.sawState(Down) || lrec.sawState(Down) {
		t.Fatal("the link went down")
	}
}
