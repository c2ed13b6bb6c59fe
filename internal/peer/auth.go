package peer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// Authentication modes announced in the first frame.
const (
	authPlain  byte = 0
	authSecret byte = 1
)

const nonceLen = 32

// ErrAuth is wrapped by every authentication failure.
var ErrAuth = errors.New("authentication failed")

// Fingerprint returns the hex SHA-256 of a DER certificate, the value to
// put in the other node's tls_peer_fingerprint.
func Fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// CertFingerprint reads a PEM certificate file and returns its Fingerprint.
func CertFingerprint(certFile string) (string, error) {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return "", fmt.Errorf("peer: %w", err)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return "", fmt.Errorf("peer: %s: no CERTIFICATE block", certFile)
		}
		if blk.Type == "CERTIFICATE" {
			return Fingerprint(blk.Bytes), nil
		}
	}
}

// PinnedTLS returns a TLS 1.3 config for either end of a link: it presents
// the certificate in certFile/keyFile and accepts exactly the peer
// certificate whose SHA-256 is fingerprint (no CA involved; self-signed is
// fine). A server using it requires the client's certificate. A mismatch
// wraps ErrAuth.
func PinnedTLS(certFile, keyFile, fingerprint string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("peer: tls: %w", err)
	}
	pin, err := ParseFingerprint(fingerprint)
	if err != nil {
		return nil, fmt.Errorf("peer: tls_peer_fingerprint: %w", err)
	}
	verify := func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return fmt.Errorf("%w: peer sent no certificate", ErrAuth)
		}
		sum := sha256.Sum256(raw[0])
		if !hmac.Equal(sum[:], pin) {
			return fmt.Errorf("%w: peer certificate %s does not match the pinned fingerprint", ErrAuth, hex.EncodeToString(sum[:8]))
		}
		return nil
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13,
		ClientAuth:            tls.RequireAnyClientCert, // used by a server only
		InsecureSkipVerify:    true,                     // no CA: the pin is the whole check
		VerifyPeerCertificate: verify}, nil
}

// wrapTLS runs the TLS handshake on conn when TLS is configured.
func wrapTLS(conn net.Conn, c *Config, server bool) (net.Conn, error) {
	if !c.UsesTLS() {
		return conn, nil
	}
	tc, err := PinnedTLS(c.TLSCert, c.TLSKey, c.TLSPeerFingerprint)
	if err != nil {
		return nil, err
	}
	var t *tls.Conn
	if server {
		t = tls.Server(conn, tc)
	} else {
		t = tls.Client(conn, tc)
	}
	if err := t.Handshake(); err != nil {
		f := &tlsFailure{label: tlsLabel(err), err: err}
		if server && notTLS(err) {
			return nil, fmt.Errorf("%w: %w", errNotPeer, f)
		}
		return nil, f
	}
	return t, nil
}

// tlsFailure is a failed TLS handshake, told in this node's words: the
// other end has not authenticated, and crypto/tls quotes what it sent
// (x509's errors quote the names of a certificate it cannot parse), so
// the error's text is never shown. It unwraps to that error, for
// errors.Is and As (ErrAuth, a timeout).
type tlsFailure struct {
	label string
	err   error
}

func (e *tlsFailure) Error() string { return "tls handshake: " + e.label }
func (e *tlsFailure) Unwrap() error { return e.err }

// tlsLabel is a fixed description of a failed TLS handshake: only the
// pin check's own error (ErrAuth, this node's text) is kept.
func tlsLabel(err error) string {
	var ne net.Error
	switch s := err.Error(); {
	case errors.Is(err, ErrAuth):
		return s
	case certRejected(err):
		return "remote error: tls: bad certificate (the other end refused this node's certificate)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "closed by the other end"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case notTLS(err):
		return "not TLS"
	case strings.Contains(s, "certificate"):
		return "the other end's certificate cannot be used (its text is not shown)"
	case strings.Contains(s, "remote error"):
		return "the other end refused the handshake"
	case strings.Contains(s, "version"), strings.Contains(s, "cipher"), strings.Contains(s, "curve"),
		strings.Contains(s, "signature"):
		return "no common version, cipher suite or key exchange"
	}
	return "failed (its text is not shown)"
}

// notTLS reports a handshake that failed because the other side did not
// speak TLS at all: not a TLS record, closed, or silent until the deadline.
func notTLS(err error) bool {
	var rh tls.RecordHeaderError
	var ne net.Error
	return errors.As(err, &rh) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		(errors.As(err, &ne) && ne.Timeout())
}

func nonce() []byte {
	b := make([]byte, nonceLen)
	if _, err := rand.Read(b); err != nil {
		panic("peer: crypto/rand: " + err.Error())
	}
	return b
}

// proof is HMAC(secret, label || first || second): what each side shows to
// prove it knows the secret. The labels differ so a reflected proof fails.
func proof(secret []byte, label string, first, second []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(label))
	m.Write(first)
	m.Write(second)
	return m.Sum(nil)
}

// sessionKeys derives the per-direction frame MAC keys (dialer→listener,
// listener→dialer) from the secret and both nonces.
func sessionKeys(secret, nd, nl []byte) (dl, ld []byte) {
	return proof(secret, "redund-peer frames d2l", nd, nl), proof(secret, "redund-peer frames l2d", nd, nl)
}
