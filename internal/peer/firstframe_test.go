package peer

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

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
		t.Run(name, func(t *testing.T) {
			c := rawConn(t, "", l.Addr())
			sendFrame(t, c, typeAuthHello, first)
			frames := readAll(t, c)
			if len(frames) > 1 || (len(frames) == 1 && (frames[0][0] != typeAuthFail || len(frames[0]) > 3)) {
				t.Errorf("%s: the listener sent %x", name, frames)
			}
		})
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
	// the drop is counted before its log line is written: wait for the line
	testutil.Eventually(t, 5*time.Second, "the drop logged with its reason", func() bool {
		return strings.Contains(logs.String(), reasonClock)
	})
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
