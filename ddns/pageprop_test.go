package ddns

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
)

// startDNS serves example.test. on loopback UDP: NS ns1.example.test.,
// whose address is 127.0.0.1, and addr as the A record of any other name.
// It is the bootstrap resolver, the authoritative server (on the port it
// returns) or a resolver with an old value, as the test uses it.
func startDNS(t *testing.T, addr string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		qq := q.Question[0]
		var rr string
		switch {
		case qq.Qtype == dns.TypeNS:
			rr = qq.Name + " 60 IN NS ns1.example.test."
		case qq.Qtype == dns.TypeA && qq.Name == "ns1.example.test.":
			rr = qq.Name + " 60 IN A 127.0.0.1"
		case qq.Qtype == dns.TypeA:
			rr = qq.Name + " 60 IN A " + addr
		}
		if rr != "" {
			r, _ := dns.NewRR(rr)
			m.Answer = append(m.Answer, r)
		}
		_ = w.WriteMsg(m)
	})
	ds := &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: func() { close(ready) }}
	done := make(chan struct{})
	go func() { defer close(done); _ = ds.ActivateAndServe() }()
	t.Cleanup(func() { _ = ds.Shutdown(); <-done })
	<-ready
	return pc.LocalAddr().String()
}

// withPropagation points the cat scheme's propagation view at an
// authoritative server that answers the backup's address (also the first
// resolver) and a second resolver that still answers main's.
func withPropagation(t *testing.T) func(*Config, *Options) {
	auth, stale := startDNS(t, "192.0.2.2"), startDNS(t, "192.0.2.1")
	_, port, _ := net.SplitHostPort(auth)
	return func(c *Config, o *Options) {
		c.Provider.Zone = "example.test"
		c.Resolvers = []string{auth, stale}
		o.Propagation.NSPort = port
	}
}

// TestPagePropagation: the page shows, per scheme, the provider's value
// with its last reply, what the zone's authoritative server and each
// resolver answer and whether they agree (made in the background, after
// the page asked), and the recent decisions with their times.
func TestPagePropagation(t *testing.T) {
	ring := logging.NewRing(0)
	d, _ := startPageDaemonWith(t, ring, "backup", withPropagation(t))
	addr := serveAdmin(t, d, ring, "")
	var page string
	testutil.Eventually(t, 10*time.Second, "the propagation view on the page", func() bool {
		page, _ = webuitest.Get(t, "http://"+addr+PagePath)
		return strings.Contains(page, `<table class="propagation">`)
	})
	for _, want := range []string{
		"Zone example.test. — ", "not every server answers the provider's value",
		`<tr class="answer provider"><td>provider</td>`, "(last reply ",
		`<tr class="answer authoritative"><td>authoritative</td><td>ns1.example.test</td>`,
		`<td class="values">192.0.2.2 </td>` + "\n" + `<td><span class="pill ok">yes</span>`,
		`<td class="values">192.0.2.1 </td>` + "\n" + `<td><span class="pill bad">no</span>`,
		`<table class="decisions">`, `<tr class="decided"><td>`, "point → backup (192.0.2.2)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(page)
	}
}

// TestPagePropagationNeverBlocks: while the only resolver holds the
// view's first query unanswered, the page answers at once and says that
// the view is not made yet; once the resolver refuses, the page says why
// the view could not be made.
func TestPagePropagationNeverBlocks(t *testing.T) {
	hole, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hole.Close() })
	ring := logging.NewRing(0)
	d, _ := startPageDaemonWith(t, ring, "backup", func(c *Config, o *Options) {
		c.Resolvers = []string{hole.LocalAddr().String()}
		o.Propagation.Timeout = time.Minute
	})
	addr := serveAdmin(t, d, ring, "")
	webuitest.Get(t, "http://"+addr+PagePath) // asks for the view
	buf := make([]byte, 512)
	n, from, err := hole.ReadFrom(buf) // the view's first query, unanswered for now
	if err != nil {
		t.Fatal(err)
	}
	page, _ := webuitest.Get(t, "http://"+addr+PagePath)
	if !strings.Contains(page, `class="prop-none"`) || strings.Contains(page, `class="propagation"`) {
		t.Fatalf("the page while the view waits for the resolver:\n%s", page)
	}
	q := new(dns.Msg)
	if err := q.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetRcode(q, dns.RcodeRefused)
	out, _ := m.Pack()
	if _, err := hole.WriteTo(out, from); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 10*time.Second, "the reason shown", func() bool {
		page, _ = webuitest.Get(t, "http://"+addr+PagePath)
		return strings.Contains(page, `<p class="note prop-error">Not checked: ddns: propagation: `) &&
			strings.Contains(page, "REFUSED")
	})
}

// TestIndexFromDaemon: the admin listener's index lists the scheme with
// its state, linking to its section of the page; it is guarded like the
// page (a rebound Host is refused) and / serves nothing below it.
func TestIndexFromDaemon(t *testing.T) {
	ring := logging.NewRing(0)
	d, _ := startPageDaemon(t, ring, "backup")
	addr := serveAdmin(t, d, ring, "")
	// the backup is published once main is ERR and backup OK; sorry's
	// first probe may still be due (probes are spread over an interval)
	var page string
	testutil.Eventually(t, 5*time.Second, "the index shows sorry OK too", func() bool {
		page, _ = webuitest.Get(t, "http://"+addr+"/")
		return strings.Contains(page, "2/3 OK: main ERR")
	})
	for _, want := range []string{`<a href="/ddns#scheme-cat">cat</a>`, `class="state pill ok">Synced</span>`, "2/3 OK: main ERR"} {
		if !strings.Contains(page, want) {
			t.Errorf("the index lacks %q\n%s", want, page)
		}
	}
	for _, tc := range []struct {
		path, host string
		code       int
	}{{"/nothing", "", http.StatusNotFound}, {"/", "rebind.evil.example", http.StatusMisdirectedRequest}} {
		req, _ := http.NewRequest("GET", "http://"+addr+tc.path, nil)
		if tc.host != "" {
			req.Host = tc.host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("GET %s (Host %q): %d, want %d", tc.path, tc.host, resp.StatusCode, tc.code)
		}
	}
}
