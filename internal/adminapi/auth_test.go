package adminapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
)

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	_, _ = w.Write([]byte("done"))
})

func post(h http.Handler, remote, auth string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/ddns/maintenance", nil)
	req.RemoteAddr = remote
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestRequireToken(t *testing.T) {
	h := RequireToken(config.Secret("s3cret"), okHandler)
	for _, tc := range []struct {
		auth string
		code int
	}{
		{"Bearer s3cret", http.StatusOK},
		{"bearer s3cret", http.StatusOK},
		{"Bearer  s3cret ", http.StatusOK},
		{"", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer ", http.StatusUnauthorized},
		{"Bearer s3cre", http.StatusUnauthorized},
		{"Bearer s3cret2", http.StatusUnauthorized},
		{"Basic czNjcmV0", http.StatusUnauthorized},
		{"s3cret", http.StatusUnauthorized},
	} {
		t.Run("auth="+tc.auth, func(t *testing.T) {
			rec := post(h, "10.0.0.9:5000", tc.auth)
			if rec.Code != tc.code {
				t.Errorf("Authorization %q: %d, want %d", tc.auth, rec.Code, tc.code)
			}
			if tc.code == http.StatusUnauthorized {
				if rec.Header().Get("WWW-Authenticate") == "" || strings.Contains(rec.Body.String(), "s3cret") {
					t.Errorf("Authorization %q: bad 401 response %v %q", tc.auth, rec.Header(), rec.Body)
				}
			}
		})
	}
}

func TestRequireTokenEmptyRefusesAll(t *testing.T) {
	h := RequireToken("", okHandler)
	for _, auth := range []string{"", "Bearer ", "Bearer x"} {
		t.Run(fmt.Sprintf("%q", auth), func(t *testing.T) {
			if rec := post(h, "127.0.0.1:5000", auth); rec.Code != http.StatusForbidden {
				t.Errorf("empty token, Authorization %q: %d, want 403", auth, rec.Code)
			}
		})
	}
}

func TestProtect(t *testing.T) {
	open := Protect("", okHandler)
	if rec := post(open, "127.0.0.1:4000", ""); rec.Code != http.StatusOK {
		t.Errorf("no token, loopback: %d, want 200", rec.Code)
	}
	if rec := post(open, "[::1]:4000", ""); rec.Code != http.StatusOK {
		t.Errorf("no token, ::1: %d, want 200", rec.Code)
	}
	if rec := post(open, "192.0.2.7:4000", ""); rec.Code != http.StatusForbidden ||
		!strings.Contains(rec.Body.String(), "token") {
		t.Errorf("no token, remote: %d %s, want 403 naming the token", rec.Code, rec.Body)
	}
	for _, hdr := range []string{"Forwarded", "X-Forwarded-For", "X-Real-IP"} {
		t.Run("relayed with "+hdr, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/v1/ddns/maintenance", nil)
			req.RemoteAddr = "127.0.0.1:4000" // a reverse proxy on this host
			req.Header.Set(hdr, "203.0.113.9")
			rec := httptest.NewRecorder()
			open.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden {
				t.Errorf("no token, loopback relayed by a proxy (%s): %d, want 403", hdr, rec.Code)
			}
			req.Header.Set("Authorization", "Bearer tok")
			rec = httptest.NewRecorder()
			Protect("tok", okHandler).ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Errorf("token set, relayed with it: %d, want 200", rec.Code)
			}
		})
	}
	locked := Protect("tok", okHandler)
	if rec := post(locked, "127.0.0.1:4000", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("token set, loopback without it: %d, want 401", rec.Code)
	}
	if rec := post(locked, "192.0.2.7:4000", "Bearer tok"); rec.Code != http.StatusOK {
		t.Errorf("token set, remote with it: %d, want 200", rec.Code)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9180":     true,
		"127.8.9.10:1":       true,
		"[::1]:9180":         true,
		"localhost:9180":     true,
		"LOCALHOST:1":        true,
		":9180":              false,
		"0.0.0.0:9180":       false,
		"[::]:9180":          false,
		"10.0.0.1:9180":      false,
		"admin.example:9180": false,
		"garbage":            false,
		"127.0.0.1":          true,
	} {
		t.Run(addr, func(t *testing.T) {
			if got := IsLoopback(addr); got != want {
				t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
			}
		})
	}
}

func TestServerLoopbackAndProtectedEndpoint(t *testing.T) {
	s, base := startServer(t)
	s.Handle("POST /v1/test/do", RequireToken("tok", okHandler))
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for auth, want := range map[string]int{"": 401, "Bearer nope": 401, "Bearer tok": 200} {
		t.Run(fmt.Sprintf("%q", auth), func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+"/v1/test/do", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("POST with %q: %d, want %d", auth, resp.StatusCode, want)
			}
		})
	}
}
