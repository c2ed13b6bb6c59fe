package voter

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
)

// TestPageInChromium loads the page of a running server in headless
// Chromium: the vote's pick, the RSSI bars, the timing source; a client
// named like a script element is text and does not run; the page follows
// a change of the vote by refreshing itself.
func TestPageInChromium(t *testing.T) {
	webuitest.NeedChromium(t)
	sink := newRTPSink(t)
	srv := startServer(t, map[string]*Config{"main": voterCfg("127.0.0.1:0", sink.addr(),
		map[string]*ClientConfig{"master": {Password: "mpw", Master: true}, "hilltop": cl("apw"),
			xssClient: cl("bpw"), "harbour": cl("cpw")})})
	addr := srv.Addr("main")
	ra, rb := newRSSI(180), newRSSI(90)
	m := sim("master", "mpw", addr)
	m.Master, m.RSSI, m.Audio = true, func(uint64) byte { return 20 }, constAudio(0x30)
	a := sim("hilltop", "apw", addr)
	a.RSSI, a.Audio = varRSSI(ra), constAudio(0x10)
	b := sim(xssClient, "bpw", addr)
	b.RSSI, b.Audio = varRSSI(rb), constAudio(0x20)
	s := startSim(t, m, a, b)
	testutil.Eventually(t, 5*time.Second, "clients connected", s.Connected)
	testutil.Eventually(t, 5*time.Second, "hilltop voted", func() bool { return srv.Status()[0].Details["winner"] == "hilltop" })

	br := webuitest.Start(t)
	br.Navigate("http://" + serveVoterAdmin(t, srv.Server) + PagePath)
	if w := text(t, br, "#instance-main .winner"); w != "hilltop — keyed" {
		t.Fatalf("the vote shown: %q", w)
	}
	var rssi []float64
	br.Eval(`Array.from(document.querySelectorAll("td.rssi meter"), m => m.value)`, &rssi)
	var title string
	br.Eval(`document.title`, &title)
	if title != "redund voter main: serving" || len(rssi) != 4 {
		t.Fatalf("title %q (a client name ran as a script?), RSSI bars %v", title, rssi)
	}
	if c := text(t, br, "tr.client:nth-child(2) .client-name"); c != xssClient+" " && c != xssClient {
		t.Fatalf("the first client shown: %q", c)
	}
	if tm := text(t, br, ".timing"); !strings.HasPrefix(tm, "master master: timing") {
		t.Fatalf("timing: %q", tm)
	}
	rb.Store(250)
	testutil.Eventually(t, 10*time.Second, "the page refreshed to the new vote", func() bool {
		return strings.HasPrefix(text(t, br, "#instance-main .winner"), xssClient)
	})
	if testutil.Updating() { // go test -run TestPageInChromium -update ./voter/
		rb.Store(90)
		testutil.Eventually(t, 10*time.Second, "hilltop voted on the page", func() bool {
			return strings.HasPrefix(text(t, br, "#instance-main .winner"), "hilltop")
		})
		if err := os.WriteFile(filepath.Join("..", "docs", "img", "voter-page.png"), br.Screenshot(1100), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// text is the trimmed textContent of the first element that matches sel.
func text(t *testing.T, br *webuitest.Browser, sel string) string {
	t.Helper()
	var s string
	br.Eval(`(document.querySelector(`+strconv.Quote(sel)+`) || {textContent: ""}).textContent`, &s)
	return strings.TrimSpace(s)
}
