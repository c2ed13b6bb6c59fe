package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/logging"
	"github.com/redund/redund/internal/testutil"
)

// admin serves n's endpoints on a loopback admin server until the test ends.
func admin(t *testing.T, n *gw, token config.Secret) string {
	t.Helper()
	s := adminapi.NewServer("gateway run", "1.0.0", n.ring, logging.Discard())
	n.Register(s, token)
	if err := s.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s.Addr()
}

func do(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminAPIPageAndMetrics(t *testing.T) {
	m, b, _ := pair(t, nil)
	ma, ba := "http://"+admin(t, m, ""), "http://"+admin(t, b, "")
	if code, body := do(t, "PUT", ma+KeyPath(ProvConfig, "tags/a b"), "", "v1"); code != 400 {
		t.Fatalf("key with a space: %d %s", code, body)
	}
	if code, body := do(t, "PUT", ma+KeyPath(ProvConfig, "tags/a"), "", "v1"); code != 200 {
		t.Fatalf("put on master: %d %s", code, body)
	}
	if code, body := do(t, "PUT", ba+KeyPath(ProvConfig, "tags/a"), "", "v2"); code != 409 || !strings.Contains(body, "master") {
		t.Fatalf("put on backup: %d %s", code, body)
	}
	if code, body := do(t, "POST", ma+"/v1/gateway/config-import", "", `{"x":"1","y":"2"}`); code != 200 || !strings.Contains(body, `"imported": 2`) {
		t.Fatalf("import: %d %s", code, body)
	}
	testutil.Eventually(t, 3*time.Second, "export on the backup", func() bool {
		_, body := do(t, "GET", ba+"/v1/gateway/config", "", "")
		return strings.Contains(body, `"x": "1"`) && strings.Contains(body, `"tags/a": "v1"`)
	})
	now := time.Now().UnixMilli()
	if code, body := do(t, "POST", ma+"/v1/gateway/history", "", fmt.Sprintf(`[{"tag":"flow","ts_ms":%d,"value":4.5}]`, now)); code != 200 || !strings.Contains(body, `"accepted": 1`) {
		t.Fatalf("post history: %d %s", code, body)
	}
	if code, body := do(t, "GET", ma+"/v1/gateway/history?tag=flow&from=0", "", ""); code != 200 || !strings.Contains(body, `"value": 4.5`) {
		t.Fatalf("query history: %d %s", code, body)
	}
	if code, body := do(t, "GET", ma+"/v1/gateway/history?tag=flow&from=yesterday&to=1e3", "", ""); code != 400 ||
		!strings.Contains(body, `from=\"yesterday\": want unix milliseconds`) || !strings.Contains(body, `to=\"1e3\"`) {
		t.Fatalf("history with bad times: %d %s", code, body)
	}
	code, page := do(t, "GET", ma+"/gateway", "", "")
	if code != 200 || !strings.Contains(page, `id="role" class="role role-active ok">active<`) || !strings.Contains(page, `<table id="providers">`) {
		t.Fatalf("status page: %d\n%s", code, page)
	}
	if _, all := do(t, "GET", ma+"/gateway?level=warn", "", ""); !strings.Contains(all, "<td>WARN</td><td>gateway</td><td>role change") {
		t.Fatal("level=warn does not show the role change line")
	}
	if _, errs := do(t, "GET", ma+"/gateway?level=error", "", ""); strings.Contains(errs, "<td>WARN</td>") {
		t.Fatal("level=error still shows warn lines")
	}
	_, metrics := do(t, "GET", ma+"/metrics", "", "")
	for _, want := range []string{"redund_gateway_active 1", `redund_gateway_pending_updates{provider="config"}`, "redund_gateway_peer_connected 1",
		`redund_gateway_in_sync{provider="state"}`} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
	if code, body := do(t, "POST", ba+"/v1/gateway/resync", "", ""); code != 200 {
		t.Fatalf("resync: %d %s", code, body)
	}
	testutil.Eventually(t, 3*time.Second, "forced full sync recorded", func() bool {
		for _, e := range b.Detail().Replica {
			if strings.Contains(e.Message, "forced by the operator") {
				return true
			}
		}
		return false
	})
}

func TestAdminTokenGuardsChanges(t *testing.T) {
	dir := t.TempDir()
	n := startGW(t, Config{NodeID: "solo", Mode: ModeIndependent, DataDir: dir}, nil)
	a := "http://" + admin(t, n, "tok-123")
	if code, _ := do(t, "PUT", a+KeyPath(ProvState, "k"), "", "v"); code != 401 {
		t.Fatalf("write without token: %d", code)
	}
	waitRole(t, n, RoleActive, 2*time.Second)
	if code, body := do(t, "PUT", a+KeyPath(ProvState, "k"), "tok-123", "v"); code != 200 {
		t.Fatalf("write with token: %d %s", code, body)
	}
	if code, _ := do(t, "GET", a+"/gateway", "", ""); code != 200 {
		t.Fatal("reading the page must not need the token")
	}
}

func TestClientListenerFollowsActiveNode(t *testing.T) {
	app := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "app on "+name+" "+r.URL.Path)
		}))
		t.Cleanup(s.Close)
		return s
	}
	mApp, bApp := app("master"), app("backup")
	mPort, bPort := testutil.ClosedTCPAddr(t), testutil.ClosedTCPAddr(t)
	m, b, _ := pair(t, func(mc, bc *Config) {
		mc.ClientListen, mc.AppURL, mc.ClientURL = mPort, mApp.URL, "http://"+mPort
		bc.ClientListen, bc.AppURL, bc.ClientURL = bPort, bApp.URL, "http://"+bPort
	})
	if code, body := do(t, "GET", "http://"+mPort+"/hmi", "", ""); code != 200 || body != "app on master /hmi" {
		t.Fatalf("master client: %d %q", code, body)
	}
	testutil.Eventually(t, 2*time.Second, "backup knows the master's client URL", func() bool {
		code, _ := do(t, "GET", "http://"+bPort+"/hmi", "", "")
		return code == http.StatusTemporaryRedirect
	})
	req, _ := http.NewRequest("GET", "http://"+bPort+"/hmi?x=1", nil)
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); loc != "http://"+mPort+"/hmi?x=1" || resp.Header.Get(HeaderMoved) != "backup-node" {
		t.Fatalf("redirect Location %q moved-from %q", loc, resp.Header.Get(HeaderMoved))
	}
	m.stop()
	waitRole(t, b, RoleActive, 3*time.Second)
	if code, body := do(t, "GET", "http://"+bPort+"/hmi", "", ""); code != 200 || body != "app on backup /hmi" {
		t.Fatalf("backup client after failover: %d %q", code, body)
	}
}

