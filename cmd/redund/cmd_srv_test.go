package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/dnsupdate/bindtest"
)

const srvTable = `
[srv]
domain = "sip.example.test"
transports = ["udp", "tcp"]
timeout = "1s"
%s
[[srv.targets]]
name = "ms1"
host = "ms1.example.test"
udp = 5060
tcp = 5060
[[srv.targets]]
name = "ms2"
host = "ms2.example.test"
udp = 5062
tcp = 5062
[[srv.zones]]
name = "east"
order = [%s]
[[srv.zones]]
name = "central"
[[srv.zones.targets]]
target = "ms1"
priority = 10
weight = 60
[[srv.zones.targets]]
target = "ms2"
priority = 10
weight = 40
`

func srvConfig(t *testing.T, extra, order string) string {
	return writeFile(t, "redund.toml", fmt.Sprintf(srvTable, extra, order))
}

func TestSrvGenCheckDrift(t *testing.T) {
	cfg := srvConfig(t, "", `"ms1", "ms2"`)
	out := filepath.Join(t.TempDir(), "sip.inc")
	if o, code := runCLI(t, "-c", cfg, "srv", "gen", "--out", out); code != exitOK {
		t.Fatalf("gen: code %d: %s", code, o)
	}
	if o, code := runCLI(t, "-c", cfg, "srv", "gen", "--out", out, "--check"); code != exitOK || !strings.Contains(o, "matches") {
		t.Fatalf("check same: code %d: %s", code, o)
	}
	cfg2 := srvConfig(t, "", `"ms2", "ms1"`)
	o, code := runCLI(t, "-c", cfg2, "srv", "gen", "--out", out, "--check")
	if code != exitFailed {
		t.Fatalf("drift: code %d, want 1: %s", code, o)
	}
	for _, w := range []string{"--- " + out, "+++ generated from config", "-_sip._udp.east.sip.example.test.    300    IN SRV   10 10 5060 ms1.example.test.", "+_sip._udp.east.sip.example.test.    300    IN SRV   20 10 5060 ms1.example.test.", "differs from the config"} {
		if !strings.Contains(o, w) {
			t.Errorf("drift output lacks %q:\n%s", w, o)
		}
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "10 10 5060 ms1.example.test.") {
		t.Error("--check rewrote the file")
	}
	missing := filepath.Join(t.TempDir(), "none.inc")
	if o, code := runCLI(t, "-c", cfg, "srv", "gen", "--out", missing, "--check"); code != exitFailed ||
		!strings.Contains(o, missing+" does not exist (run without --check to write it)") {
		t.Errorf("check of a missing file: code %d: %s", code, o)
	}
}

// TestSrvOfflineNeedsNoSecret: gen, order and check use no TSIG key, so a
// CI drift check runs with the push secret's variable unset; push, which
// signs with it, still refuses to start, and so does config check.
func TestSrvOfflineNeedsNoSecret(t *testing.T) {
	push := "\n[srv.push]\nserver = \"127.0.0.1:53\"\n[srv.push.tsig]\nname = \"k\"\nsecret_env = \"REDUND_TEST_UNSET_TSIG\"\n"
	cfg := writeFile(t, "redund.toml", fmt.Sprintf(srvTable, "", `"ms1", "ms2"`)+push)
	for _, args := range [][]string{{"srv", "gen"}, {"srv", "order", "_sip._udp.east.sip.example.test"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if o, code := runCLI(t, append([]string{"-c", cfg}, args...)...); code != exitOK {
				t.Errorf("%v: code %d, want 0:\n%s", args, code, o)
			}
		})
	}
	for _, args := range [][]string{{"srv", "push", "--dry-run"}, {"config", "check"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if o, code := runCLI(t, append([]string{"-c", cfg}, args...)...); code != exitUsage || !strings.Contains(o, "REDUND_TEST_UNSET_TSIG is not set") {
				t.Errorf("%v: code %d, want 2 naming the variable:\n%s", args, code, o)
			}
		})
	}
	// any other problem still stops an offline command
	bad := writeFile(t, "bad.toml", fmt.Sprintf(srvTable, "ttl = 5", `"ms1", "ms2"`)+push)
	if o, code := runCLI(t, "-c", bad, "srv", "gen"); code != exitUsage || !strings.Contains(o, "srv.ttl") {
		t.Errorf("gen with a bad ttl: code %d:\n%s", code, o)
	}
}

