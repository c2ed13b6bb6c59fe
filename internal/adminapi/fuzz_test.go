package adminapi

import (
	"strings"
	"testing"
)

// FuzzStatusURL checks that any endpoint text gives a status URL or an
// error, never a panic, and that accepted URLs end in /v1/status.
func FuzzStatusURL(f *testing.F) {
	for _, s := range []string{"127.0.0.1:9180", ":9180", "[::]:1", "http://h/x/", "https://h:1/v1/status", "ftp://x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := StatusURL(s)
		if err == nil && !strings.HasSuffix(u, "/v1/status") {
			t.Fatalf("StatusURL(%q) = %q", s, u)
		}
	})
}
