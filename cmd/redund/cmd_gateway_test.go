package main

import (
	"fmt"
	"net"
	"strings"
	"testing"
)

// TestGatewayRunUsesAdminFlag: `gateway --admin ADDR run` serves its admin
// API on ADDR, not on the config's [admin] address (a port that cannot be
// bound shows which one was tried; the config's is taken, so that the test
// cannot hang serving on it).
func TestGatewayRunUsesAdminFlag(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	cfg := writeFile(t, "gw.toml", fmt.Sprintf(`[admin]
gateway = %q
[gateway]
node_id = "gw-a"
mode = "master"
peer_listen = "127.0.0.1:0"
data_dir = %q
client_listen = "127.0.0.1:0"
app_url = "http://127.0.0.1:1"
client_url = "http://127.0.0.1:1"
[gateway.link]
plain = true
`, taken.Addr().String(), t.TempDir()))
	out, code := runCLI(t, "--config", cfg, "--log-level", "error", "gateway", "--admin", "127.0.0.1:99999", "run")
	if code != exitFailed || !strings.Contains(out, "99999") {
		t.Errorf("code %d, want 1 and an error about the --admin address:\n%s", code, out)
	}
}