func TestSrvUsageErrors(t *testing.T) {
	cfg := srvConfig(t, "", `"ms1", "ms9"`)
	o, code := runCLI(t, "-c", cfg, "srv", "gen")
	if code != exitUsage || !strings.Contains(o, `srv.zones[0].order[1]: unknown target "ms9"`) {
		t.Fatalf("bad config: code %d: %s", code, o)
	}
	good := srvConfig(t, "", `"ms1"`)
	for _, args := range [][]string{
		{"srv", "gen", "--check"},
		{"srv", "gen", "--format", "yaml"},
		{"srv", "order"},
		{"srv", "push"}, // no [srv.push]
		{"-c", filepath.Join(t.TempDir(), "none.toml"), "srv", "order", "--resolver", "127.0.0.1:1", "east"}, // a zone needs the config
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if o, code := runCLI(t, append([]string{"-c", good}, args...)...); code != exitUsage {
				t.Errorf("%v: code %d, want 2: %s", args, code, o)
			}
		})
	}
}

func TestSrvOrder(t *testing.T) {
	cfg := srvConfig(t, "", `"ms1"`)
	o, code := runCLI(t, "-c", cfg, "srv", "order", "--samples", "20000", "central")
	if code != exitOK {
		t.Fatalf("code %d: %s", code, o)
	}
	for _, w := range []string{"_sip._udp.central.sip.example.test. (from config)", "60.396% (61/101)", "39.604% (40/101)", "sampled (20000 runs)"} {
		if !strings.Contains(o, w) {
			t.Errorf("output lacks %q:\n%s", w, o)
		}
	}
	var sets []struct {
		Name   string
		Groups []struct {
			Choices []struct {
				Target   string
				Num, Den int
			}
		}
		Samples int
	}
	o, code = runCLI(t, "-c", cfg, "srv", "order", "--json", "--samples", "100", "_sip._tcp.central.sip.example.test")
	if err := json.Unmarshal([]byte(o), &sets); err != nil || code != exitOK {
		t.Fatalf("order --json: code %d, %v:\n%s", code, err, o)
	}
	if len(sets) != 1 || sets[0].Name != "_sip._tcp.central.sip.example.test." || sets[0].Samples != 100 ||
		len(sets[0].Groups) != 1 || len(sets[0].Groups[0].Choices) != 2 ||
		sets[0].Groups[0].Choices[0].Num != 61 || sets[0].Groups[0].Choices[0].Den != 101 {
		t.Errorf("order --json: %+v", sets)
	}
}

func TestSrvCheckUnreachableResolver(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // never answers
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	cfg := srvConfig(t, "", `"ms1"`)
	start := time.Now()
	o, code := runCLI(t, "-c", cfg, "srv", "check", "--resolver", pc.LocalAddr().String(), "--timeout", "300ms")
	if code != exitFailed || !strings.Contains(o, "did not answer within 300ms") {
		t.Fatalf("code %d: %s", code, o)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %s", d)
	}
}

// TestSrvPushCheckCLI runs the commands against a real BIND: dry run,
// push, check ok, config change, check fails with the difference, push,
// check ok again.
func TestSrvPushCheckCLI(t *testing.T) {
	s := bindtest.Start(t, "example.test", "ms1 IN A 127.0.0.1", "ms2 IN A 127.0.0.1")
	push := fmt.Sprintf("[srv.push]\nserver = %q\nzone = \"example.test\"\n[srv.push.tsig]\nname = %q\nsecret_env = \"SRV_CLI_TSIG\"\n", s.Addr, s.KeyName)
	t.Setenv("SRV_CLI_TSIG", s.KeySecret)
	cfg := writeFile(t, "a.toml", fmt.Sprintf(srvTable, "", `"ms1", "ms2"`)+push)
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"srv", "push", "--dry-run"}, exitOK, "4 of 4 RRsets change: 4 create, 0 update"},
		{[]string{"srv", "check", "--no-probe"}, exitFailed, "missing 10 10 5060 ms1.example.test."},
		{[]string{"srv", "push"}, exitOK, "applied: 4 RRsets replaced"},
		{[]string{"srv", "check", "--no-probe"}, exitOK, "ok: DNS matches the config"},
		{[]string{"srv", "push"}, exitOK, "no changes: all 4 RRsets match the config"},
	}
	for _, st := range steps {
		o, code := runCLI(t, append([]string{"-c", cfg}, st.args...)...)
		if code != st.code || !strings.Contains(o, st.want) {
			t.Fatalf("%v: code %d (want %d), output lacks %q:\n%s", st.args, code, st.code, st.want, o)
		}
	}
	cfg2 := writeFile(t, "b.toml", fmt.Sprintf(srvTable, "", `"ms2"`)+push)
	o, code := runCLI(t, "-c", cfg2, "srv", "check", "--no-probe")
	if code != exitFailed || !strings.Contains(o, "ms2.example.test. has priority 20, want 10") || !strings.Contains(o, "extra 10 10 5060 ms1.example.test.") {
		t.Fatalf("check after change: code %d:\n%s", code, o)
	}
	if o, code := runCLI(t, "-c", cfg2, "srv", "push"); code != exitOK || !strings.Contains(o, "2 of 4 RRsets change: 0 create, 2 update") {
		t.Fatalf("push after change: code %d:\n%s", code, o)
	}
	if o, code := runCLI(t, "-c", cfg2, "srv", "check", "--no-probe", "--json"); code != exitOK || !strings.Contains(o, `"findings": []`) {
		t.Fatalf("check after second push: code %d:\n%s", code, o)
	}
}

