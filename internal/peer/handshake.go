package peer

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"net"
	"time"
)

// handshakeTimeout bounds the whole link set-up, so a silent or slow
// connection cannot hold a slot.
const handshakeTimeout = 5 * time.Second

// RefusedError is a handshake refusal, by either side; Reason is what both
// sides report.
type RefusedError struct {
	Reason string
	ByPeer bool // the other side refused
}

func (e *RefusedError) Error() string {
	if e.ByPeer {
		return "refused by peer: " + e.Reason
	}
	return "refused: " + e.Reason
}

// shake is one connection being set up.
type shake struct {
	nc    net.Conn
	r     *frameReader
	w     *frameWriter
	cfg   *Config
	local Hello
	comp  CompatFunc
}

func newShake(nc net.Conn, cfg *Config, local Hello, comp CompatFunc, maxFrame int) *shake {
	return &shake{nc: nc, r: newFrameReader(nc, maxFrame), w: newFrameWriter(nc), cfg: cfg, local: local, comp: comp}
}

func (s *shake) send(typ byte, parts ...[]byte) error {
	if err := s.w.writeFrame(typ, parts...); err != nil {
		return err
	}
	return s.w.flush()
}

// refuse tells the other side why, then returns the local refusal.
func (s *shake) refuse(why string) error {
	_ = s.send(typeRefuse, []byte(why))
	return &RefusedError{Reason: why}
}

// expect reads the next frame, which must be want (a Refuse becomes a
// RefusedError).
func (s *shake) expect(want byte) ([]byte, error) {
	typ, b, err := s.r.readFrame()
	if err != nil {
		return nil, err
	}
	if typ == typeRefuse {
		return nil, &RefusedError{Reason: reason(b), ByPeer: true}
	}
	if typ != want {
		return nil, fmt.Errorf("peer: unexpected frame type %#x during handshake", typ)
	}
	return b, nil
}

// dial runs the dialer's side; it returns the remote Hello.
func (s *shake) dial() (Hello, error) {
	secret := []byte(s.cfg.Secret.Reveal())
	if len(secret) == 0 {
		if err := s.send(typeAuthHello, authHelloPayload(authPlain, nil)); err != nil {
			return Hello{}, err
		}
	} else if err := s.dialAuth(secret); err != nil {
		return Hello{}, err
	}
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
			return remote, s.refuse(err.Error())
		}
	}
	return remote, nil
}

func (s *shake) dialAuth(secret []byte) error {
	nd := nonce()
	if err := s.send(typeAuthHello, authHelloPayload(authSecret, nd)); err != nil {
		return err
	}
	b, err := s.expect(typeAuthChal)
	if err != nil {
		return err
	}
	if len(b) != nonceLen+32 {
		return errors.New("peer: bad auth challenge")
	}
	nl, mac := b[:nonceLen], b[nonceLen:]
	if !hmac.Equal(mac, proof(secret, "redund-peer listener", nd, nl)) {
		return s.refuse(ErrAuth.Error() + ": the listener does not know the shared secret")
	}
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
// port scanner): it is dropped without a Refused event.
var errNotPeer = errors.New("not a redund peer")

// accept runs the listener's side; it returns the remote Hello.
func (s *shake) accept() (Hello, error) {
	typ, b, err := s.r.readFrame()
	if err != nil {
		return Hello{}, fmt.Errorf("%w: %v", errNotPeer, err)
	}
	if typ != typeAuthHello {
		return Hello{}, fmt.Errorf("%w: first frame type %#x", errNotPeer, typ)
	}
	mode, nd, err := parseAuthHello(b)
	if err != nil {
		return Hello{}, fmt.Errorf("%w: %v", errNotPeer, err)
	}
	secret := []byte(s.cfg.Secret.Reveal())
	switch {
	case len(secret) > 0 && mode != authSecret:
		return Hello{}, s.refuse(ErrAuth.Error() + ": this node requires the shared secret")
	case len(secret) == 0 && mode == authSecret:
		return Hello{}, s.refuse(ErrAuth.Error() + ": this node has no shared secret configured")
	case len(secret) > 0:
		if err := s.acceptAuth(secret, nd); err != nil {
			return Hello{}, err
		}
	}
	return s.acceptHello()
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
		return s.refuse(ErrAuth.Error() + ": wrong shared secret")
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
