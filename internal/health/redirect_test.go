package health

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestHTTPSRedirectToHTTPNotFollowed: an https check is not made OK by an
// answer in clear text that a redirect leads to (anyone on that path could
// write it); a redirect within https is followed.
func TestHTTPSRedirectToHTTPNotFollowed(t *testing.T) {
	plain := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "status=OK")
	}))
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			http.Redirect(w, r, plain.URL+"/", http.StatusFound)
		case "/within":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			_, _ = io.WriteString(w, "status=OK")
		}
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	tests := []struct {
		name, path string
		ok         bool
		reason     string
	}{
		{"to http", "/down", false, "redirect from https to http not followed"},
		{"within https", "/within", true, "HTTP 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := check(t, Config{Kind: "http", URL: s.URL + tt.path, Insecure: true, MustHave: "status=OK"})
			wantResult(t, r, tt.ok, tt.reason)
		})
	}
}

// TestHTTPRedirectCredentials: the URL's user:password@ goes with a
// relative redirect (the same host), not with an absolute one, which may
// name any host.
func TestHTTPRedirectCredentials(t *testing.T) {
	var s *httptest.Server
	s = startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/relative":
			http.Redirect(w, r, "/echo", http.StatusFound)
		case "/absolute":
			http.Redirect(w, r, s.URL+"/echo", http.StatusFound)
		case "/echo":
			if _, _, ok := r.BasicAuth(); !ok {
				w.WriteHeader(http.StatusUnauthorized)
			}
		}
	}))
	withUser := strings.Replace(s.URL, "http://", "http://probe:pw@", 1)
	tests := []struct {
		name, path string
		ok         bool
		reason     string
	}{
		{"relative", "/relative", true, "HTTP 200"},
		{"absolute", "/absolute", false, "HTTP 401"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantResult(t, check(t, Config{Kind: "http", URL: withUser + tt.path}), tt.ok, tt.reason)
		})
	}
}

// redirectServers starts "other", a server that answers status=OK and
// counts its requests, and "checked", which redirects /away to other (by
// its IP: another host than the one checks name) and /near to its own /ok.
// It returns checked's URL with the host checked.test (the checks connect
// to it with addr) and other's hit counter.
func redirectServers(t *testing.T) (string, string, *atomic.Int32) {
	var hits atomic.Int32
	other := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		_, _ = io.WriteString(w, "status=OK")
	}))
	checked := startHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/", http.StatusFound)
		case "/near":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/ok":
			_, _ = io.WriteString(w, "status=OK")
		}
	}))
	addr := strings.TrimPrefix(checked.URL, "http://")
	_, port, _ := net.SplitHostPort(addr)
	return "http://checked.test:" + port, addr, &hits
}

// TestHTTPRedirectOtherHostNotFollowedByDefault: a checked server cannot
// make the prober GET another host (a server on the prober's network,
// 169.254.169.254) nor have that host's answer make its check OK: by
// default a redirect to another host is not followed, and the redirect
// itself is judged.
func TestHTTPRedirectOtherHostNotFollowedByDefault(t *testing.T) {
	base, addr, hits := redirectServers(t)
	r := check(t, Config{Kind: "http", URL: base + "/away", Addr: addr, MustHave: "status=OK"})
	wantResult(t, r, false, `musthave "status=OK" not found in first 65536 bytes (a redirect to 127.0.0.1`)
	if n := hits.Load(); n != 0 {
		t.Errorf("the other host got %d requests, want none", n)
	}
	r = check(t, Config{Kind: "http", URL: base + "/away", Addr: addr})
	wantResult(t, r, true, "HTTP 302 (a redirect to 127.0.0.1")
	r = check(t, Config{Kind: "http", URL: base + "/near", Addr: addr, MustHave: "status=OK"})
	wantResult(t, r, true, "HTTP 200")
}

// TestHTTPRedirects: what each redirects setting follows.
func TestHTTPRedirects(t *testing.T) {
	base, addr, hits := redirectServers(t)
	tests := []struct {
		name, redirects, path string
		ok                    bool
		reason                string
		otherHits             int32
	}{
		{"same-host to another host", "same-host", "/away", false, "(a redirect to 127.0.0.1", 0},
		{"same-host within the host", "same-host", "/near", true, "HTTP 200", 0},
		{"follow to another host", "follow", "/away", true, "HTTP 200", 1},
		{"follow within the host", "follow", "/near", true, "HTTP 200", 0},
		{"none to another host", "none", "/away", false, `not found in first 65536 bytes (a redirect, not followed)`, 0},
		{"none within the host", "none", "/near", false, `not found in first 65536 bytes (a redirect, not followed)`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hits.Store(0)
			r := check(t, Config{Kind: "http", URL: base + tt.path, Addr: addr, MustHave: "status=OK", Redirects: tt.redirects})
			wantResult(t, r, tt.ok, tt.reason)
			if n := hits.Load(); n != tt.otherHits {
				t.Errorf("the other host got %d requests, want %d", n, tt.otherHits)
			}
		})
	}
}
