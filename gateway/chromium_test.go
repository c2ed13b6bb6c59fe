package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/webui/webuitest"
)

// TestStatusPageInHeadlessChromium loads the status page in a real browser
// and checks that the role and the provider table are rendered.
func TestStatusPageInHeadlessChromium(t *testing.T) {
	webuitest.NeedChromium(t)
	const browser = webuitest.ChromiumPath
	m, b, _ := pair(t, nil)
	_ = b
	m.SetConfig("site", []byte("plant-7"))
	url := "http://" + admin(t, m, "") + "/gateway"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--user-data-dir="+t.TempDir(), "--dump-dom", url)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	for _, want := range []string{`id="role"`, ">active<", `<table id="providers">`, "<td>config</td>", "<td>state</td>", "Force failover"} {
		if !strings.Contains(dom, want) {
			t.Fatalf("rendered page lacks %q:\n%s", want, dom)
		}
	}
}

// TestCrossSiteImportInHeadlessChromium: a page from another origin that
// the operator opens posts {"x":"y"} as text/plain to config-import (what
// a CSRF page does); the real browser sends it and the document is not
// written. The page's own origin may post.
func TestCrossSiteImportInHeadlessChromium(t *testing.T) {
	webuitest.NeedChromium(t)
	const browser = webuitest.ChromiumPath
	n := startGW(t, Config{NodeID: "solo", Mode: ModeIndependent, DataDir: t.TempDir()}, nil)
	waitRole(t, n, RoleActive, 3*time.Second)
	target := "http://" + admin(t, n, "") + "/v1/gateway/config-import"
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `<html><body><p id="r">pending</p><script>
fetch(`+strconv.Quote(target)+`, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: '{"x":"y"}'})
  .then(() => { document.getElementById("r").textContent = "sent"; })
  .catch(e => { document.getElementById("r").textContent = "failed " + e; });
</script></body></html>`)
	}))
	t.Cleanup(evil.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--user-data-dir="+t.TempDir(), "--virtual-time-budget=5000", "--dump-dom", evil.URL).Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if !strings.Contains(string(out), `<p id="r">sent</p>`) {
		t.Fatalf("the page's request did not complete:\n%s", out)
	}
	if got := docValue(t, n, ProvConfig, "x"); got != "<missing>" {
		t.Fatalf("a cross-site page imported configuration through the browser: x = %q", got)
	}
}

// TestRebindingInHeadlessChromium: a name the attacker controls resolves to
// the admin listener (chromium's resolver rules stand in for the rebinding
// DNS server); the browser gets 421, not the configuration.
func TestRebindingInHeadlessChromium(t *testing.T) {
	webuitest.NeedChromium(t)
	const browser = webuitest.ChromiumPath
	n := startGW(t, Config{NodeID: "solo", Mode: ModeIndependent, DataDir: t.TempDir()}, nil)
	waitRole(t, n, RoleActive, 3*time.Second)
	if _, err := n.SetConfig("plant", []byte("confidential-setpoint")); err != nil {
		t.Fatal(err)
	}
	addr := admin(t, n, "")
	port := addr[strings.LastIndex(addr, ":")+1:]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--user-data-dir="+t.TempDir(), "--host-resolver-rules=MAP rebind.evil.example 127.0.0.1",
		"--dump-dom", "http://rebind.evil.example:"+port+"/v1/gateway/config").Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	if strings.Contains(string(out), "confidential") || !strings.Contains(string(out), "misdirected request") {
		t.Fatalf("the rebound name read the configuration, or got another answer than 421:\n%s", out)
	}
}
