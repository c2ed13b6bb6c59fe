package health

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/testutil"
)

// check builds c's checker and runs one probe.
func check(t *testing.T, c Config) Result {
	t.Helper()
	ck, err := New(c)
	if err != nil {
		t.Fatalf("New(%+v): %v", c, err)
	}
	return ck.Check(context.Background())
}

func wantResult(t *testing.T, r Result, ok bool, reason string) {
	t.Helper()
	if r.OK != ok || !strings.Contains(r.Reason, reason) {
		t.Errorf("got OK=%v reason %q, want OK=%v reason containing %q", r.OK, r.Reason, ok, reason)
	}
	if r.Time.IsZero() || r.Latency <= 0 {
		t.Errorf("result lacks time or latency: %+v", r)
	}
}

func startHTTP(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "status=OK\n") })
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/bad", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "status=DEGRADED error\n") })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/redirect-down", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/down", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 1000)+"needle")
	})
	mux.HandleFunc("/created", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusCreated) })
	return mux
}

func TestHTTP(t *testing.T) {
	s := startHTTP(t, testMux())
	tests := []struct {
		name   string
		c      Config
		ok     bool
		reason string
	}{
		{"ok", Config{URL: "/ok"}, true, "HTTP 200"},
		{"503", Config{URL: "/down"}, false, "HTTP 503"},
		{"404", Config{URL: "/nope"}, false, "HTTP 404"},
		{"head", Config{URL: "/ok", Method: "head"}, true, "HTTP 200"},
		{"redirect followed", Config{URL: "/redirect", MustHave: "status=OK"}, true, "HTTP 200"},
		{"status after redirect", Config{URL: "/redirect-down"}, false, "HTTP 503"},
		{"explicit list accepts", Config{URL: "/down", Status: []string{"200", "500-503"}}, true, "HTTP 503"},
		{"explicit list rejects", Config{URL: "/created", Status: []string{"200"}}, false, "HTTP 201"},
		{"musthave found", Config{URL: "/ok", MustHave: "status=OK"}, true, "HTTP 200"},
		{"musthave missing", Config{URL: "/bad", MustHave: "status=OK"}, false,
			`musthave "status=OK" not found in first 65536 bytes`},
		{"mustnothave found", Config{URL: "/bad", MustNotHave: "error"}, false, `mustnothave "error" found`},
		{"mustnothave absent", Config{URL: "/ok", MustNotHave: "error"}, true, "HTTP 200"},
		{"max_bytes cuts", Config{URL: "/big", MustHave: "needle", MaxBytes: 1000}, false,
			`musthave "needle" not found in first 1000 bytes`},
		{"max_bytes enough", Config{URL: "/big", MustHave: "needle", MaxBytes: 1006}, true, "HTTP 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.Kind, tt.c.URL = "http", s.URL+tt.c.URL
			wantResult(t, check(t, tt.c), tt.ok, tt.reason)
		})
	}
}

func TestHTTPRefused(t *testing.T) {
	addr := testutil.ClosedTCPAddr(t)
	r := check(t, Config{Kind: "http", URL: "http://" + addr + "/"})
	wantResult(t, r, false, "connect: connection refused")
}

// TestHTTPAddrOverride connects to the test server while the URL names a
// host that does not resolve; the server must see the URL's host.
func TestHTTPAddrOverride(t *testing.T) {
	hosts := make(chan string, 1)
	s := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts <- r.Host
		fmt.Fprint(w, "status=OK")
	}))
	addr := strings.TrimPrefix(s.URL, "http://")
	r := check(t, Config{Kind: "http", URL: "http://www.example.test:8080/health", Addr: addr, MustHave: "status=OK"})
	wantResult(t, r, true, "HTTP 200")
	if h := <-hosts; h != "www.example.test:8080" {
		t.Errorf("server saw Host %q, want www.example.test:8080", h)
	}
	// a bare IP keeps the URL's port
	_, port, _ := net.SplitHostPort(addr)
	r = check(t, Config{Kind: "http", URL: "http://www.example.test:" + port + "/", Addr: "127.0.0.1"})
	wantResult(t, r, true, "HTTP 200")
	if h := <-hosts; h != "www.example.test:"+port {
		t.Errorf("server saw Host %q", h)
	}
}

func TestHTTPSInsecureAndSNI(t *testing.T) {
	var mu sync.Mutex
	var sni, host string
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sni, host = r.TLS.ServerName, r.Host
		mu.Unlock()
		fmt.Fprint(w, "status=OK")
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // the first probe rejects the certificate
	s.StartTLS()
	t.Cleanup(s.Close)
	addr := strings.TrimPrefix(s.URL, "https://")

	r := check(t, Config{Kind: "http", URL: s.URL + "/"})
	wantResult(t, r, false, "certificate")

	r = check(t, Config{Kind: "http", URL: "https://secure.example.test/health", Addr: addr, Insecure: true})
	wantResult(t, r, true, "HTTP 200")
	mu.Lock()
	defer mu.Unlock()
	if sni != "secure.example.test" || host != "secure.example.test" {
		t.Errorf("server saw SNI %q and Host %q, want secure.example.test for both", sni, host)
	}
}

// TestHTTPHanging: a server that accepts and never answers; the probe must
// end at its timeout.
func TestHTTPHanging(t *testing.T) {
	addr := hangingServer(t)
	start := time.Now()
	r := check(t, Config{Kind: "http", URL: "http://" + addr + "/", Timeout: config.Duration(200 * time.Millisecond)})
	wantResult(t, r, false, "timeout after 200ms")
	if r.Reason != "timeout after 200ms" { // not "...: read: use of closed network connection"
		t.Errorf("reason %q, want just the timeout", r.Reason)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("probe took %s, want about 200ms", d)
	}
}

// serveTCP listens on loopback and runs handle for every connection; at
// cleanup it closes the listener and every connection and waits for the
// handlers.
func serveTCP(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); handle(c) }()
		}
	}()
	return ln.Addr().String()
}

// hangingServer accepts connections, reads them and never writes.
func hangingServer(t *testing.T) string {
	return serveTCP(t, func(c net.Conn) { _, _ = io.Copy(io.Discard, c) })
}

// TestHTTPClosesWithReset: after the answer the probe resets the
// connection (no FIN handshake, no TIME_WAIT left on the probing host): a
// server that keeps the connection open reads "connection reset", not EOF.
func TestHTTPClosesWithReset(t *testing.T) {
	after := make(chan error, 1)
	addr := serveTCP(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for { // the request head
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nstatus=OK\n")
		_, err := br.ReadByte()
		after <- err
	})
	r := check(t, Config{Kind: "http", URL: "http://" + addr + "/", MustHave: "status=OK"})
	wantResult(t, r, true, "HTTP 200")
	if err := <-after; !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("server read %v after the answer, want connection reset", err)
	}
}
