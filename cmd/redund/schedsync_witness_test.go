package main

import (
	"strings"
	"testing"
)

// TestConfigCheckSchedsyncWitness: `[schedsync] witness = true` without a
// [witness] table is a config error naming the key.
func TestConfigCheckSchedsyncWitness(t *testing.T) {
	ss := "[schedsync]\nmode = \"primary\"\ndir = \"/srv/data\"\nwitness = true\n"
	bad := writeFile(t, "ss.toml", ss)
	out, code := runCLI(t, "config", "check", bad)
	if code != exitUsage || !strings.Contains(out, "schedsync.witness: needs a [witness] table") {
		t.Fatalf("code %d, out %q: want exit 2 naming schedsync.witness", code, out)
	}
	good := writeFile(t, "ss-ok.toml", ss+"\n[witness]\nendpoints = [\"http://127.0.0.1:2379\"]\n")
	if out, code := runCLI(t, "config", "check", good); code != exitOK {
		t.Fatalf("with [witness]: code %d, out %q", code, out)
	}
}

// TestWitnessLine: the witness line of `redund schedsync status`.
func TestWitnessLine(t *testing.T) {
	for _, c := range []struct {
		in   map[string]any
		want string
	}{
		{map[string]any{"held": true, "fence": 42.0, "holder": "a", "holder_fence": 42.0, "reachable": "3/3"},
			"holds the lock, fence 42; holder a (fence 42); etcd 3/3 reachable"},
		{map[string]any{"held": false, "campaigning": true, "fence": 7.0, "holder": "a", "holder_fence": 9.0, "reachable": "2/3"},
			"campaigning for the lock, fence 7; holder a (fence 9); etcd 2/3 reachable"},
		{map[string]any{"held": false, "reachable": "0/3", "error": "context deadline exceeded"},
			"does not hold the lock; no holder known; etcd 0/3 reachable; context deadline exceeded"},
	} {
		t.Run(c.want, func(t *testing.T) {
			if got := witnessLine(c.in); got != c.want {
				t.Errorf("witnessLine(%v) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}
