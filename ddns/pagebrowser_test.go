package ddns

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
)

// TestPageInChromium loads the page of a running daemon whose admin
// listener requires the token in headless Chromium, checks what it shows,
// and puts the published server in maintenance from the page: refused
// without the token, done with it; the daemon then publishes the next
// server and the page, refreshing itself, shows it.
func TestPageInChromium(t *testing.T) {
	webuitest.NeedChromium(t)
	const token = "page-test-token"
	ring := logging.NewRing(0)
	d, p := startPageDaemonWith(t, ring, "backup", withPropagation(t))
	addr := serveAdmin(t, d, ring, token)
	br := webuitest.Start(t)
	br.Navigate("http://" + addr + PagePath)
	checkBrowserPage(t, br)
	testutil.Eventually(t, 10*time.Second, "the propagation view, by the page's own refresh", func() bool {
		return strings.Contains(pageText(t, br, ".propagation tr.authoritative"), "192.0.2.2")
	})

	clickMaint := (`setTimeout(() => Array.from(document.querySelectorAll("button.maint")).find(b => b.dataset.server === "backup").click(), 0), true`)
	br.Eval(clickMaint, nil)
	testutil.Eventually(t, 10*time.Second, "the refusal shown", func() bool { return strings.HasPrefix(br.Text("result"), "refused") })
	if r := br.Text("result"); !strings.Contains(r, "missing or wrong admin token") {
		t.Fatalf("without the token: %q", r)
	}
	if d.Scheme("cat").Snapshot().Servers[1].Maintenance {
		t.Fatal("maintenance was set without the token")
	}

	br.Eval(`document.getElementById("token").value = "`+token+`", document.getElementById("live").dataset.old = "1", true`, nil)
	testutil.Eventually(t, 10*time.Second, "a refresh of the page (which keeps the token typed)", func() bool {
		var old bool
		br.Eval(`document.getElementById("live").dataset.old === "1"`, &old)
		return !old
	})
	br.Eval(clickMaint, nil)
	testutil.Eventually(t, 10*time.Second, "the action's answer", func() bool { return br.Text("result") == "maintenance on for backup: done" })
	testutil.Eventually(t, 10*time.Second, "sorry published", func() bool {
		ss := d.Scheme("cat").Snapshot()
		return p.current() == "192.0.2.3" && ss.InSync && ss.Servers[1].Maintenance
	})
	testutil.Eventually(t, 10*time.Second, "the page refreshed to sorry", func() bool {
		return strings.Contains(pageText(t, br, ".published"), "192.0.2.3") &&
			strings.Contains(pageText(t, br, "tr.chosen .server-name"), "sorry")
	})
	if m := pageText(t, br, "tr.server:nth-child(3) .health"); m != "MAINT (OK)" {
		t.Fatalf("backup's health: %q", m)
	}
	if testutil.Updating() { // go test -run TestPageInChromium -update ./ddns/
		br.Eval(`document.getElementById("token").value = "", document.getElementById("result").textContent = "", true`, nil)
		if err := os.WriteFile(filepath.Join("..", "docs", "img", "ddns-page.png"), br.Screenshot(1100), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// checkBrowserPage checks what the page shows of the cat scheme with main
// down and the backup published.
func checkBrowserPage(t *testing.T, br *webuitest.Browser) {
	t.Helper()
	for sel, want := range map[string]string{
		"#corner": "Synced", "#scheme-cat .state": "Synced", "#scheme-cat .name": "cat.example.test",
		"tr.chosen .server-name": "backup ◀ published", "tr.server:nth-child(2) .health": "ERR",
		"tr.server:nth-child(3) .health": "OK",
	} {
		if got := pageText(t, br, sel); got != want {
			t.Fatalf("%s: %q, want %q", sel, got, want)
		}
	}
	for sel, want := range map[string]string{
		".published": "192.0.2.2", ".decision": "point → backup (192.0.2.2) — backup is the highest-priority server that is OK",
		"tr.server:nth-child(2) .probe": `musthave "status=OK" not found`, "#events": "record updated",
	} {
		if got := pageText(t, br, sel); !strings.Contains(got, want) {
			t.Fatalf("%s: %q lacks %q", sel, got, want)
		}
	}
	var n int
	br.Eval(`document.querySelectorAll("button.maint").length + (document.getElementById("token") ? 10 : 0)`, &n)
	if n != 13 {
		t.Fatalf("maintenance buttons + 10 for the token field: %d", n)
	}
}

// pageText is the textContent of the first element that matches sel.
func pageText(t *testing.T, br *webuitest.Browser, sel string) string {
	t.Helper()
	var s string
	br.Eval(fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, sel), &s)
	return strings.TrimSpace(s)
}
