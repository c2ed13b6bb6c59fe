package peer

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// handshakeTimeout bounds the whole link set-up, so a slow connection
// cannot hold a slot for long (the first frame has firstFrameTimeout).
const handshakeTimeout = 5 * time.Second

// RefusedError is a handshake refusal, by either side; Reason is what both
// sides report.
type RefusedError struct {
	Reason string
	ByPeer bool // the other side refused
	// Remote is the other end's Hello when this side refused it after
	// reading it (authenticated: the handshake is past the proofs), nil
	// otherwise. An application can learn from it that its peer is alive
	// and in which role, although the link is refused.
	Remote *Hello
}

func (e *RefusedError) Error() string {
	if e.ByPeer {
		return "refused by peer: " + e.Reason
	}
	return "refused: " + e.Reason
}

// Reasons of the Mismatch state. Neither says which side is wrong: a node
// cannot know.
const (
	reasonSecrets = "secrets differ"
	reasonCerts   = "certificates differ"
	reasonClock   = "clocks differ by more than 60s"
)

// mismatchError: the other end answered as a redund node whose secret (or
// certificate, clock or protocol version) differs. why is the Mismatch
// reason (stable, so that a repeat is recognised); detail is for the log.
type mismatchError struct{ why, detail string }

func (e *mismatchError) Error() string { return e.why + e.detail }

// Codes of an AuthFail frame, the only refusal read before authentication
// (a code, never text, so nothing a stranger writes is shown).
const (
	failNeedSecret    byte = 1 // listener: this node requires a shared secret
	failNoSecret      byte = 2 // listener: this node has no shared secret
	failSecretsDiffer byte = 3 // either: the other's proof does not match
	failVersion       byte = 4 // listener: followed by the protocol version it speaks
	failClock         byte = 5 // listener: the first frame's time is outside clockWindow
)

// failReason is the Mismatch reason an AuthFail payload stands for, or ""
// when it is not a well-formed one.
func failReason(b []byte) string {
	switch {
	case len(b) == 1 && b[0] >= failNeedSecret && b[0] <= failSecretsDiffer:
		return reasonSecrets
	case len(b) == 1 && b[0] == failClock:
		return reasonClock
	case len(b) == 2 && b[0] == failVersion && b[1] >= 1 && b[1] <= 9 && b[1] != protoVersion:
		return reasonVersion(b[1])
	}
	return ""
}

// errUnanswered: the listener closed the connection on our first frame
// without a word, as a node of protocol 1 does (see Node.probeV1).
var errUnanswered = errors.New("the other end closed the connection without answering the first frame " +
	"(a redund node of an older version, a flooded peer port, or not a redund node)")

// errUntrustedRefuse is a Refuse frame received before the other end
// authenticated; its text is dropped unread.
var errUntrustedRefuse = errors.New("the other end refused before authenticating (its text is not shown)")

// shake is one connection being set up.
type shake struct {
	nc    net.Conn
	r     *frameReader
	w     *frameWriter
	cfg   *Config
	local Hello
	comp  CompatFunc

	start    time.Time // when the connection was accepted or dialed
	pinned   bool      // TLS verified the other end's pinned certificate
	trusted  bool      // every configured check passed: the other end's text may be shown
	onFirst  func()    // listener: the dialer's first frame proved the secret
	onAuth   func()    // listener: a credential was verified
	now      func() time.Time
	nonces   *ReplayCache // listener: first-frame nonces seen
	answered bool         // dialer: the listener sent a frame
}

// newShake reads frames of at most preAuthMaxFrame (or maxFrame when
// smaller) until the link is up, through small buffers (newConn grows
// them).
func newShake(nc net.Conn, cfg *Config, local Hello, comp CompatFunc, maxFrame int) *shake {
	return &shake{nc: nc, r: newFrameReaderSize(nc, min(maxFrame, preAuthMaxFrame), preAuthBuffer),
		w:   newFrameWriterSize(nc, preAuthBuffer),
		cfg: cfg, local: local, comp: comp, start: time.Now(), now: time.Now}
}

func (s *shake) secret() []byte { return []byte(s.cfg.Secret.Reveal()) }

