package adminapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/logging"
)

// closedSoon reports whether the server closes c (without a request)
// within d: an accepted connection is held for the header deadline, one
// over the cap is closed at once.
func closedSoon(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// Idle connections from one source (more than the per-source cap) do not
// keep a second source out of the admin listener, and the ones over the
// cap are closed at once.
func TestAdminListenerCapsConnectionsPerSource(t *testing.T) {
	_, base := startServer(t)
	addr := strings.TrimPrefix(base, "http://")
	const flood = 100 // the per-source cap is 64
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range flood {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	closed := 0
	for _, c := range conns {
		wg.Go(func() {
			if closedSoon(c, time.Second) {
				mu.Lock()
				closed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if closed != flood-64 {
		t.Fatalf("%d of %d idle connections closed at once, want %d (over the per-source cap)", closed, flood, flood-64)
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := hc.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("a second source during the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a second source during the flood: %d", resp.StatusCode)
	}
	_, metrics := get2(t, hc, base+"/metrics")
	if !strings.Contains(metrics, "redund_admin_connections_refused_total 36") {
		t.Errorf("metrics lack the refused count:\n%s", grepLines(metrics, "redund_admin_connections"))
	}
}

func get2(t *testing.T, hc *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The admin server bounds request headers (net/http's default is 1 MB).
func TestAdminRefusesHugeHeaders(t *testing.T) {
	_, base := startServer(t)
	req, _ := http.NewRequest("GET", base+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 200<<10))
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("200 KiB of headers: %d, want 431", resp.StatusCode)
	}
}

// Listen warns when the admin listener is reachable off loopback without
// a token, and only then.
func TestAdminWarnsOffLoopbackWithoutToken(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		token string
		warn  bool
	}{
		{"0.0.0.0:0", "", true},
		{":0", "", true},
		{"0.0.0.0:0", "tok-123456", false},
		{"127.0.0.1:0", "", false},
		{"localhost:0", "", false},
	} {
		t.Run(tc.addr+" token="+tc.token, func(t *testing.T) {
			var buf bytes.Buffer
			log, err := logging.New(&buf, "info", "text", nil)
			if err != nil {
				t.Fatal(err)
			}
			s := NewServer("x", "v", nil, log)
			s.SetAccess(Config{Token: config.Secret(tc.token)})
			if err := s.Listen(tc.addr); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = s.Serve(ctx) // closes the listener
			if got := strings.Contains(buf.String(), "level=WARN") && strings.Contains(buf.String(), "not on loopback"); got != tc.warn {
				t.Errorf("Listen(%q) token %q: warned %v, want %v\n%s", tc.addr, tc.token, got, tc.warn, buf.String())
			}
		})
	}
}
