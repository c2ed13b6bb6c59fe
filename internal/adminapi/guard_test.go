package adminapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redund/redund/internal/logging"
)

// written is a state-changing endpoint like gateway's config-import: it
// stores what it was sent.
type written struct {
	mu   sync.Mutex
	docs []string
}

func (d *written) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	d.docs = append(d.docs, string(b))
	d.mu.Unlock()
	WriteJSON(w, http.StatusOK, map[string]int{"imported": 1})
}

func (d *written) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.docs)
}

// send makes one request as a browser or curl would: host is the Host
// header ("" keeps the address), hdr the extra headers.
func send(t *testing.T, method, url, host, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// startWithImport is an admin server (default access: no token, no
// allowed hosts) with a guarded POST endpoint.
func startWithImport(t *testing.T) (string, *written) {
	t.Helper()
	s, base := startServer(t)
	doc := &written{}
	s.Handle("POST /v1/test/import", Protect("", doc))
	return base, doc
}

// A browser page from another origin (or a rebound name) cannot change or
// read anything; curl, redund's own client and the same origin can.
func TestAdminRefusesCrossOriginAndForeignHost(t *testing.T) {
	base, doc := startWithImport(t)
	hostport := strings.TrimPrefix(base, "http://")
	port := hostport[strings.LastIndex(hostport, ":")+1:]
	textPlain := map[string]string{"Content-Type": "text/plain"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"Content-Type": "text/plain"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name, method, path, host string
		hdr                      map[string]string
		code                     int
		writes                   bool
	}{
		{"cross-site POST (fetch, text/plain)", "POST", "/v1/test/import", "",
			with("Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "no-cors"), 403, false},
		{"same-site POST from another port", "POST", "/v1/test/import", "",
			with("Origin", "http://127.0.0.1:1", "Sec-Fetch-Site", "same-site"), 403, false},
		{"cross-origin POST from an older browser (Origin only)", "POST", "/v1/test/import", "",
			with("Origin", "http://evil.example"), 403, false},
		{"rebound name, same-origin POST", "POST", "/v1/test/import", "rebind.evil.example:" + port,
			with("Origin", "http://rebind.evil.example:"+port, "Sec-Fetch-Site", "same-origin"), 421, false},
		{"rebound name, GET status", "GET", "/v1/status", "rebind.evil.example:" + port, nil, 421, false},
		{"rebound name, GET metrics", "GET", "/metrics", "rebind.evil.example", nil, 421, false},
		{"same-origin POST (the page's own button)", "POST", "/v1/test/import", "",
			with("Origin", base, "Sec-Fetch-Site", "same-origin"), 200, true},
		{"curl POST (no Origin)", "POST", "/v1/test/import", "", textPlain, 200, true},
		{"localhost", "POST", "/v1/test/import", "localhost:" + port, textPlain, 200, true},
		{"LOCALHOST. any port", "GET", "/v1/status", "LOCALHOST.:80", nil, 200, false},
		{"[::1]", "GET", "/v1/status", "[::1]:" + port, nil, 200, false},
		{"another IP address", "GET", "/v1/status", "192.0.2.7:9180", nil, 200, false},
		{"cross-site GET (a link)", "GET", "/v1/status", "", with("Sec-Fetch-Site", "cross-site"), 200, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := doc.count()
			resp, body := send(t, tc.method, base+tc.path, tc.host, `{"x":"y"}`, tc.hdr)
			if resp.StatusCode != tc.code {
				t.Fatalf("%s %s Host %q: %d %.200q, want %d", tc.method, tc.path, tc.host, resp.StatusCode, body, tc.code)
			}
			if got := doc.count() - before; (got == 1) != tc.writes {
				t.Fatalf("documents written: %d, want written=%v", got, tc.writes)
			}
			if resp.Header.Get("Content-Security-Policy") != "frame-ancestors 'none'" ||
				resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatalf("security headers missing: %v", resp.Header)
			}
			if tc.code != 200 && (len(body) > 120 || strings.Contains(body, "evil")) {
				t.Fatalf("refusal body %q: want a short message that echoes nothing", body)
			}
		})
	}
	// redund's own clients on loopback, without a token
	if _, err := Call(context.Background(), hostport, "", "POST", "/v1/test/import", []byte(`{"a":"b"}`)); err != nil {
		t.Fatalf("Call: %v", err)
	}
	if _, err := Fetch(context.Background(), hostport); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
}

// startWithAccess is an admin server with [admin] settings a.
func startWithAccess(t *testing.T, a Config) string {
	t.Helper()
	s := NewServer("x", "v", nil, logging.Discard())
	s.SetAccess(a)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return "http://" + s.Addr()
}

func TestAdminAllowedHostsAndToken(t *testing.T) {
	base := startWithAccess(t, Config{AllowedHosts: []string{"Admin.Example.net"}, Token: "tok-123456"})
	for _, tc := range []struct {
		host, auth string
		code       int
	}{
		{"admin.example.net:9180", "", 200},
		{"admin.example.net", "", 200},
		{"other.example.net:9180", "", 421},
		{"other.example.net:9180", "Bearer wrong", 421},
		{"other.example.net:9180", "Bearer tok-123456", 200}, // a page cannot add the token
	} {
		t.Run(tc.host+" "+tc.auth, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.auth != "" {
				hdr["Authorization"] = tc.auth
			}
			if resp, body := send(t, "GET", base+"/v1/status", tc.host, "", hdr); resp.StatusCode != tc.code {
				t.Errorf("Host %q auth %q: %d %q, want %d", tc.host, tc.auth, resp.StatusCode, body, tc.code)
			}
		})
	}
}

