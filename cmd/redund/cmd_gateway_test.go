package main

import (
	"strings"
	"testing"
)

// Extra arguments are a usage error (exit 2) before any admin request is
// tried.
func TestGatewayExtraArgsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"gateway", "status", "extra"},
		{"gateway", "config", "export", "extra"},
		{"gateway", "config", "get"},
		{"gateway", "config", "import", "a", "b"},
	} {
		out, code := runCLI(t, args...)
		if code != exitUsage || !strings.Contains(out, "wrong number of arguments") {
			t.Errorf("%v: code %d, output %q; want exit %d and a usage message", args, code, out, exitUsage)
		}
	}
}
