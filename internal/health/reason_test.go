package health

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode"
)

// hostileCertServer is an HTTPS server whose certificate names carry line
// breaks and a terminal escape sequence, and so many of them that the
// verification error that lists them is long (crypto/x509 lists up to 99
// names): crypto/tls words its certificate errors with those names as they
// are.
func hostileCertServer(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"evil.test\n2026-01-01T00:00:00Z INFO decision: point at forged", "\x1b[2J\x1b[31mred.test"}
	for i := range 90 {
		names = append(names, fmt.Sprintf("filler-%d.%s.test", i, strings.Repeat("x", 50)))
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hostile"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // every probe rejects the certificate
	s.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s.URL
}

// wantCleanReason fails when a reason could forge a line of a log or a
// row of a terminal table, recolour a terminal or reorder what a page
// shows, or is longer than a reason may be.
func wantCleanReason(t *testing.T, r Result) {
	t.Helper()
	for _, c := range r.Reason {
		if unicode.IsControl(c) || unicode.Is(unicode.Bidi_Control, c) {
			t.Errorf("reason holds %U: %q", c, r.Reason)
			break
		}
	}
	if len(r.Reason) > maxReasonLen+len("…") {
		t.Errorf("reason is %d bytes, want at most %d", len(r.Reason), maxReasonLen+len("…"))
	}
}

// TestReasonFromServerIsClean: what a checked server sends reaches an
// operator's eyes only as a reason, which every status document, page,
// log line, `redund check` and `redund ddns plan` show: it holds no line
// break, no control or bidirectional-text character, and is bounded.
func TestReasonFromServerIsClean(t *testing.T) {
	url := hostileCertServer(t)
	tests := []struct {
		name string
		c    Config
		want string // the reason contains this
	}{
		{"certificate names", Config{Kind: "http", URL: strings.Replace(url, "127.0.0.1", "localhost", 1) + "/"},
			"evil.test 2026-01-01T00:00:00Z INFO"},
		{"command output", Config{Kind: "exec", Command: []string{"printf",
			`line one\nFAKE decision: point at forged\n\033[2J\342\200\256desrever\r`}}, "line one FAKE decision"},
		{"command failure output", Config{Kind: "exec", Command: []string{"sh", "-c",
			`printf 'CRITICAL\n\033]0;title\007x'; exit 2`}}, "exit status 2: CRITICAL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check(t, tt.c)
			if !strings.Contains(r.Reason, tt.want) {
				t.Errorf("reason %q, want it to contain %q", r.Reason, tt.want)
			}
			wantCleanReason(t, r)
		})
	}
}
