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
