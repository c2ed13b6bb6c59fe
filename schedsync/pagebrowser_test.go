package schedsync

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
)

// TestPageInChromium loads the page of a running secondary (Not synced by
// a local edit) in headless Chromium, checks what it shows, clicks
// "Resync now" and accepts the confirmation: refused without the admin
// token the listener requires, done with it; the node then resyncs and
// the page, refreshing itself, shows Synced.
func TestPageInChromium(t *testing.T) {
	webuitest.NeedChromium(t)
	const token = "page-test-token"
	a, b, lnA, lnB := pairConfigs(t, ModePrimary, ModeSecondaryCopy, nil)
	p := startNode(t, a, lnA)
	ring := logging.NewRing(0)
	s := ringNode(t, b, lnB, ring)
	addr := servePage(t, s, ring, token)
	writeFile(t, p.dir, "playlist.xml", "<playlist>primary</playlist>", 0o644)
	waitSame(t, p, s, "initial copy")
	testutil.Eventually(t, 10*time.Second, "Synced", func() bool { return s.state() == StateSynced })
	writeFile(t, s.dir, "playlist.xml", "<playlist>edited on the secondary</playlist>", 0o644)
	testutil.Eventually(t, 10*time.Second, "Not synced", func() bool { return s.state() == StateNotSynced })

	br := webuitest.Start(t)
	br.Navigate("http://" + addr + PagePath)
	checkPageElements(t, br, a.Listen)

	br.Click("resync")
	testutil.Eventually(t, 10*time.Second, "the refusal shown", func() bool { return strings.HasPrefix(br.Text("result"), "refused") })
	if r := br.Text("result"); !strings.Contains(r, "missing or wrong admin token") {
		t.Fatalf("without the token: %q", r)
	}
	if d := br.Dialogs(); len(d) != 1 || !strings.HasPrefix(d[0], "Resync now?") ||
		!strings.Contains(d[0], "moved to .redund/conflicts/") {
		t.Fatalf("the confirmation did not state the consequence: %q", d)
	}
	if s.state() != StateNotSynced {
		t.Fatalf("after the refused resync: %s", s.state())
	}

	br.Eval(`document.getElementById("token").value = "`+token+`", document.getElementById("live").dataset.old = "1", true`, nil)
	testutil.Eventually(t, 10*time.Second, "a refresh of the page (which keeps the token typed)", func() bool {
		var old bool
		br.Eval(`document.getElementById("live").dataset.old === "1"`, &old)
		return !old
	})
	br.Click("resync")
	testutil.Eventually(t, 10*time.Second, "the action's answer", func() bool { return br.Text("result") == "resync done" })
	waitSame(t, p, s, "after the resync from the page")
	testutil.Eventually(t, 10*time.Second, "Synced after the resync", func() bool { return s.state() == StateSynced })
	assertSaved(t, s, "playlist.xml", "<playlist>edited on the secondary</playlist>")
	testutil.Eventually(t, 10*time.Second, "the page refreshed to Synced", func() bool { return State(br.Text("corner")) == StateSynced })
	if len(br.Dialogs()) != 2 {
		t.Fatalf("dialogs: %q", br.Dialogs())
	}
	if testutil.Updating() { // go test -run TestPageInChromium -update ./schedsync/
		screenshot(t, br, s.dir)
	}
}

// screenshot writes docs/img/schedsync-page.png, with the test's
// temporary directory shown as /srv/schedule (a path an operator would
// have) and the token field empty.
func screenshot(t *testing.T, br *webuitest.Browser, dir string) {
	t.Helper()
	br.Eval(`document.getElementById("token").value = "", document.getElementById("result").textContent = "", true`, nil)
	br.Eval(fmt.Sprintf(`(() => {
  const w = document.createTreeWalker(document.getElementById("live"), NodeFilter.SHOW_TEXT);
  for (let n = w.nextNode(); n; n = w.nextNode()) { n.textContent = n.textContent.replaceAll(%q, "/srv/schedule"); }
  return true; })()`, dir), nil)
	must(t, os.WriteFile(filepath.Join("..", "docs", "img", "schedsync-page.png"), br.Screenshot(1100), 0o644))
}

// checkPageElements checks what the page shows of a secondary that is
// Not synced while its primary (at peerAddr) is alive.
func checkPageElements(t *testing.T, br *webuitest.Browser, peerAddr string) {
	t.Helper()
	for id, want := range map[string]string{"corner": StateNotSynced.String(), "state": StateNotSynced.String(), "mode": ModeSecondaryCopy.String(),
		"role": RoleSecondary.String(), "epoch": "0", "progress": "no transfer in flight"} {
		if got := br.Text(id); got != want {
			t.Fatalf("#%s: %q, want %q", id, got, want)
		}
	}
	for id, want := range map[string]string{"reason": "playlist.xml", "peer": "http://" + peerAddr + " — connected",
		"last-sync": "last exchange with the peer", "events": `status changed from=Synced to="Not synced"`} {
		if got := br.Text(id); !strings.Contains(got, want) {
			t.Fatalf("#%s: %q lacks %q", id, got, want)
		}
	}
	var states []State
	br.Eval(`Array.from(document.querySelectorAll("#states tr.state td:first-child"), td => td.textContent)`, &states)
	if !slices.Equal(states, States) {
		t.Fatalf("the statuses shown: %q", states)
	}
	var current, promote string
	br.Eval(`document.querySelector("#states tr.current td").textContent`, &current)
	br.Eval(`document.getElementById("promote").form.dataset.consequence`, &promote)
	if State(current) != StateNotSynced || !strings.Contains(promote, "TWO PRIMARIES") {
		t.Fatalf("current status row %q; Make primary's consequence %q", current, promote)
	}
}

// TestPageScriptInFileNameInChromium: a file named like a script element,
// listed as a sync error, is shown as text and does not run.
func TestPageScriptInFileNameInChromium(t *testing.T) {
	webuitest.NeedChromium(t)
	f := newFake(t)
	f.put(Entry{Path: xssDir, Kind: KindDir, Mode: 0o755}, nil)
	f.put(Entry{Path: xssPath, Kind: KindFile, Size: 5, Mode: 0o644, Hash: [32]byte{1}}, []byte("hello"))
	ring := logging.NewRing(0)
	s := secondaryOfFake(t, f, ring)
	addr := servePage(t, s, ring, "")
	testutil.Eventually(t, 10*time.Second, "a sync error", func() bool {
		errs, _ := s.Status()[0].Details["sync_errors"].([]string)
		return len(errs) == 1
	})
	br := webuitest.Start(t)
	br.Navigate("http://" + addr + PagePath)
	if got := br.Text("errors"); !strings.Contains(got, xssPath+": ") {
		t.Fatalf("the sync errors shown: %q", got)
	}
	var title string
	br.Eval(`document.title`, &title)
	if !strings.HasPrefix(title, "schedsync b: ") {
		t.Fatalf("the file name ran as a script: title %q", title)
	}
}