func (s *shake) send(typ byte, parts ...[]byte) error {
	if err := s.w.writeFrame(typ, parts...); err != nil {
		return err
	}
	return s.w.flush()
}

// refuse tells the (authenticated) other side why, then returns the local
// refusal.
func (s *shake) refuse(why string) error {
	_ = s.send(typeRefuse, []byte(why))
	return &RefusedError{Reason: why}
}

// authFail tells the other side, with a code, that the credentials differ.
func (s *shake) authFail(code byte) error {
	_ = s.send(typeAuthFail, []byte{code})
	return &mismatchError{why: reasonSecrets}
}

// expect reads the next frame, which must be want. A Refuse from a
// trusted peer becomes a RefusedError; an AuthFail a mismatchError;
// anything else an error that carries no text from the other end.
func (s *shake) expect(want byte) ([]byte, error) {
	typ, b, err := s.r.readFrame()
	if err == nil {
		s.answered = true
	}
	switch {
	case err != nil:
		return nil, err
	case typ == want:
		return b, nil
	case typ == typeAuthFail && failReason(b) != "":
		return nil, &mismatchError{why: failReason(b)}
	case typ == typeRefuse && s.trusted:
		return nil, &RefusedError{Reason: reason(b), ByPeer: true}
	case typ == typeRefuse:
		return nil, errUntrustedRefuse
	}
	return nil, fmt.Errorf("peer: unexpected frame type %#x during handshake", typ)
}

// dial runs the dialer's side; it returns the remote Hello.
func (s *shake) dial() (Hello, error) {
	secret := s.secret()
	nd := nonce()
	if err := s.send(typeAuthHello, encodeFirst(secret, nd, s.now())); err != nil {
		return Hello{}, err
	}
	if len(secret) > 0 {
		if err := s.dialAuth(secret, nd); err != nil {
			return Hello{}, err
		}
	}
	s.trusted = true // the secret's proof, the pinned certificate, or plain = true
	if err := s.send(typeHello, encodeHello(s.local)); err != nil {
		return Hello{}, err
	}
	remote, err := s.recvHello()
	if err != nil {
		return remote, err
	}
	return remote, s.send(typeReady)
}

// recvHello reads the remote Hello and checks it against the local one,
// refusing the peer when it is malformed or incompatible.
func (s *shake) recvHello() (Hello, error) {
	b, err := s.expect(typeHello)
	if err != nil {
		return Hello{}, err
	}
	remote, err := ParseHello(b)
	if err != nil {
		return Hello{}, s.refuse(err.Error())
	}
	if s.comp != nil {
		if err := s.comp(s.local, remote); err != nil {
			_ = s.refuse(err.Error())
			return remote, &RefusedError{Reason: err.Error(), Remote: &remote}
		}
	}
	return remote, nil
}

// dialAuth checks the listener's proof first: a well-formed challenge
// whose proof fails comes from a node with another secret (or from
// someone imitating one), told apart from garbage by its frame type and
// length; the dialer then says so with a code and reports Mismatch.
func (s *shake) dialAuth(secret, nd []byte) error {
	b, err := s.expect(typeAuthChal)
	if err != nil && !s.answered && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		return fmt.Errorf("%w: %w", errUnanswered, err)
	}
	if err != nil {
		return err
	}
	if len(b) != nonceLen+32 {
		return errors.New("peer: bad auth challenge")
	}
	nl, mac := b[:nonceLen], b[nonceLen:]
	if !hmac.Equal(mac, proof(secret, "redund-peer listener", nd, nl)) {
		return s.authFail(failSecretsDiffer)
	}
	s.trusted = true
	if err := s.send(typeAuthResp, proof(secret, "redund-peer dialer", nl, nd)); err != nil {
		return err
	}
	if _, err := s.expect(typeAuthOK); err != nil {
		return err
	}
	dl, ld := sessionKeys(secret, nd, nl)
	s.w.mac, s.r.mac = newMAC(dl), newMAC(ld)
	return nil
}

// errNotPeer marks a connection that never spoke the protocol (garbage, a
// port scanner).
var errNotPeer = errors.New("not a redund peer")

