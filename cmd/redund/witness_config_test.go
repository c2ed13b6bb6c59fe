package main

import (
	"strings"
	"testing"
)

// TestConfigCheckWitness: the [witness] table is part of the file, checked
// with the rest, each problem naming its line and key.
func TestConfigCheckWitness(t *testing.T) {
	good := writeFile(t, "good.toml", "[witness]\nendpoints = [\"http://127.0.0.1:2379\"]\nname = \"gw-a\"\nttl = \"3s\"\n")
	if out, code := runCLI(t, "config", "check", good); code != exitOK || strings.TrimSpace(out) != "ok" {
		t.Fatalf("good config: code %d, out %q", code, out)
	}
	bad := writeFile(t, "bad.toml", "[witness]\nendpoints = []\nprefix = \"redund\"\nttl = \"1s\"\nttls = \"3s\"\n")
	out, code := runCLI(t, "config", "check", bad)
	if code != exitUsage {
		t.Fatalf("bad config: code %d, want 2; out %q", code, out)
	}
	for _, want := range []string{"bad.toml:2: witness.endpoints: at least one etcd member",
		"bad.toml:3: witness.prefix:", "bad.toml:4: witness.ttl: 1s is too short", "bad.toml:5: witness.ttls: unknown key"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
}

// TestConfigCheckDdnsWitness: witness = true on a ddns scheme needs the
// [witness] table; quorum only with witness.
func TestConfigCheckDdnsWitness(t *testing.T) {
	scheme := "[ddns.cat]\nname = \"cat.example.com\"\nwitness = true\n[ddns.cat.provider]\nkind = \"he\"\npassword = \"x\"\n" +
		"[[ddns.cat.servers]]\nname = \"a\"\naddress = \"192.0.2.1\"\npriority = 1\n[ddns.cat.servers.check]\nkind = \"tcp\"\naddress = \"192.0.2.1:80\"\n"
	bad := writeFile(t, "bad.toml", scheme)
	if _, err := loadConfig(bad); err == nil || !strings.Contains(err.Error(), "ddns.cat.witness: needs a [witness] table") {
		t.Fatalf("witness without [witness]: %v", err)
	}
	good := writeFile(t, "good.toml", scheme+"[witness]\nendpoints = [\"http://127.0.0.1:2379\"]\n")
	if _, err := loadConfig(good); err != nil {
		t.Fatalf("with [witness]: %v", err)
	}
	q := writeFile(t, "q.toml", strings.Replace(scheme, "witness = true", "quorum = \"any\"", 1))
	if _, err := loadConfig(q); err == nil || !strings.Contains(err.Error(), "ddns.cat.quorum: only used with witness = true") {
		t.Fatalf("quorum without witness: %v", err)
	}
}

// TestConfigCheckGatewayWitnessNeedsTable: `[gateway] witness = true`
// without a [witness] table is a config error naming the key.
func TestConfigCheckGatewayWitnessNeedsTable(t *testing.T) {
	gw := "[gateway]\nmode = \"independent\"\nwitness = true\n"
	bad := writeFile(t, "gw.toml", gw)
	out, code := runCLI(t, "config", "check", bad)
	if code != exitUsage || !strings.Contains(out, "gateway.witness: needs a [witness] table") {
		t.Fatalf("code %d, out %q: want exit 2 naming gateway.witness", code, out)
	}
	good := writeFile(t, "gw-ok.toml", gw+"\n[witness]\nendpoints = [\"http://127.0.0.1:2379\"]\n")
	if out, code := runCLI(t, "config", "check", good); code != exitOK {
		t.Fatalf("with [witness]: code %d, out %q", code, out)
	}
}

// TestConfigCheckDdnsClash: two schemes that set one DNS record are a
// config error on the second's name: they would push against each other.
func TestConfigCheckDdnsClash(t *testing.T) {
	scheme := func(n string) string {
		return "[ddns." + n + "]\nname = \"cat.example.com\"\n[ddns." + n + ".provider]\nkind = \"he\"\npassword = \"x\"\n" +
			"[[ddns." + n + ".servers]]\nname = \"a\"\naddress = \"192.0.2.1\"\npriority = 1\n[ddns." + n + ".servers.check]\nkind = \"tcp\"\naddress = \"192.0.2.1:80\"\n"
	}
	bad := writeFile(t, "bad.toml", scheme("cat")+scheme("kitten"))
	if _, err := loadConfig(bad); err == nil || !strings.Contains(err.Error(), `ddns.kitten.name: cat.example.com (A) is also set by scheme "cat"`) {
		t.Fatalf("two schemes on one record: %v", err)
	}
}
