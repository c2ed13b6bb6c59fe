package dnsupdate

import "testing"

func TestWithPort(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.53":       "192.0.2.53:53",
		"192.0.2.53:5353":  "192.0.2.53:5353",
		"ns1.example.com":  "ns1.example.com:53",
		"::1":              "[::1]:53",
		"[::1]":            "[::1]:53",
		"[2001:db8::1]:54": "[2001:db8::1]:54",
	} {
		t.Run(in, func(t *testing.T) {
			if got := WithPort(in); got != want {
				t.Errorf("WithPort(%q) = %q, want %q", in, got, want)
			}
		})
	}
}
