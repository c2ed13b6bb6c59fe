package gateway

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestStatusPageInHeadlessChromium loads the status page in a real browser
// and checks that the role and the provider table are rendered.
func TestStatusPageInHeadlessChromium(t *testing.T) {
	const browser = "/usr/bin/chromium"
	if _, err := os.Stat(browser); err != nil {
		if os.Getenv("REDUND_INTEGRATION") == "1" {
			t.Fatalf("%s is required with REDUND_INTEGRATION=1 (apt-get install chromium)", browser)
		}
		t.Skipf("%s not installed (apt-get install chromium); set REDUND_INTEGRATION=1 to require it", browser)
	}
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
