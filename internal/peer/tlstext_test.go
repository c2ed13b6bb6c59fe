package peer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/peer/peertest"
	"github.com/redund/redund/internal/testutil"
)

// evilURI is a subjectAltName URI that crypto/x509 cannot parse: its error
// quotes it, and with it whatever text the stranger chose.
const evilURI = "http://[EVIL-run-this-as-root"

// evilCert is a self-signed certificate whose SAN carries evilURI (built by
// hand: x509.CreateCertificate takes parsed URIs only).
func evilCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(evilURI)}})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Value: san}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestStrangersCertificateTextIsNotShown: a TLS handshake that fails on a
// certificate crypto/tls cannot parse is reported in this node's own words:
// the stranger's text (which x509 errors quote) reaches neither the
// listener's log nor the dialer's status, events or log. Before, the
// listener logged it with the drop and the dialer showed it as its Down
// reason.
func TestStrangersCertificateTextIsNotShown(t *testing.T) {
	dir := t.TempDir()
	lc, lk, lfp := peertest.SelfSigned(t, dir, "master")
	dc, dk, dfp := peertest.SelfSigned(t, dir, "backup")
	evil := evilCert(t)

	t.Run("listener", func(t *testing.T) {
		log, logs := captureLog()
		l, lrec := listener(t, &Config{TLSCert: lc, TLSKey: lk, TLSPeerFingerprint: dfp}, Options{Log: log})
		c := rawConn(t, "", l.Addr())
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{evil}, MinVersion: tls.VersionTLS13})
		_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err == nil { // TLS 1.3: the server's verdict comes with the first read
			_, _ = tc.Read(make([]byte, 1))
		}
		testutil.Eventually(t, 5*time.Second, "the drop logged", func() bool {
			return strings.Contains(logs.String(), "dropped a connection")
		})
		if strings.Contains(logs.String(), "EVIL") || strings.Contains(fmt.Sprintf("%+v", lrec.snapshot()), "EVIL") {
			t.Fatalf("the stranger's text is shown: %s", logs.String())
		}
	})
	t.Run("dialer", func(t *testing.T) {
		addr := fakeListener(t, func(c net.Conn) {
			tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{evil}, MinVersion: tls.VersionTLS13,
				ClientAuth: tls.RequireAnyClientCert})
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			_ = tc.Handshake()
		})
		log, logs := captureLog()
		d, drec := dialer(t, &Config{TLSCert: dc, TLSKey: dk, TLSPeerFingerprint: lfp}, addr, Options{Log: log})
		e := drec.waitState(t, Down)
		for !strings.Contains(e.Reason, "tls") {
			e = drec.waitState(t, Down)
		}
		if all := fmt.Sprintf("%+v %+v %s", drec.snapshot(), d.Status(), logs.String()); strings.Contains(all, "EVIL") {
			t.Fatalf("the stranger's text is shown: %s", all)
		}
	})
}
