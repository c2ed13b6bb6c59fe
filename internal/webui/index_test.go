package webui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/status"
)

// TestIndexCells: the peer and health cells say what `redund status`
// says, coloured by the worst state; the corner shows the worst state.
func TestIndexCells(t *testing.T) {
	for _, tc := range []struct {
		name       string
		doc        status.Document
		peer, pcls string
		hlth, hcls string
	}{
		{"nothing watched", status.Document{State: "OK"}, "-", "idle", "-", "idle"},
		{"peer up, all ok", status.Document{Peer: &status.Peer{Address: "10.0.0.2:9", Connected: true},
			Health: []status.Health{{Name: "a", State: "OK"}, {Name: "b", State: "OK"}}}, "up 10.0.0.2:9", "ok", "2/2 OK", "ok"},
		{"peer down, one err one maint", status.Document{Peer: &status.Peer{Address: "10.0.0.2:9", Reason: "refused"},
			Health: []status.Health{{Name: "a", State: "ERR"}, {Name: "b", State: "MAINT"}, {Name: "c", State: "OK"}}},
			"down 10.0.0.2:9: refused", "bad", "1/3 OK: a ERR, b MAINT", "bad"},
		{"maint only", status.Document{Health: []status.Health{{Name: "b", State: "MAINT"}}}, "-", "idle", "0/1 OK: b MAINT", "warn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := ReadIndex(status.Report{Instances: []status.Document{tc.doc}}, []PageLink{{Path: "/x"}})
			r := d.Rows[0]
			if r.PeerText != tc.peer || r.PeerClass != tc.pcls || r.HealthText != tc.hlth || r.HealthClass != tc.hcls {
				t.Errorf("got %q %q %q %q", r.PeerText, r.PeerClass, r.HealthText, r.HealthClass)
			}
		})
	}
}

// TestIndexPage: one row per instance linking to its section of the
// daemon's page, the worst state in the corner, names escaped.
func TestIndexPage(t *testing.T) {
	rep := status.Report{Daemon: "ddns run", Version: "1", Instances: []status.Document{
		{Instance: "cat", Scheme: "ddns", Role: "active", State: "Synced", Since: time.Now()},
		{Instance: "<b>dog</b>", Scheme: "ddns", Role: "active", State: "Unavailable", Reason: "no server is OK"},
	}}
	pages := []PageLink{{Scheme: "ddns", Path: "/ddns", Anchor: func(d status.Document) string { return "scheme-" + d.Instance }}}
	h := Index(func() status.Report { return rep }, func() []PageLink { return pages }, nil, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	for _, want := range []string{`<span id="corner" class="bad">Unavailable</span>`, `<a href="/ddns#scheme-cat">cat</a>`,
		`<a href="/ddns#scheme-%3cb%3edog%3c/b%3e">&lt;b&gt;dog&lt;/b&gt;</a>`, `class="state pill ok">Synced</span>`,
		"no server is OK", "<title>redund ddns run</title>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the index lacks %q", want)
		}
	}
	if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "script-src 'nonce-") {
		t.Errorf("CSP %q", rec.Header().Get("Content-Security-Policy"))
	}
	if t.Failed() {
		t.Log(body)
	}
}

// TestIndexSharedListener: two schemes on one listener both have their
// page on the index, and each instance links to its own scheme's page;
// the config's other daemons are listed with a link to their index, or
// the reason there is none. Text is escaped.
func TestIndexSharedListener(t *testing.T) {
	rep := status.Report{Daemon: "voter serve", Instances: []status.Document{
		{Instance: "east", Scheme: "voter", State: "serving"},
		{Instance: "cat", Scheme: "ddns", State: "Synced"},
		{Instance: "node-a", Scheme: "gateway", State: "Synced"},
	}}
	pages := []PageLink{
		{Scheme: "voter", Path: "/voter", Anchor: func(d status.Document) string { return "instance-" + d.Instance }},
		{Scheme: "ddns", Path: "/ddns", Anchor: func(d status.Document) string { return "scheme-" + d.Instance }},
	}
	neighbours := func(*http.Request) []Neighbour {
		return []Neighbour{{Daemon: "gateway run", Addr: "127.0.0.1:9183", URL: "http://127.0.0.1:9183/"},
			{Daemon: "schedsync <run>", Addr: "127.0.0.1:9180", Note: "shares <this> address"}}
	}
	h := Index(func() status.Report { return rep }, func() []PageLink { return pages }, neighbours, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	body := rec.Body.String()
	for _, want := range []string{`<a class="page-link" href="/voter">/voter</a>, <a class="page-link" href="/ddns">/ddns</a>`,
		`<a href="/voter#instance-east">east</a>`, `<a href="/ddns#scheme-cat">cat</a>`,
		`<td class="inst">node-a</td>`, // no page of its scheme: no link
		`<td>gateway run</td><td><a href="http://127.0.0.1:9183/">127.0.0.1:9183</a>`,
		`<td>schedsync &lt;run&gt;</td><td>127.0.0.1:9180</td>`, `shares &lt;this&gt; address`} {
		if !strings.Contains(body, want) {
			t.Errorf("the index lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}
