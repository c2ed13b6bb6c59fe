package health

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
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