// The listen address's own name is accepted.
func TestAdminAcceptsListenName(t *testing.T) {
	g := NewGuard("", nil, "localhost:9180", "redund-a.example.net:9180", "127.0.0.1:9180")
	for host, want := range map[string]bool{"redund-a.example.net:1": true, "redund-b.example.net:9180": false,
		"": true, "127.0.0.1": true, "[fe80::1%25eth0]:80": true, "localhost.example": false} {
		t.Run(fmt.Sprintf("%q", host), func(t *testing.T) {
			r, _ := http.NewRequest("GET", "http://x/", nil)
			r.Host = host
			if got := g.HostAllowed(r); got != want {
				t.Errorf("Host %q: allowed %v, want %v", host, got, want)
			}
		})
	}
}

// An application behind a guarded proxy keeps its own framing policy; a
// CSP without frame-ancestors is none, so the answer still may not be
// framed.
func TestFillSecurityHeaders(t *testing.T) {
	for _, tc := range []struct {
		name     string
		csp, xfo string // the application's
		wantCSP  string
		wantXFO  string
	}{
		{"no policy", "", "", "frame-ancestors 'none'", "DENY"},
		{"its own X-Frame-Options", "", "SAMEORIGIN", "", "SAMEORIGIN"},
		{"its own frame-ancestors", "default-src 'self'; Frame-Ancestors 'self'", "", "default-src 'self'; Frame-Ancestors 'self'", ""},
		{"a CSP without frame-ancestors", "default-src 'self'", "", "default-src 'self'", "DENY"},
		{"a CSP that only names it in a source", "default-src 'self' https://frame-ancestors.example", "",
			"default-src 'self' https://frame-ancestors.example", "DENY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.csp != "" {
				h.Set("Content-Security-Policy", tc.csp)
			}
			if tc.xfo != "" {
				h.Set("X-Frame-Options", tc.xfo)
			}
			FillSecurityHeaders(h)
			if h.Get("Content-Security-Policy") != tc.wantCSP || h.Get("X-Frame-Options") != tc.wantXFO ||
				h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v, want CSP %q and X-Frame-Options %q", h, tc.wantCSP, tc.wantXFO)
			}
		})
	}
}
