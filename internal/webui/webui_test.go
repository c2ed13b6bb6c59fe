package webui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestClass(t *testing.T) {
	for state, want := range map[string]string{"OK": "ok", "Synced": "ok", "leader": "ok", "follower": "busy",
		"Standby": "busy", "MAINT": "warn", "Degraded": "warn", "ERR": "bad", "Unavailable": "bad", "whatever": "idle"} {
		t.Run(state, func(t *testing.T) {
			if got := Class(state); got != want {
				t.Errorf("Class(%q) = %q, want %q", state, got, want)
			}
		})
	}
}

func TestMS(t *testing.T) {
	for f, want := range map[float64]string{0: "0 ms", 1.234: "1.23 ms", 12.5: "12.5 ms", 0.005: "0.01 ms"} {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			if got := MS(f); got != want {
				t.Errorf("MS(%v) = %q, want %q", f, got, want)
			}
		})
	}
}

// TestRender: the nonce of the CSP is the one of the page's style and
// script, new on every answer; text is escaped; the token field is there
// only when asked for; a template error is a 500, not half a page.
func TestRender(t *testing.T) {
	p := New("t", `{{define "content"}}<p id="x">{{.Data}}</p>{{end}}`, nil)
	var nonces []string
	for range 2 {
		rec := httptest.NewRecorder()
		p.Render(rec, View{Title: "t", Heading: "h", State: "OK", NeedToken: true, Data: "<script>x</script>"}, nil)
		body, csp := rec.Body.String(), rec.Header().Get("Content-Security-Policy")
		_, rest, _ := strings.Cut(csp, "'nonce-")
		n, _, _ := strings.Cut(rest, "'")
		for _, want := range []string{`<style nonce="` + n + `">`, `<script nonce="` + n + `">`,
			`<p id="x">&lt;script&gt;x&lt;/script&gt;</p>`, `<input id="token"`, `<span id="corner" class="ok">OK</span>`} {
			if !strings.Contains(body, want) {
				t.Errorf("the page lacks %q", want)
			}
		}
		if !strings.Contains(csp, "frame-ancestors 'none'") || len(n) < 20 {
			t.Errorf("CSP %q", csp)
		}
		nonces = append(nonces, n)
	}
	if nonces[0] == nonces[1] {
		t.Error("the nonce was used twice")
	}
	rec := httptest.NewRecorder()
	p.Render(rec, View{}, nil)
	if strings.Contains(rec.Body.String(), `id="token"`) {
		t.Error("a token field without NeedToken")
	}
	bad := New("bad", `{{define "content"}}{{.Data.Missing}}{{end}}`, nil)
	rec = httptest.NewRecorder()
	bad.Render(rec, View{Data: struct{}{}}, nil)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "<html") {
		t.Errorf("a template error: %d %q", rec.Code, rec.Body.String())
	}
}

// typedRole stands for a scheme's typed role or state (gateway.Role, ...).
type typedRole string

func (r typedRole) String() string { return string(r) }

// A page classes a typed role or state by its String(), as it does a
// string: before, cls took only strings and such a page was a 500.
func TestClassOfTypedValue(t *testing.T) {
	p := New("t", `{{define "content"}}<span class="{{cls .Data}}">{{.Data}}</span>{{end}}`, nil)
	rec := httptest.NewRecorder()
	p.Render(rec, View{Title: "t", Data: typedRole("active")}, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `<span class="ok">active</span>`) {
		t.Errorf("%d\n%s", rec.Code, rec.Body.String())
	}
}

func TestOwnNavigation(t *testing.T) {
	for _, tc := range []struct {
		name, site, referer string
		own                 bool
	}{
		{"same origin", "same-origin", "", true},
		{"typed or bookmarked", "none", "", true},
		{"another site's link", "cross-site", "", false},
		{"another port of this host", "same-site", "", false},
		{"curl", "", "", true},
		{"old browser from its own page", "", "http://127.0.0.1:9180/schedsync", true},
		{"old browser from another site", "", "http://evil.example/x", false},
		{"old browser from another port", "", "http://127.0.0.1:8080/", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "http://127.0.0.1:9180/schedsync?confirm=promote", nil)
			if tc.site != "" {
				r.Header.Set("Sec-Fetch-Site", tc.site)
			}
			if tc.referer != "" {
				r.Header.Set("Referer", tc.referer)
			}
			if got := OwnNavigation(r); got != tc.own {
				t.Errorf("OwnNavigation = %v, want %v", got, tc.own)
			}
		})
	}
}
