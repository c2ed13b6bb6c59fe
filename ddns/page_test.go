package ddns

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
)

// xssName is a server name that is a script element when printed as HTML.
const xssName = "<script>document.title='pwned'</script>"

// serveAdmin serves d's admin endpoints and page, as `ddns run` does, with
// the events of ring and the admin token (none: "").
func serveAdmin(t *testing.T, d *Daemon, ring *logging.Ring, token config.Secret) string {
	t.Helper()
	admin := adminapi.NewServer("ddns run", "test", ring, logging.Discard())
	admin.SetAccess(adminapi.Config{Token: token})
	d.Register(admin, token)
	if err := admin.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = admin.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return admin.Addr()
}

// startPageDaemon runs the cat scheme with its backup named backupName and
// main down, its log records in ring: it points at the backup.
func startPageDaemon(t *testing.T, ring *logging.Ring, backupName string) (*Daemon, *memProvider) {
	t.Helper()
	return startPageDaemonWith(t, ring, backupName, nil)
}

// startPageDaemonWith is startPageDaemon with edit applied to the config
// and the options before the daemon starts.
func startPageDaemonWith(t *testing.T, ring *logging.Ring, backupName string, edit func(*Config, *Options)) (*Daemon, *memProvider) {
	t.Helper()
	main, backup, sorry := newPage(t, false), newPage(t, true), newPage(t, true)
	c := catConfig(t, main, backup, sorry)
	c.Servers[1].Name = backupName
	p := &memProvider{}
	log, err := logging.New(io.Discard, "info", "text", ring)
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Log: log, Provider: func(string, *Config) (dnsupdate.Provider, error) { return p, nil }}
	if edit != nil {
		edit(c, &o)
	}
	d, err := New(map[string]*Config{"cat": c}, o)
	if err != nil {
		t.Fatal(err)
	}
	runDaemon(t, d)
	testutil.Eventually(t, 5*time.Second, "the backup published", func() bool {
		ss := d.Scheme("cat").Snapshot()
		return p.current() == "192.0.2.2" && ss.InSync
	})
	return d, p
}

// TestPageFromDaemon renders the page of a running daemon: the name, the
// value published and why, each server's health, probe and latency, the
// maintenance toggles and the events; a server named like a script
// element is shown as text.
func TestPageFromDaemon(t *testing.T) {
	ring := logging.NewRing(0)
	d, _ := startPageDaemon(t, ring, xssName)
	addr := serveAdmin(t, d, ring, "")
	page, resp := webuitest.Get(t, "http://"+addr+PagePath)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET %s: %d %s\n%s", PagePath, resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'nonce-") ||
		!strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("Content-Security-Policy %q", csp)
	}
	for _, want := range []string{
		"Scheme cat:", "cat.example.test", ">Synced<", "192.0.2.2", "in sync",
		"point → &lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt; (192.0.2.2)",
		`<td class="server-name">main</td>`, ">ERR<", ">OK<", "status=OK", "probes)", " ms</td>",
		`data-post="/v1/ddns/maintenance"`, "&#34;server&#34;:&#34;main&#34;,&#34;on&#34;:true", "Maintenance</button>",
		`<table id="events">`, "published", `<small class="read">(read `,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, xssName) {
		t.Errorf("the server name is printed as HTML:\n%s", page)
	}
	if t.Failed() || testing.Verbose() {
		t.Log(page)
	}
}

// TestPagePublishedOnlyWhenInSync: the page marks the chosen server
// "published" only when the provider holds its address; a pending or
// failing push, or a follower that never pushes, says "decided".
func TestPagePublishedOnlyWhenInSync(t *testing.T) {
	for _, tc := range []struct {
		name            string
		inSync          bool
		published, mark bool
	}{{"in sync", true, true, true}, {"push pending", false, false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			var p pageScheme
			p.D.Decision = Decision{Action: ActionPoint, Server: "main"}
			p.D.InSync = tc.inSync
			if p.Published("main") != tc.published || p.Chosen("main") != tc.mark || p.Published("backup") {
				t.Errorf("published %v, chosen %v", p.Published("main"), p.Chosen("main"))
			}
		})
	}
}
