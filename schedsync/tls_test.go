package schedsync

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate and key and returns their paths and
// the certificate's SHA-256 fingerprint.
func selfSigned(t *testing.T, name string) (cert, key, fp string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	must(t, err)
	kb, err := x509.MarshalECPrivateKey(k)
	must(t, err)
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	must(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	must(t, os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	sum := sha256.Sum256(der)
	return cert, key, hex.EncodeToString(sum[:])
}

func tlsPair(t *testing.T, wrongPin bool) (*testNode, *testNode) {
	ca, ka, fa := selfSigned(t, "a")
	cb, kb, fb := selfSigned(t, "b")
	if wrongPin {
		_, _, fb = selfSigned(t, "intruder")
	}
	return startPair(t, ModePrimary, ModeSecondaryCopy, func(a, b *Config) {
		a.Secret, b.Secret = "", ""
		a.Peer = strings.Replace(a.Peer, "http:", "https:", 1)
		b.Peer = strings.Replace(b.Peer, "http:", "https:", 1)
		a.TLSCert, a.TLSKey, a.TLSPeerFingerprint = ca, ka, fb
		b.TLSCert, b.TLSKey, b.TLSPeerFingerprint = cb, kb, fa
	})
}

func TestPinnedTLSPair(t *testing.T) {
	p, s := tlsPair(t, false)
	writeFile(t, p.dir, "over-tls.txt", "secret content", 0o644)
	waitSame(t, p, s, "copy over TLS")
	waitFor(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
}

func TestPinnedTLSWrongPeerRefused(t *testing.T) {
	p, s := tlsPair(t, true)
	writeFile(t, p.dir, "x", "1", 0o644)
	waitFor(t, 10*time.Second, "a TLS refusal", func() bool {
		return strings.Contains(s.Status()[0].Reason, "certificate")
	})
	if _, err := os.Stat(filepath.Join(s.dir, "x")); err == nil {
		t.Fatal("synced from a peer whose certificate is not pinned")
	}
	if st := s.state(); st == StateSynced {
		t.Fatalf("state %s", st)
	}
}
