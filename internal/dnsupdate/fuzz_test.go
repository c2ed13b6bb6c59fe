package dnsupdate

import (
	"strings"
	"testing"
)

// FuzzParseHEReply checks that any reply body is classified without panic
// and that only good/nochg replies are accepted.
func FuzzParseHEReply(f *testing.F) {
	for _, s := range []string{"good 192.0.2.1", "nochg 2001:db8::1\n", "badauth", "911", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		reply, err := ParseHEReply(body)
		if err == nil {
			w := strings.ToLower(strings.Fields(body)[0])
			if w != "good" && w != "nochg" {
				t.Fatalf("accepted %q as %q", body, reply)
			}
		}
	})
}
