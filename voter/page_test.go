package voter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
)

// xssClient is a client name that is a script element when printed as HTML.
const xssClient = "<script>document.title='pwned'</script>"

// TestPageFromServer renders the page of a running server: the master
// (timing, GPS), a client named like a script element that the vote
// picks (shown as text), a client that never connected, the RSSI bars and
// unknown_digest highlighted once a client with a wrong password tried;
// the admin listener's index lists the instance, linking to its section.
func TestPageFromServer(t *testing.T) {
	sink := newRTPSink(t)
	master := &ClientConfig{Password: "mpw", Master: true}
	srv := startServer(t, map[string]*Config{"main": voterCfg("127.0.0.1:0", sink.addr(),
		map[string]*ClientConfig{"master": master, xssClient: cl("apw"), "bob": cl("bpw")})})
	addr := srv.Addr("main")
	m := sim("master", "mpw", addr)
	m.Master, m.RSSI, m.Audio = true, func(uint64) byte { return 10 }, constAudio(0x30)
	a := sim(xssClient, "apw", addr)
	a.RSSI, a.Audio = func(uint64) byte { return 200 }, constAudio(0x10)
	s := startSim(t, m, a)
	testutil.Eventually(t, 5*time.Second, "clients connected", s.Connected)
	startSim(t, sim("mallory", "wrong", addr))
	testutil.Eventually(t, 5*time.Second, "the vote for the strongest and a wrong digest counted", func() bool {
		doc := srv.Status()[0]
		return doc.Details["winner"] == xssClient && srv.Stats("main")["unknown_digest"] > 0
	})
	base := "http://" + serveVoterAdmin(t, srv.Server)
	index, _ := webuitest.Get(t, base+"/")
	for _, want := range []string{`<a href="/voter#instance-main">main</a>`, `class="state pill ok">serving</span>`} {
		if !strings.Contains(index, want) {
			t.Errorf("the index lacks %q\n%s", want, index)
		}
	}
	page, _ := webuitest.Get(t, base+PagePath)
	for _, want := range []string{
		"Instance main", ">serving<", "master master: <span class=\"pill ok\">timing</span>",
		"<b>&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;</b>", "◀ voted",
		`<td class="client-name">bob</td>`, ">not connected<", ">connected<",
		`<meter min="0" max="255" low="40" optimum="255" value="200">`, `value="10">`,
		`<tr class="counter digest hot"><td>unknown_digest`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, xssClient) {
		t.Error("the client name is printed as HTML")
	}
	if t.Failed() || testing.Verbose() {
		t.Log(page)
	}
}

// serveVoterAdmin serves s's admin endpoints and page as `voter serve` does.
func serveVoterAdmin(t *testing.T, s *Server) string {
	t.Helper()
	admin := adminapi.NewServer("voter serve", "test", nil, logging.Discard())
	s.Register(admin, "")
	if err := admin.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = admin.Serve(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return admin.Addr()
}
