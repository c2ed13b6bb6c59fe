package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/testutil"
)

// browser sends one request with the headers a browser would add.
func browser(t *testing.T, method, url, host, body string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func secured(resp *http.Response) bool {
	// the guard's policy, or a page's stricter one that includes it
	return strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") &&
		resp.Header.Get("X-Content-Type-Options") == "nosniff"
}

// A page from another origin cannot import configuration, fail over or
// resync through the operator's browser, and a rebound name cannot read
// the configuration; the page's own buttons, curl and redund still work
// on loopback without a token.
func TestAdminRefusesCrossSiteAndRebinding(t *testing.T) {
	n := startGW(t, Config{NodeID: "solo", Mode: ModeIndependent, DataDir: t.TempDir()}, nil)
	waitRole(t, n, RoleActive, 3*time.Second)
	addr := admin(t, n, "")
	base := "http://" + addr
	crossSite := []string{"Content-Type", "text/plain", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors"}
	for _, path := range []string{"/v1/gateway/config-import", "/v1/gateway/failover", "/v1/gateway/resync"} {
		resp, body := browser(t, "POST", base+path, "", `{"x":"y"}`, crossSite...)
		if resp.StatusCode != http.StatusForbidden || !secured(resp) {
			t.Fatalf("cross-site POST %s: %d %q %v, want 403 with the security headers", path, resp.StatusCode, body, resp.Header)
		}
	}
	if resp, body := browser(t, "POST", base+"/v1/gateway/config-import", "", `{"x":"y"}`, "Content-Type", "text/plain", "Origin", "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin POST without Sec-Fetch-Site: %d %q", resp.StatusCode, body)
	}
	if got := docValue(t, n, ProvConfig, "x"); got != "<missing>" {
		t.Fatalf("a cross-site import was written: x = %q", got)
	}
	port := addr[strings.LastIndex(addr, ":")+1:]
	for _, path := range []string{"/v1/gateway/config", "/gateway", "/v1/status"} {
		resp, body := browser(t, "GET", base+path, "rebind.evil.example:"+port, "")
		if resp.StatusCode != http.StatusMisdirectedRequest || strings.Contains(body, "solo") {
			t.Fatalf("GET %s with a rebound Host: %d %.200q, want 421", path, resp.StatusCode, body)
		}
	}
	// the status page's buttons: same-origin fetch
	resp, body := browser(t, "POST", base+"/v1/gateway/config-import", "", `{"x":"1"}`,
		"Content-Type", "application/json", "Origin", base, "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors")
	if resp.StatusCode != http.StatusOK || !secured(resp) || docValue(t, n, ProvConfig, "x") != "1" {
		t.Fatalf("same-origin import: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp, _ := browser(t, "GET", base+"/gateway", "localhost:"+port, ""); resp.StatusCode != http.StatusOK || !secured(resp) {
		t.Fatalf("status page on localhost: %d %v", resp.StatusCode, resp.Header)
	}
	// curl, and redund gateway's client
	if resp, body := browser(t, "POST", base+"/v1/gateway/config-import", "", `{"y":"2"}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("curl import: %d %q", resp.StatusCode, body)
	}
	var out []byte
	err := adminapi.Target{Endpoint: addr}.Call(context.Background(), "GET", "/v1/gateway/config", nil, &out)
	if err != nil || !strings.Contains(string(out), `"y": "2"`) {
		t.Fatalf("adminapi.Target.Call: %v %s", err, out)
	}
}

// startClientNode runs an independent node whose client listener forwards
// to app, with client_url naming hmi.example.net.
func startClientNode(t *testing.T, app http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)
	port := testutil.ClosedTCPAddr(t)
	n := startGW(t, Config{NodeID: "solo", Mode: ModeIndependent, DataDir: t.TempDir(), ClientListen: port,
		AppURL: srv.URL, ClientURL: "http://hmi.example.net:8080"}, nil)
	waitRole(t, n, RoleActive, 3*time.Second)
	testutil.Eventually(t, 3*time.Second, "client listener up", func() bool { return n.ClientAddr() != "" })
	return n.ClientAddr()
}

// The client listener has the admin listeners' guard: no rebound Host, no
// cross-origin change reaches the application; the application's own
// framing policy is kept, and the default one added when it has none.
func TestClientListenerGuard(t *testing.T) {
	var posts int
	addr := startClientNode(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			posts++
		}
		if r.URL.Path == "/framed" {
			w.Header().Set("X-Frame-Options", "SAMEORIGIN")
		}
		_, _ = io.WriteString(w, "app "+r.URL.Path)
	}))
	base := "http://" + addr
	if resp, body := browser(t, "GET", base+"/hmi", "rebind.evil.example", ""); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("rebound Host: %d %q", resp.StatusCode, body)
	}
	if resp, body := browser(t, "POST", base+"/hmi", "", "x", "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusForbidden || posts != 0 {
		t.Fatalf("cross-site POST: %d %q, application saw %d POSTs", resp.StatusCode, body, posts)
	}
	resp, body := browser(t, "GET", base+"/hmi", "HMI.example.net:8080", "")
	if resp.StatusCode != http.StatusOK || body != "app /hmi" || !secured(resp) {
		t.Fatalf("client_url's name: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if len(resp.Header.Values("Content-Security-Policy")) != 1 || len(resp.Header.Values("X-Content-Type-Options")) != 1 {
		t.Fatalf("headers doubled: %v", resp.Header)
	}
	resp, _ = browser(t, "GET", base+"/framed", "", "")
	if resp.Header.Get("Content-Security-Policy") != "" || resp.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Fatalf("the application's own framing policy was overridden: %v", resp.Header)
	}
	if resp, body := browser(t, "POST", base+"/hmi", "", "x"); resp.StatusCode != http.StatusOK || posts != 1 {
		t.Fatalf("curl POST: %d %q", resp.StatusCode, body)
	}
}

// A flood of idle connections from one source does not keep another
// client out of the client listener; those over the per-source cap (128)
// are closed at once instead of holding file descriptors.
func TestClientListenerCapsConnections(t *testing.T) {
	addr := startClientNode(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "app")
	}))
	const flood, perSrc = 160, 128
	conns := make([]net.Conn, flood)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	// ask for nothing: a held connection waits for its request (10 s), a
	// refused one was closed in Accept and reads EOF at once
	var mu sync.Mutex
	var wg sync.WaitGroup
	closed := 0
	for _, c := range conns {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			_, err := bufio.NewReader(c).ReadByte()
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
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := hc.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("another client during the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("another client during the flood: %d", resp.StatusCode)
	}
}
