package main

import (
	"slices"
	"strings"
	"testing"
)

func TestFlagsFirst(t *testing.T) {
	app := newApp()
	for _, tc := range []struct{ in, want string }{
		{"redund ddns propagation cat --resolver 192.0.2.53", "redund ddns propagation --resolver 192.0.2.53 cat"},
		{"redund ddns propagation --resolver 192.0.2.53 cat", "redund ddns propagation --resolver 192.0.2.53 cat"},
		{"redund --config x.toml srv order _sip._udp.example.test --samples 5 --json", "redund --config x.toml srv order --samples 5 --json _sip._udp.example.test"},
		{"redund srv order _sip --samples=5", "redund srv order --samples=5 _sip"},
		{"redund check exec --timeout 2s -- /bin/ls -l", "redund check exec --timeout 2s -- /bin/ls -l"},
		{"redund check exec -- /bin/ls --timeout 2s", "redund check exec -- /bin/ls --timeout 2s"},
		{"redund gateway --admin 127.0.0.1:1 config import - --json", "redund gateway --admin 127.0.0.1:1 config import --json -"},
		{"redund gateway config import - --admin 127.0.0.1:1", "redund gateway config import --admin 127.0.0.1:1 -"},
		{"redund status", "redund status"},
		{"redund", "redund"},
		{"redund srv gen --out", "redund srv gen --out"},
		{"redund srv order _sip --samples", "redund srv order _sip --samples"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got := strings.Join(flagsFirst(app, strings.Fields(tc.in)), " ")
			if got != tc.want {
				t.Errorf("%s\n got %s\nwant %s", tc.in, got, tc.want)
			}
		})
	}
}

// TestFlagsAfterArguments: every command takes flags after its arguments
// (docs/ddns.md shows `ddns propagation cat --resolver X`, which failed with
// "wrong number of arguments").
func TestFlagsAfterArguments(t *testing.T) {
	cfg := srvConfig(t, "", `"ms1", "ms2"`)
	before, code1 := runCLI(t, "-c", cfg, "srv", "order", "--samples", "50", "--seed", "7", "_sip._udp.east.sip.example.test")
	after, code2 := runCLI(t, "-c", cfg, "srv", "order", "_sip._udp.east.sip.example.test", "--samples", "50", "--seed", "7")
	if code1 != exitOK || code2 != exitOK || before != after || !strings.Contains(after, "50") {
		t.Errorf("flags before: exit %d\n%s\nflags after: exit %d\n%s", code1, before, code2, after)
	}
	if !slices.Contains(strings.Fields(after), "ms1.example.test.:5060") {
		t.Errorf("order output lacks the target:\n%s", after)
	}
}
