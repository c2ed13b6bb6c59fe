package adminapi

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/status"
)

// Two schemes that share one admin server both have their page on its
// index, and each instance links to its own scheme's page. Before, each
// scheme registered its own index at "/": the second registration
// collided with the first (a ServeMux panic), so two schemes could not
// share a listener without one of them hidden.
func TestIndexListsEverySchemePage(t *testing.T) {
	ddns := status.SourceFunc(func() []status.Document {
		return []status.Document{{Instance: "cat", Scheme: "ddns", Role: "active", State: "Synced", Since: since}}
	})
	s, base := startServer(t, voterSource(), ddns)
	page := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(name + " page")) })
	}
	s.Handle("GET /voter", page("voter"))
	s.AddPage("voter", "/voter", func(d status.Document) string { return "instance-" + d.Instance })
	s.Handle("GET /ddns", page("ddns"))
	s.AddPage("ddns", "/ddns", func(d status.Document) string { return "scheme-" + d.Instance })
	code, body := get(t, base+"/")
	if code != http.StatusOK {
		t.Fatalf("GET / = %d", code)
	}
	for _, want := range []string{`href="/voter">/voter</a>`, `href="/ddns">/ddns</a>`,
		`<a href="/voter#instance-east">east</a>`, `<a href="/ddns#scheme-cat">cat</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the index lacks %q", want)
		}
	}
	for _, p := range []string{"voter", "ddns"} {
		if code, body := get(t, base+"/"+p); code != http.StatusOK || body != p+" page" {
			t.Errorf("GET /%s = %d %q", p, code, body)
		}
	}
	if code, _ := get(t, base+"/nothing"); code != http.StatusNotFound {
		t.Errorf("GET /nothing = %d, want 404 (the index is / alone)", code)
	}
	if t.Failed() {
		t.Log(body)
	}
}

// The index lists the config's other daemons: a link to each one's own
// index, and for one configured on this listener's address (which cannot
// listen there too) the reason it is not here and what to change.
func TestIndexListsNeighbours(t *testing.T) {
	s := NewServer("voter serve", "v", nil, logging.Discard())
	s.SetNeighbours([]Neighbour{
		{Daemon: "ddns run", Key: "ddns", Addr: "127.0.0.1:0"}, // the address this server was given
		{Daemon: "gateway run", Key: "gateway", Addr: "0.0.0.0:9183"},
		{Daemon: "schedsync run", Key: "schedsync", Addr: "10.0.0.1:9184"},
	})
	base := serve(t, s, "127.0.0.1:0")
	_, body := get(t, base+"/")
	for _, want := range []string{
		`<td>ddns run</td><td>127.0.0.1:0</td>`, "give ddns run its own address ([admin] ddns)",
		`<td>gateway run</td><td><a href="http://127.0.0.1:9183/">0.0.0.0:9183</a>`,
		`<td>schedsync run</td><td><a href="http://10.0.0.1:9184/">10.0.0.1:9184</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the index lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

func TestSameAddrAndIndexURL(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"127.0.0.1:9180", "127.0.0.1:9180", true},
		{"LOCALHOST.:9180", "localhost:9180", true},
		{":9180", "0.0.0.0:9180", true},
		{"[::]:9180", ":9180", true},
		{"127.0.0.1:9180", "127.0.0.1:9182", false},
		{"127.0.0.1:9180", "0.0.0.0:9180", false},
	} {
		t.Run(tc.a+" "+tc.b, func(t *testing.T) {
			if got := sameAddr(tc.a, tc.b); got != tc.same {
				t.Errorf("sameAddr(%q, %q) = %v", tc.a, tc.b, got)
			}
		})
	}
	for _, tc := range []struct{ addr, host, want string }{
		{"127.0.0.1:9182", "127.0.0.1:9180", "http://127.0.0.1:9182/"},
		{":9182", "admin.example.net:9180", "http://admin.example.net:9182/"},
		{"[::]:9182", "[::1]:9180", "http://[::1]:9182/"},
		{"[::]:9182", "", "http://127.0.0.1:9182/"},
		{"garbage", "x", ""},
	} {
		t.Run(tc.addr+" via "+tc.host, func(t *testing.T) {
			if got := indexURL(tc.addr, tc.host); got != tc.want {
				t.Errorf("indexURL(%q, %q) = %q, want %q", tc.addr, tc.host, got, tc.want)
			}
		})
	}
}

// A daemon given the address another redund daemon listens on says which
// daemon holds it and what to change, not only "address already in use".
func TestListenNamesTheDaemonThatHoldsTheAddress(t *testing.T) {
	held, _ := startServer(t) // "test run"
	s := NewServer("ddns run", "v", nil, logging.Discard())
	err := s.Listen(held.Addr())
	if err == nil {
		t.Fatal("Listen on a held address succeeded")
	}
	for _, want := range []string{"address already in use", "`test run`", "give ddns run its own, [admin] ddns or --admin"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Listen: %v\nlacks %q", err, want)
		}
	}
}

// serve runs s on addr until the test ends and returns its base URL.
func serve(t *testing.T, s *Server, addr string) string {
	t.Helper()
	if err := s.Listen(addr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + s.Addr()
}