// accept runs the listener's side; it returns the remote Hello. The first
// frame must arrive within the deadline the caller set; the rest of the
// handshake has until start+handshakeTimeout. With a secret the first
// frame must prove it before the listener sends anything but an AuthFail
// code: a stranger gets no HMAC output to test guesses of the secret on.
func (s *shake) accept() (Hello, error) {
	limit := s.r.max
	s.r.max = min(limit, maxFirstFrame) // a longer frame is no first frame: not even allocated
	typ, b, err := s.r.readFrame()
	s.r.max = limit
	if err != nil {
		return Hello{}, fmt.Errorf("%w: first frame: %w", errNotPeer, err)
	}
	if typ != typeAuthHello {
		return Hello{}, fmt.Errorf("%w: first frame type %#x", errNotPeer, typ)
	}
	f, err := parseFirst(b)
	var ve *versionError
	if errors.As(err, &ve) {
		return Hello{}, s.refuseVersion(ve.version)
	}
	if err != nil {
		return Hello{}, fmt.Errorf("%w: %v", errNotPeer, err)
	}
	_ = s.nc.SetDeadline(s.start.Add(handshakeTimeout))
	secret := s.secret()
	switch {
	case len(secret) > 0 && f.mode != authSecret:
		return Hello{}, s.authFail(failNeedSecret)
	case len(secret) == 0 && f.mode == authSecret:
		return Hello{}, s.authFail(failNoSecret)
	case len(secret) > 0:
		if err := s.checkFirst(secret, f); err != nil {
			return Hello{}, err
		}
		if err := s.acceptAuth(secret, f.nonce); err != nil {
			return Hello{}, err
		}
	}
	if (len(secret) > 0 || s.pinned) && s.onAuth != nil {
		s.onAuth()
	}
	s.trusted = true
	return s.acceptHello()
}

// checkFirst verifies the first frame's proof, its time and its nonce.
// A bad proof or time is answered with a code (a node with another
// secret, or a clock off, is told so); a replayed nonce, which only
// someone repeating a captured frame sends, gets no answer.
func (s *shake) checkFirst(secret []byte, f firstFrame) error {
	if !f.verify(secret) {
		return s.authFail(failSecretsDiffer)
	}
	now := s.now()
	if d := now.Sub(f.sent); d > clockWindow || d < -clockWindow {
		_ = s.send(typeAuthFail, []byte{failClock})
		return &mismatchError{why: reasonClock, detail: fmt.Sprintf(" (by %s)", d.Round(time.Second))}
	}
	if err := s.nonces.Check(f.replayKey(), f.sent, now); err != nil {
		return fmt.Errorf("first frame: %w", err)
	}
	if s.onFirst != nil {
		s.onFirst()
	}
	return nil
}

// refuseVersion answers a first frame of another protocol version. A
// node of version 1 knows AuthFail codes 1-3 only: "secrets differ" keeps
// it standby (the master is alive) where anything else would make it
// take over; later versions read failVersion.
func (s *shake) refuseVersion(v byte) error {
	if v == 1 {
		_ = s.send(typeAuthFail, []byte{failSecretsDiffer})
	} else {
		_ = s.send(typeAuthFail, []byte{failVersion, protoVersion})
	}
	return &mismatchError{why: reasonVersion(v)}
}

func (s *shake) acceptAuth(secret, nd []byte) error {
	nl := nonce()
	if err := s.send(typeAuthChal, nl, proof(secret, "redund-peer listener", nd, nl)); err != nil {
		return err
	}
	b, err := s.expect(typeAuthResp)
	if err != nil {
		return err
	}
	if !hmac.Equal(b, proof(secret, "redund-peer dialer", nl, nd)) {
		// the dialer accepted our proof, so it knows the secret: not a
		// mismatched node, a forgery
		return fmt.Errorf("%w: bad proof from the dialer", ErrAuth)
	}
	if err := s.send(typeAuthOK); err != nil {
		return err
	}
	dl, ld := sessionKeys(secret, nd, nl)
	s.r.mac, s.w.mac = newMAC(dl), newMAC(ld)
	return nil
}

func (s *shake) acceptHello() (Hello, error) {
	remote, err := s.recvHello()
	if err != nil {
		return remote, err
	}
	if err := s.send(typeHello, encodeHello(s.local)); err != nil {
		return remote, err
	}
	_, err = s.expect(typeReady)
	return remote, err
}
