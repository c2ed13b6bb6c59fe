package dnsupdate

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	key := &TSIG{Name: "ddns-key.", Secret: "c2VjcmV0"}
	cases := []struct {
		name string
		c    Config
		want string // substring of the error, "" for none
	}{
		{"rfc2136 ok", Config{Kind: "rfc2136", Server: "127.0.0.1:53", Zone: "example.com", Key: key}, ""},
		{"rfc2136 no server", Config{Kind: "rfc2136", Zone: "example.com"}, "server: rfc2136 needs"},
		{"rfc2136 bad key", Config{Kind: "rfc2136", Server: "127.0.0.1:53", Zone: "example.com", Key: &TSIG{Name: "k"}}, "key.secret"},
		{"rfc2136 token", Config{Kind: "rfc2136", Server: "127.0.0.1:53", Zone: "example.com", Token: "x"}, "token: not used"},
		{"cloudflare ok", Config{Kind: "cloudflare", Token: "t", Zone: "example.com"}, ""},
		{"cloudflare no token", Config{Kind: "cloudflare", Zone: "example.com"}, "token: cloudflare needs"},
		{"cloudflare bad url", Config{Kind: "cloudflare", Token: "t", Zone: "example.com", BaseURL: "ftp://x"}, "base_url"},
		{"he ok", Config{Kind: "he", Password: "p"}, ""},
		{"he no password", Config{Kind: "he"}, "password"},
		{"no kind", Config{}, "kind: provider kind is required"},
		{"bad kind", Config{Kind: "route53"}, "unknown provider kind"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.c.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%s: unexpected error %v", c.name, err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("%s: error %v, want %q", c.name, err, c.want)
			}
		})
	}
}

func TestNewProviderKinds(t *testing.T) {
	for kind, c := range map[string]Config{
		"rfc2136":    {Kind: "rfc2136", Server: "127.0.0.1:53", Zone: "example.com"},
		"cloudflare": {Kind: "cloudflare", Token: "t", Zone: "example.com"},
		"he":         {Kind: "he", Password: "p"},
	} {
		t.Run(kind, func(t *testing.T) {
			p, err := New(c)
			if err != nil || p.Name() != kind {
				t.Errorf("New(%s) = %v, %v", kind, p, err)
			}
		})
	}
	if _, err := New(Config{Kind: "x"}); err == nil {
		t.Error("New accepted an unknown kind")
	}
}
