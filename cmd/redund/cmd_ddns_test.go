package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/ddns"
	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/dnsupdate/bindtest"
	"github.com/redund/redund/internal/status"
)

// ddnsConfig is a two-server scheme: main's check connects to a live
// loopback listener, backup's to a closed port.
func ddnsConfig(t *testing.T, extra string) string {
	up := serveTCP(t, func(net.Conn) {})
	return fmt.Sprintf(`[ddns.cat]
name = "cat.example.test"
state_dir = %q
%s
[[ddns.cat.servers]]
name = "main"
address = "192.0.2.1"
priority = 30
[ddns.cat.servers.check]
kind = "tcp"
address = %q
[[ddns.cat.servers]]
name = "backup"
address = "192.0.2.2"
priority = 20
[ddns.cat.servers.check]
kind = "tcp"
address = "127.0.0.1:1"
`, t.TempDir(), extra, up)
}

func TestDdnsPlanAgainstBIND(t *testing.T) {
	b := bindtest.Start(t, "example.test", "cat 60 IN A 192.0.2.2")
	cfg := writeFile(t, "r.toml", ddnsConfig(t, fmt.Sprintf(`[ddns.cat.provider]
kind = "rfc2136"
server = %q
zone = "example.test"
[ddns.cat.provider.key]
name = %q
secret = %q
`, b.Addr, b.KeyName, b.KeySecret)))
	out, code := runCLI(t, "--config", cfg, "ddns", "plan", "--json")
	if code != exitOK {
		t.Fatalf("plan: code %d\n%s", code, out)
	}
	var res []ddns.PlanResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}
	r := res[0]
	if r.Decision.Server != "main" || !r.WouldPush || strings.Join(r.Current, ",") != "192.0.2.2" {
		t.Errorf("plan: %+v", r)
	}
	out, code = runCLI(t, "--config", cfg, "ddns", "plan")
	if code != exitOK || !strings.Contains(out, "cat: cat.example.test A → 192.0.2.1 (main) [point]") ||
		!strings.Contains(out, "would push: yes") {
		t.Errorf("plan text: code %d\n%s", code, out)
	}
	// the record disagrees with what plan wants, but propagation compares
	// the provider's value with the servers: they agree
	_, port, _ := net.SplitHostPort(b.Addr)
	out, code = runCLI(t, "--config", cfg, "ddns", "propagation", "--resolver", b.Addr, "--ns-port", port, "cat")
	if code != exitOK || !strings.Contains(out, "all agree") {
		t.Errorf("propagation: code %d\n%s", code, out)
	}
	var rep ddns.PropagationReport
	out, code = runCLI(t, "--config", cfg, "ddns", "propagation", "--json", "--resolver", b.Addr, "--ns-port", port, "cat")
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK || !rep.AllAgree ||
		rep.Scheme != "cat" || strings.Join(rep.Expected, ",") != "192.0.2.2" || len(rep.Answers) == 0 {
		t.Errorf("propagation --json: code %d, %v, %+v\n%s", code, err, rep, out)
	}
}

func TestDdnsUsageErrors(t *testing.T) {
	cfg := writeFile(t, "r.toml", ddnsConfig(t, "[ddns.cat.provider]\nkind = \"he\"\npassword = \"k\"\n"))
	for _, args := range [][]string{
		{"ddns", "maintenance", "cat", "main", "maybe"},
		{"ddns", "maintenance", "cat"},
		{"ddns", "propagation"},
		{"ddns", "plan", "dog"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if out, code := runCLI(t, append([]string{"--config", cfg}, args...)...); code != exitUsage {
				t.Errorf("%v: code %d, want 2\n%s", args, code, out)
			}
		})
	}
	if out, _ := runCLI(t, "--config", cfg, "ddns", "plan", "dog"); !strings.Contains(out, `no scheme "dog" in `+cfg+" (have [cat])") {
		t.Errorf("unknown scheme: the message does not name the schemes there are:\n%s", out)
	}
	// nobody listens on the admin address: exit 1
	out, code := runCLI(t, "--config", cfg, "ddns", "maintenance", "--admin", "127.0.0.1:1", "cat", "main", "on")
	if code != exitFailed || !strings.Contains(out, "ddns run") {
		t.Errorf("no daemon: code %d\n%s", code, out)
	}
	none := filepath.Join(t.TempDir(), "none.toml") // --admin needs no config file
	if out, code := runCLI(t, "--config", none, "ddns", "maintenance", "--admin", "127.0.0.1:1", "cat", "main", "on"); code != exitFailed {
		t.Errorf("--admin without a config: code %d, want 1\n%s", code, out)
	}
}

func TestDdnsRunAndMaintenance(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin := probe.Addr().String()
	probe.Close()
	cfg := writeFile(t, "r.toml", fmt.Sprintf("[admin]\nddns = %q\n", admin)+ddnsConfig(t,
		"[ddns.cat.provider]\nkind = \"he\"\npassword = \"k\"\nserver = \"127.0.0.1:1\"\nbase_url = \"http://127.0.0.1:1/nic/update\"\n"))
	g := &globalOptions{ConfigPath: cfg, LogLevel: "error", LogFormat: "text"}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- runDdns(ctx, g, "") }()
	var rep status.Report
	deadline := time.Now().Add(10 * time.Second)
	for {
		rep, err = adminapi.Fetch(ctx, admin)
		if err == nil && len(rep.Instances) == 1 && len(rep.Instances[0].Health) == 2 && rep.Instances[0].Health[0].State == "OK" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not up: %v %+v", err, rep)
		}
		time.Sleep(20 * time.Millisecond) // sleep: poll interval (the failure prints the last report)
	}
	// the provider is down: the daemon says so and keeps running
	if doc := rep.Instances[0]; doc.State == "Synced" {
		t.Errorf("synced with a dead provider: %+v", doc)
	}
	if out, code := runCLI(t, "--config", cfg, "ddns", "maintenance", "cat", "main", "on"); code != exitOK {
		t.Fatalf("maintenance: code %d\n%s", code, out)
	}
	rep, err = adminapi.Fetch(ctx, admin)
	if err != nil || rep.Instances[0].Health[0].State != "MAINT" {
		t.Errorf("after maintenance on: %v %+v", err, rep.Instances)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run stopped with %v", err)
	}
}

// TestDdnsRunUsesAdminFlag: `ddns run --admin ADDR` serves on ADDR (a port
// that cannot be bound shows which address was tried; the config's is
// taken, so that the test cannot hang serving on it).
func TestDdnsRunUsesAdminFlag(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	cfg := writeFile(t, "r.toml", fmt.Sprintf("[admin]\nddns = %q\n", taken.Addr().String())+ddnsConfig(t,
		"[ddns.cat.provider]\nkind = \"he\"\npassword = \"k\"\nserver = \"127.0.0.1:1\"\nbase_url = \"http://127.0.0.1:1/nic/update\"\n"))
	out, code := runCLI(t, "--config", cfg, "--log-level", "error", "ddns", "run", "--admin", "127.0.0.1:99999")
	if code != exitFailed || !strings.Contains(out, "99999") {
		t.Errorf("code %d, want 1 and an error about the --admin address:\n%s", code, out)
	}
}
