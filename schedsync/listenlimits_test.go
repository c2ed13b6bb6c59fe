package schedsync

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// The sync listener bounds what a stranger can hold before authentication:
// connections from one source beyond the per-source cap (128) are closed at
// once, and request headers beyond 64 KiB are refused (net/http's default
// is 1 MB).
func TestSyncListenerBounds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	cfg := &Config{Mode: ModePrimary, Dir: t.TempDir(), Listen: ln.Addr().String(), Secret: testSecret, NodeID: "a"}
	startNode(t, cfg, ln)
	addr := ln.Addr().String()

	const flood, perSrc = 150, 128
	conns := make([]net.Conn, flood)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		must(t, err)
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	closed := 0
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			if !(errors.As(err, &ne) && ne.Timeout()) {
				mu.Lock()
				closed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if closed != flood-perSrc {
		t.Fatalf("%d of %d idle connections closed at once, want %d", closed, flood, flood-perSrc)
	}

	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 200<<10))
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}} // 127.0.0.1 is flooded
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("200 KiB of headers: %d, want 431", resp.StatusCode)
	}
}
