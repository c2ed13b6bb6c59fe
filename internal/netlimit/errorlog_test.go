package netlimit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
)

// logLines splits what was logged into lines.
func logLines(b *testutil.Buffer) []string {
	return strings.Split(strings.TrimSpace(b.String()), "\n")
}

// serveLogged runs HTTPServer(h) with its ErrorLog on a loopback listener,
// wrapped in TLS when tc is not nil. The returned stop ends the server and
// the error log's owner goroutine (which writes the last summary) and
// returns the lines logged.
func serveLogged(t *testing.T, tc *tls.Config, h http.Handler) (addr string, stop func() []string) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener = raw
	if tc != nil {
		ln = tls.NewListener(raw, tc)
	}
	buf := &testutil.Buffer{}
	errs := NewErrorLog(slog.New(slog.NewTextHandler(buf, nil)), "test listener")
	hs := HTTPServer(h, errs)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { errs.Run(ctx) })
	wg.Go(func() { _ = hs.Serve(ln) })
	var once sync.Once
	stop = func() []string {
		once.Do(func() { _ = hs.Close(); cancel(); wg.Wait() })
		return logLines(buf)
	}
	t.Cleanup(func() { stop() })
	return raw.Addr().String(), stop
}

// selfSigned is a certificate for 127.0.0.1 with uris as URI names (not
// checked: a client may send anything).
func selfSigned(t *testing.T, uris ...*url.URL) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, URIs: uris}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// untilClosed reads c until the server closes it: net/http writes its
// error line before it closes the connection.
func untilClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, c); err != nil {
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("the server kept a failed connection open")
		}
	}
}

// A stranger who opens connections to a TLS listener and sends garbage
// (bytes that are no TLS record, or a ClientHello cut short) made
// net/http write one log line per connection. Now the first is logged,
// the others are counted by source in one summary.
func TestBadHandshakesAreThrottled(t *testing.T) {
	addr, stop := serveLogged(t, &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}}, http.NotFoundHandler())
	const n = 200
	for i := range n {
		src := "127.0.0.2"
		if i%4 == 0 {
			src = "127.0.0.3"
		}
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			_, _ = c.Write([]byte("\x00\x00\x00\x00\x00garbage")) // no TLS record
		} else {
			_, _ = c.Write([]byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")) // a ClientHello cut short
			_ = c.(*net.TCPConn).CloseWrite()
		}
		untilClosed(t, c)
		c.Close()
	}
	lines := stop()
	for _, l := range lines {
		t.Log(l)
	}
	if len(lines) > 2 {
		t.Fatalf("%d bad handshakes: %d log lines, want at most 2 (the first and a summary)", n, len(lines))
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"TLS handshake failed", "dropped=199", "127.0.0.2 (150)", "127.0.0.3 (49)"} {
		if !strings.Contains(all, want) {
			t.Errorf("the log does not say %q", want)
		}
	}
}

// crypto/tls quotes a client certificate it cannot parse (an invalid URI
// name): the client chose that text before it authenticated, and the old
// ErrorLog wrote it to the log as it was.
func TestHandshakeErrorDoesNotEchoTheClient(t *testing.T) {
	const marker = "MARKER-from-the-client"
	tc := &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, MinVersion: tls.VersionTLS13,
		ClientAuth: tls.RequireAnyClientCert}
	addr, stop := serveLogged(t, tc, http.NotFoundHandler())
	bad := selfSigned(t, &url.URL{Scheme: "http", Host: "[" + marker})
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.4")}, Timeout: 2 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, //nolint:gosec // a test client
		Certificates: []tls.Certificate{bad}})
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.Handshake(); err == nil { // TLS 1.3: the server's refusal comes after the client's handshake
		_, err = c.Read(make([]byte, 1))
		t.Logf("read: %v", err)
	}
	untilClosed(t, raw) // the server sends its alert before it logs, and closes after
	all := strings.Join(stop(), "\n")
	t.Log(all)
	if strings.Contains(all, marker) {
		t.Fatalf("the log shows text the client sent: %s", all)
	}
	if !strings.Contains(all, "client certificate refused") || !strings.Contains(all, "127.0.0.4") {
		t.Fatalf("the log does not say that a client certificate from 127.0.0.4 was refused: %s", all)
	}
}

// A handler panic is our bug: it is logged in full (value and stack), but
// a request that makes a handler panic, repeated, writes one line.
func TestHandlerPanicLoggedOnce(t *testing.T) {
	addr, stop := serveLogged(t, nil, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("the handler's own bug")
	}))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for range 50 {
		if resp, err := client.Get("http://" + addr + "/"); err == nil { // the server closes the connection
			resp.Body.Close()
			t.Fatalf("a panicking handler answered %d", resp.StatusCode)
		}
	}
	lines := stop()
	if len(lines) != 1 {
		t.Fatalf("50 panics: %d log lines, want 1: %q", len(lines), lines)
	}
	for _, want := range []string{"level=ERROR", "handler panic", "the handler's own bug", "goroutine", "127.0.0.1"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the panic's line does not say %q: %s", want, lines[0])
		}
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name, line, source, label string
	}{
		{"not TLS", "http: TLS handshake error from 192.0.2.7:4242: tls: first record does not look like a TLS handshake\n",
			"192.0.2.7", "TLS handshake failed: not TLS"},
		{"plain HTTP", "http: TLS handshake error from 192.0.2.7:4242: client sent an HTTP request to an HTTPS server\n",
			"192.0.2.7", "TLS handshake failed: not TLS"},
		{"EOF over IPv6", "http: TLS handshake error from [2001:db8::1]:443: EOF\n",
			"2001:db8::1", "TLS handshake failed: closed by the client"},
		{"IPv4 in IPv6", "http: TLS handshake error from [::ffff:192.0.2.8]:1: read tcp: i/o timeout\n",
			"192.0.2.8", "TLS handshake failed: timeout"},
		{"certificate quoting the client", `http: TLS handshake error from 192.0.2.7:1: tls: failed to parse client certificate: x509: cannot parse URI "http://[EVIL": missing ']' in host` + "\n",
			"192.0.2.7", "TLS handshake failed: client certificate refused"},
		{"versions", "http: TLS handshake error from 192.0.2.7:1: tls: client offered only unsupported versions: [302 301]\n",
			"192.0.2.7", "TLS handshake failed: no common version, cipher suite or protocol"},
		{"http2 greeting quoting the client", `http2: server: error reading preface from client 192.0.2.9:7: bogus greeting "EVIL"` + "\n",
			"192.0.2.9", "HTTP/2 connection error"},
		{"http2 SETTINGS timeout", "timeout waiting for SETTINGS frames from 192.0.2.9:7\n", "192.0.2.9", "HTTP/2 connection error"},
		{"panic", "http: panic serving 192.0.2.7:80: boom\ngoroutine 7 [running]:\n", "192.0.2.7", labelPanic},
		{"superfluous WriteHeader", "http: superfluous response.WriteHeader call from main.f (x.go:12)\n",
			"server", "a handler wrote an invalid response (our bug)"},
		{"accept", "http: Accept error: accept tcp 127.0.0.1:9180: accept4: too many open files; retrying in 5ms\n",
			"server", "accept failed (file descriptors exhausted?)"},
		{"unknown", "http: something new from 192.0.2.7:1: EVIL\n", "192.0.2.7", "other server error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			source, label := classify(tc.line)
			if source != tc.source || label != tc.label {
				t.Fatalf("classify = %q, %q; want %q, %q", source, label, tc.source, tc.label)
			}
		})
	}
}