// TestSrvPushReadsBack: BIND answers NOERROR to an UPDATE adding SRV
// records at a name that is a CNAME, and ignores them. push must not say
// the records are in place: it reads them back from the primary, names the
// RRset that did not take and exits 1; when all took, it says what it read.
func TestSrvPushReadsBack(t *testing.T) {
	s := bindtest.Start(t, "example.test", "ms1 IN A 127.0.0.1", "ms2 IN A 127.0.0.1",
		"_sip._tcp.east.sip IN CNAME ms1")
	push := fmt.Sprintf("[srv.push]\nserver = %q\nzone = \"example.test\"\n[srv.push.tsig]\nname = %q\nsecret = %q\n", s.Addr, s.KeyName, s.KeySecret)
	cfg := writeFile(t, "a.toml", fmt.Sprintf(srvTable, "", `"ms1", "ms2"`)+push)
	o, code := runCLI(t, "-c", cfg, "srv", "push")
	if code != exitFailed || !strings.Contains(o, "_sip._tcp.east.sip.example.test. SRV: is a CNAME to ms1.example.test.") ||
		!strings.Contains(o, "1 of 4 RRsets not as configured") {
		t.Fatalf("push over a CNAME: code %d (want %d):\n%s", code, exitFailed, o)
	}
	cfg2 := writeFile(t, "b.toml", strings.Replace(fmt.Sprintf(srvTable, "", `"ms2", "ms1"`), `"udp", "tcp"`, `"udp"`, 1)+push)
	o, code = runCLI(t, "-c", cfg2, "srv", "push")
	if code != exitOK || !strings.Contains(o, "read back from "+s.Addr+": 1 RRset as configured (zone example.test. serial ") {
		t.Fatalf("push: code %d:\n%s", code, o)
	}
}

// TestSrvCheckThroughCacheFails: answers from a cache (a real named
// forwarding to the primary) match the config after a push, but they do
// not show what the zone publishes: check exits 1 and says "not verified"
// unless --allow-cache accepts them.
func TestSrvCheckThroughCacheFails(t *testing.T) {
	s := bindtest.Start(t, "example.test", "ms1 IN A 127.0.0.1", "ms2 IN A 127.0.0.1")
	push := fmt.Sprintf("[srv.push]\nserver = %q\nzone = \"example.test\"\n[srv.push.tsig]\nname = %q\nsecret = %q\n", s.Addr, s.KeyName, s.KeySecret)
	cfg := writeFile(t, "a.toml", fmt.Sprintf(srvTable, "", `"ms1", "ms2"`)+push)
	if o, code := runCLI(t, "-c", cfg, "srv", "push"); code != exitOK {
		t.Fatalf("push: code %d:\n%s", code, o)
	}
	cache := bindtest.StartForwarder(t, s)
	o, code := runCLI(t, "-c", cfg, "srv", "check", "--no-probe", "--resolver", cache.Addr)
	if code != exitFailed || !strings.Contains(o, "not verified: the cached answers of "+cache.Addr) || strings.Contains(o, "ok:") {
		t.Fatalf("check through a cache: code %d (want %d):\n%s", code, exitFailed, o)
	}
	o, code = runCLI(t, "-c", cfg, "srv", "check", "--no-probe", "--allow-cache", "--json", "--resolver", cache.Addr)
	if code != exitOK || !strings.Contains(o, `"allow_cache": true`) || !strings.Contains(o, `"authoritative": false`) {
		t.Fatalf("check --allow-cache through a cache: code %d:\n%s", code, o)
	}
}