func TestSupervisedCommandColdStandbyAndHooks(t *testing.T) {
	dir := t.TempDir()
	out := func(n string) string { return filepath.Join(dir, n) }
	m, b, _ := pair(t, func(mc, bc *Config) {
		for _, c := range []*Config{mc, bc} {
			name := c.Mode.String()
			c.Run = []string{"sh", "-c", `echo "$REDUND_ROLE" >> ` + out(name+".app") + `; exec sleep 60`}
			c.OnActive = []string{"sh", "-c", `echo "$REDUND_PREV_ROLE>$REDUND_ROLE" >> ` + out(name+".hooks")}
			c.OnStandby = c.OnActive
		}
	})
	testutil.Eventually(t, 3*time.Second, "master app started as active", func() bool { return readFile(out("master.app")) == "active\n" })
	if b.Detail().App.Running || readFile(out("backup.app")) != "" {
		t.Fatal("cold standby must not run the application on the standby")
	}
	m.stop()
	waitRole(t, b, RoleActive, 3*time.Second)
	testutil.Eventually(t, 3*time.Second, "backup app started as active", func() bool { return readFile(out("backup.app")) == "active\n" })
	testutil.Eventually(t, 3*time.Second, "backup hooks", func() bool { return readFile(out("backup.hooks")) == "starting>standby\nstandby>active\n" })
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

func TestWarmStandbyRunsOnBothNodes(t *testing.T) {
	dir := t.TempDir()
	out := func(n string) string { return filepath.Join(dir, n) }
	_, _, _ = pair(t, func(mc, bc *Config) {
		for _, c := range []*Config{mc, bc} {
			c.Standby = StandbyWarm
			c.Run = []string{"sh", "-c", `echo "$REDUND_ROLE" >> ` + out(c.Mode.String()+".app") + `; exec sleep 60`}
		}
	})
	testutil.Eventually(t, 3*time.Second, "app on both nodes", func() bool {
		return readFile(out("master.app")) == "active\n" && readFile(out("backup.app")) == "standby\n"
	})
}
