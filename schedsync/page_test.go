package schedsync

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
)

// xssDir and xssPath make a file name that is a script element once the
// path is printed: the directory holds "<script>...<", the file "script>.bin".
const (
	xssDir  = "<script>document.title='pwned'<"
	xssPath = xssDir + "/script>.bin"
)

// ringNode starts a real node whose log records reach ring, as a daemon's do.
func ringNode(t *testing.T, cfg *Config, ln net.Listener, ring *logging.Ring) *testNode {
	t.Helper()
	log, err := logging.New(io.Discard, "info", "text", ring)
	must(t, err)
	return startNodeLog(t, cfg, ln, log)
}

// servePage serves n's admin endpoints and page, as `schedsync run` does,
// with the admin token (none: "") and the events of ring.
func servePage(t *testing.T, n *testNode, ring *logging.Ring, token config.Secret) string {
	t.Helper()
	srv := adminapi.NewServer("schedsync run", "test", ring, logging.Discard())
	srv.SetAccess(adminapi.Config{Token: token})
	n.Register(srv, token)
	must(t, srv.Listen("127.0.0.1:0"))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return srv.Addr()
}

// secondaryOfFake starts a real secondary that follows f, with a ring.
func secondaryOfFake(t *testing.T, f *fakePrimary, ring *logging.Ring) *testNode {
	t.Helper()
	_, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryCopy, nil)
	lnA.Close()
	b.Peer = "http://" + f.addr
	return ringNode(t, b, lnB, ring)
}

// getPage fetches the page (with query, e.g. "confirm=resync").
func getPage(t *testing.T, addr, query string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + PagePath + "?" + query)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %s\n%s", PagePath, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") ||
		!strings.Contains(csp, "script-src 'nonce-") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}
	return string(b)
}

func mustContain(t *testing.T, page string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(page, w) {
			t.Fatalf("the page lacks %q:\n%s", w, page)
		}
	}
}

// TestPageFromRunningNode renders the page of a real secondary: during
// the first copy (held halfway by the primary) it shows Connecting and
// the progress; then a file whose content never matches the manifest,
// named like a script element, is listed as a sync error, escaped.
func TestPageFromRunningNode(t *testing.T) {
	f := newFake(t)
	big := bigData(1<<20, 7)
	f.put(Entry{Path: "big.bin", Kind: KindFile, Size: int64(len(big)), Mode: 0o644, Hash: contentSum(big)}, big)
	f.put(Entry{Path: xssDir, Kind: KindDir, Mode: 0o755}, nil)
	f.put(Entry{Path: xssPath, Kind: KindFile, Size: 5, Mode: 0o644, Hash: contentSum([]byte("other"))}, []byte("hello"))
	release := f.holdHalf("big.bin")
	t.Cleanup(release)
	ring := logging.NewRing(0)
	s := secondaryOfFake(t, f, ring)
	addr := servePage(t, s, ring, "")
	testutil.Eventually(t, 10*time.Second, "the transfer held halfway", func() bool {
		p := s.prog.Load().view()
		return p != nil && p.BytesDone >= int64(len(big)/2)
	})
	page := getPage(t, addr, "")
	mustContain(t, page, `<span id="corner" class="busy"`, ">Connecting</span>", `<td id="mode">secondary-copy</td>`,
		`<td id="epoch">0</td>`, `<td id="peer">http://`+f.addr+" — connected", `<progress max="100" value="`,
		"of 1.0 MiB, 0/2 files", "(this node)", `id="resync"`, `id="promote"`)
	for _, st := range States {
		mustContain(t, page, `">`+st.String()+`</td>`)
	}
	release()
	testutil.Eventually(t, 20*time.Second, "the file listed as a sync error", func() bool {
		d := s.Status()[0]
		errs, _ := d.Details["sync_errors"].([]string)
		return State(d.State) == StateNotSynced && len(errs) == 1 && strings.Contains(errs[0], "gave up")
	})
	page = getPage(t, addr, "")
	escaped := "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;.bin"
	mustContain(t, page, ">Not synced</span>", `<table id="errors">`, "<td>"+escaped+": ", "no transfer in flight",
		"status changed from=Connecting to=", `<table id="events">`)
	if strings.Contains(page, "<script>document.title") {
		t.Fatalf("a file name from the status reached the page as markup:\n%s", page)
	}
}

// TestPageConfirmWithoutJavaScript: without JavaScript, an action's button
// asks for the confirmation page, which states the consequence above a
// form that posts to the action's endpoint; that post works from the
// page's origin on loopback and is refused from another origin; the page
// is not served under a name that is not the listener's (DNS rebinding).
// The admin listener's index lists the node, linking to the page.
func TestPageConfirmWithoutJavaScript(t *testing.T) {
	p, s := startPair(t, ModePrimary, ModeSecondaryCopy, nil)
	writeFile(t, p.dir, "doc.txt", "primary", 0o644)
	waitSame(t, p, s, "initial copy")
	ring := logging.NewRing(0)
	addr := servePage(t, s, ring, "")
	page := getPage(t, addr, "")
	mustContain(t, page, `<form method="get" action="/schedsync"`, `name="confirm" value="promote"`)
	index, _ := webuitest.Get(t, "http://"+addr+"/")
	mustContain(t, index, `<a href="/schedsync">`+s.cfg.NodeID+`</a>`, `class="state pill ok">Synced</span>`)
	page = getPage(t, addr, "confirm=promote")
	mustContain(t, page, `<section id="confirm">`, "THE PRIMARY IS ALIVE", "TWO PRIMARIES",
		`<form method="post" action="/v1/schedsync/promote"`)
	if s.Role() != RoleSecondary {
		t.Fatal("showing the confirmation promoted the node")
	}
	// another site's link to the confirmation step gets the plain page:
	// no ready "yes, do it" button
	for _, site := range []string{"cross-site", "same-site"} {
		req, _ := http.NewRequest("GET", "http://"+addr+PagePath+"?confirm=promote", nil)
		req.Header.Set("Sec-Fetch-Site", site)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || strings.Contains(string(b), `id="confirm"`) ||
			!strings.Contains(string(b), `name="confirm" value="promote"`) {
			t.Fatalf("?confirm=promote from a %s link: %d, the confirmation shown: %v", site, resp.StatusCode,
				strings.Contains(string(b), `id="confirm"`))
		}
	}
	post := func(origin, site string) int {
		req, _ := http.NewRequest("POST", "http://"+addr+ActionPath("resync"), strings.NewReader(url.Values{}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", site)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("http://evil.example", "cross-site"); c != http.StatusForbidden {
		t.Fatalf("a cross-site form post: %d, want 403", c)
	}
	req, _ := http.NewRequest("GET", "http://"+addr+PagePath, nil)
	req.Host = "rebind.evil.example"
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("the page under a rebound name: %d, want 421", resp.StatusCode)
	}
	if c := post("http://"+addr, "same-origin"); c != http.StatusOK {
		t.Fatalf("the confirmation form's post: %d, want 200", c)
	}
}
