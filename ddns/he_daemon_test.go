package ddns

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/testutil"
)

// fakeHEWorld is dyn.dns.he.net plus ns1.he.net: POSTs change the address
// the DNS server answers; the first badauth POSTs are refused.
type fakeHEWorld struct {
	mu      sync.Mutex
	addr    string
	posts   []string
	badauth int
	failure string // when set, every POST gets HTTP 500 with this body
	stale   string // when set, DNS answers this address (a cache that lags)
	queries int
}

func (w *fakeHEWorld) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.posts = append(w.posts, r.PostForm.Get("myip"))
	if w.failure != "" {
		rw.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(rw, w.failure)
		return
	}
	if w.badauth > 0 {
		w.badauth--
		fmt.Fprint(rw, "badauth")
		return
	}
	if w.addr == r.PostForm.Get("myip") {
		fmt.Fprint(rw, "nochg "+w.addr)
		return
	}
	w.addr = r.PostForm.Get("myip")
	fmt.Fprint(rw, "good "+w.addr)
}

func (w *fakeHEWorld) serveDNS(rw dns.ResponseWriter, q *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(q)
	w.mu.Lock()
	addr := w.addr
	if w.stale != "" {
		addr = w.stale
	}
	w.queries++
	rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A " + addr)
	w.mu.Unlock()
	m.Answer = append(m.Answer, rr)
	_ = rw.WriteMsg(m)
}

func (w *fakeHEWorld) nochg() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for i := 1; i < len(w.posts); i++ {
		if w.posts[i] == w.posts[i-1] {
			n++
		}
	}
	return n
}

func startHEWorld(t *testing.T, w *fakeHEWorld) (string, string) {
	hs := httptest.NewServer(w)
	t.Cleanup(hs.Close)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	ds := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(w.serveDNS), NotifyStartedFunc: func() { close(ready) }}
	go func() { _ = ds.ActivateAndServe() }()
	t.Cleanup(func() { _ = ds.Shutdown() })
	<-ready
	return hs.URL + "/nic/update", pc.LocalAddr().String()
}

// startHECat runs the daemon with the scheme "cat" (catConfig's pages, all
// OK) on the real HE provider against world; tune may change the scheme's
// config first.
func startHECat(t *testing.T, world *fakeHEWorld, tune func(*Config)) (s *Scheme, main, backup *page) {
	t.Helper()
	url, ns := startHEWorld(t, world)
	main, backup = newPage(t, true), newPage(t, true)
	c := catConfig(t, main, backup, newPage(t, true))
	if tune != nil {
		tune(c)
	}
	c.Provider = dnsupdate.Config{Kind: "he", Password: "k", BaseURL: url, Server: ns, Timeout: config.Duration(time.Second)}
	p, err := dnsupdate.New(c.Provider)
	if err != nil {
		t.Fatal(err)
	}
	return startDaemon(t, c, p).Scheme("cat"), main, backup
}

// TestHEProviderNoRepeatedUpdates runs the daemon with the real HE
// provider: badauth is an error in the status and retried, and afterwards
// every POST carries a new address (no repeated nochg).
func TestHEProviderNoRepeatedUpdates(t *testing.T) {
	world := &fakeHEWorld{addr: "192.0.2.99", badauth: 2}
	s, main, _ := startHECat(t, world, nil)
	testutil.Eventually(t, 2*time.Second, "badauth in status", func() bool {
		return strings.Contains(s.Snapshot().LastError, "badauth") && s.Snapshot().Retry.Pending
	})
	testutil.Eventually(t, 5*time.Second, "main after retries", func() bool { return s.Snapshot().State == "Synced" })
	main.ok.Store(false)
	testutil.Eventually(t, 2*time.Second, "backup", func() bool { return s.Snapshot().ProviderValue[0] == "192.0.2.2" })
	main.ok.Store(true)
	testutil.Eventually(t, 2*time.Second, "main", func() bool {
		ss := s.Snapshot()
		return ss.ProviderValue[0] == "192.0.2.1" && ss.State == "Synced"
	})
	if n := world.nochg(); n != 2 { // only the two refused attempts were repeated
		t.Errorf("repeated POSTs: %d, want 2 (the badauth retries); posts %v", n, world.posts)
	}
	if last := s.Snapshot().LastPush; last == nil || last.Reply != "good 192.0.2.1" {
		t.Errorf("last push %+v", last)
	}
}

// TestHEUnseenPushBacksOff: when the resolver redund reads HE's value from
// keeps answering the old address after a successful POST, a recheck does
// not POST again at once each time: re-posts back off as failures do
// (before, every recheck posted).
func TestHEUnseenPushBacksOff(t *testing.T) {
	world := &fakeHEWorld{addr: "192.0.2.99", stale: "192.0.2.99"}
	startHECat(t, world, func(c *Config) {
		c.Recheck = config.Duration(20 * time.Millisecond)
		c.RetryMin, c.RetryMax = config.Duration(300*time.Millisecond), config.Duration(2*time.Second)
	})
	count := func() (posts, queries int) {
		world.mu.Lock()
		defer world.mu.Unlock()
		return len(world.posts), world.queries
	}
	testutil.Eventually(t, 10*time.Second, "40 rechecks", func() bool { _, q := count(); return q >= 40 })
	posts, queries := count()
	if posts < 1 || posts*4 > queries {
		t.Errorf("%d POSTs for %d reads that did not show the value: want at least one and no more than a quarter", posts, queries)
	}
}

// TestProviderErrorTextIsClean: a provider's error reply reaches the
// status (LastError, the retry, the page, `redund status`) without its
// control and bidirectional-text characters. The text of an HTTP error
// reply was kept as sent: an escape sequence in it reached the terminal
// of `redund ddns status`, a U+202E reordered the page's row.
func TestProviderErrorTextIsClean(t *testing.T) {
	world := &fakeHEWorld{addr: "192.0.2.99", failure: "maintenance\x1b]0;pwned\x07 \u202eyreve"}
	s, _, _ := startHECat(t, world, nil)
	var ss SchemeStatus
	testutil.Eventually(t, 5*time.Second, "the failure in the status", func() bool {
		ss = s.Snapshot()
		return strings.Contains(ss.LastError, "maintenance") && ss.Retry.Pending
	})
	for _, got := range []string{ss.LastError, ss.Retry.Error} {
		if strings.ContainsAny(got, "\x1b\x07\u202e") {
			t.Errorf("provider text not cleaned: %q", got)
		}
	}
}
