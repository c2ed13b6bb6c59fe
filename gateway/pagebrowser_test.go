package gateway

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/testutil"
	"github.com/redund/redund/internal/webui/webuitest"
)

// TestPageOnSharedLayoutInChromium loads the page of a running standby
// whose admin endpoints need the token in headless Chromium: the shared
// layout (the corner shows the role) around the page's content; "Force
// re-sync" is refused without the token and done with it, the token
// field keeping what is typed across the page's own refreshes.
func TestPageOnSharedLayoutInChromium(t *testing.T) {
	webuitest.NeedChromium(t)
	const token = "page-test-token"
	m, b, _ := pair(t, nil)
	m.SetConfig("site", []byte("plant-7"))
	addr := admin(t, b, token)
	br := webuitest.Start(t)
	br.Navigate("http://" + addr + PagePath)
	for id, want := range map[string]string{"corner": RoleStandby.String(), "role": RoleStandby.String(), "node": b.cfg.NodeID} {
		if got := br.Text(id); got != want {
			t.Fatalf("#%s: %q, want %q", id, got, want)
		}
	}
	for id, want := range map[string]string{"peer": "yes — " + m.cfg.NodeID, "providers": "config", "settings": "mode"} {
		if got := br.Text(id); !strings.Contains(got, want) {
			t.Fatalf("#%s: %q lacks %q", id, got, want)
		}
	}
	br.Click("resync")
	testutil.Eventually(t, 10*time.Second, "the refusal shown", func() bool { return strings.HasPrefix(br.Text("result"), "refused") })
	if r := br.Text("result"); !strings.Contains(r, "missing or wrong admin token") {
		t.Fatalf("without the token: %q", r)
	}
	br.Eval(`document.getElementById("token").value = "`+token+`", document.getElementById("live").dataset.old = "1", true`, nil)
	testutil.Eventually(t, 10*time.Second, "a refresh of the page (which keeps the token typed)", func() bool {
		var old bool
		br.Eval(`document.getElementById("live").dataset.old === "1"`, &old)
		return !old
	})
	br.Click("resync")
	testutil.Eventually(t, 15*time.Second, "the action's answer", func() bool {
		r := br.Text("result")
		return r != "" && !strings.HasSuffix(r, "…")
	})
	if r := br.Text("result"); strings.HasPrefix(r, "refused") {
		t.Fatalf("with the token: %q", r)
	}
	if testutil.Updating() { // go test -run TestPageOnSharedLayoutInChromium -update ./gateway/
		br.Eval(`document.getElementById("token").value = "", document.getElementById("result").textContent = "", true`, nil)
		shot(t, br, "gateway-page.png")
	}
}

// TestIndexInChromium loads the index of a running gateway's admin
// listener: the node with its role, state, peer and health as `redund
// status` shows them, linking to the node's page.
func TestIndexInChromium(t *testing.T) {
	webuitest.NeedChromium(t)
	m, b, _ := pair(t, nil)
	addr := admin(t, m, "")
	br := webuitest.Start(t)
	br.Navigate("http://" + addr + "/")
	var rows []string
	br.Eval(`Array.from(document.querySelectorAll("#instances tr.instance"), tr => Array.from(tr.cells, c => c.textContent.replace(/\s+/g, " ").trim()).join("|"))`, &rows)
	if len(rows) != 1 || !strings.HasPrefix(rows[0], m.cfg.NodeID+"|gateway|"+ModeMaster.String()+"/"+RoleActive.String()+"|Synced ") ||
		!strings.Contains(rows[0], "|up 127.0.0.1:") {
		t.Fatalf("the instances listed: %q", rows)
	}
	if c := br.Text("corner"); c == "" {
		t.Fatal("no state in the corner")
	}
	if testutil.Updating() { // go test -run TestIndexInChromium -update ./gateway/
		shot(t, br, "index-page.png")
	}
	br.Follow(`setTimeout(() => document.querySelector("#instances td.inst a").click(), 0), true`)
	var path string
	br.Eval(`location.pathname + " " + (document.getElementById("node") || {textContent: ""}).textContent`, &path)
	if path != PagePath+" "+m.cfg.NodeID {
		t.Fatalf("after following the link: %q, want the node's page", path)
	}
	_ = b
}

// shot writes a screenshot to docs/img/name.
func shot(t *testing.T, br *webuitest.Browser, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join("..", "docs", "img", name), br.Screenshot(1100), 0o644); err != nil {
		t.Fatal(fmt.Errorf("screenshot: %w", err))
	}
}
