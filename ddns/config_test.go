package ddns

import (
	"strings"
	"testing"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
)

type file struct {
	Ddns map[string]*Config `toml:"ddns"`
}

const base = `
[ddns.cat]
name = "cat.example.com"
%s
[ddns.cat.provider]
kind = "he"
password = "k"
[[ddns.cat.servers]]
name = "main"
address = "192.0.2.1"
priority = 30
[ddns.cat.servers.check]
kind = "tcp"
address = "192.0.2.1:80"
[[ddns.cat.servers]]
name = "sorry"
address = "192.0.2.3"
priority = 10
%s
`

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name, top, tail string
		want            string // "" for valid
	}{
		{"sorry without check under sorry policy", "policy = \"sorry\"\nsorry = \"sorry\"", "", ""},
		{"server without check", "", "", "servers[1].check: missing"},
		{"policy unknown", "policy = \"random\"", "", "policy: \"random\": use keep, sorry or first"},
		{"sorry names nobody", "policy = \"sorry\"\nsorry = \"nobody\"", "", "sorry: no server is named"},
		{"sorry without policy", "sorry = \"sorry\"", "[ddns.cat.servers.check]\nkind = \"tcp\"\naddress = \"192.0.2.3:80\"", "sorry: only used with policy"},
		{"bad type", "type = \"MX\"", "", "type: \"MX\": use A, AAAA or CNAME"},
		{"he cannot CNAME", "type = \"CNAME\"", "", "provider he cannot set CNAME"},
		{"AAAA with v4 address", "type = \"AAAA\"", "", "servers[0].address: \"192.0.2.1\" is not an IPv6 address"},
		{"ttl range", "ttl = 100000", "", "ttl: must be 1-86400"},
		{"rise range", "rise = -1", "", "rise: must be 1-100"},
		{"retry order", "retry_min = \"10s\"\nretry_max = \"1s\"", "", "retry_max: must not be less"},
		{"bad resolver", "resolvers = [\"192.0.2.53:99999\"]", "", "resolvers[0]"},
		{"priority zero", "", "priority = 0", "servers[1].priority: must be > 0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(strings.Replace(base, "%s", c.top, 1), "%s", c.tail, 1)
			if c.name == "priority zero" {
				src = strings.Replace(src, "priority = 10\n", "", 1)
			}
			var f file
			err := config.Decode("t.toml", src, &f)
			if err == nil {
				f.Ddns["cat"].SetDefaults() // as the loader does
				err = f.Ddns["cat"].Validate()
			}
			switch {
			case c.want == "" && err != nil:
				t.Errorf("%s: unexpected %v", c.name, err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("%s: got %v, want %q", c.name, err, c.want)
			}
		})
	}
}

func TestConfigUnknownKeyRejected(t *testing.T) {
	src := strings.Replace(strings.Replace(base, "%s", "colour = \"red\"", 1), "%s", "", 1)
	var f file
	err := config.Decode("t.toml", src, &f)
	if err == nil || !strings.Contains(err.Error(), "ddns.cat.colour: unknown key") {
		t.Fatalf("got %v", err)
	}
}

// TestConfigTimingErrorsInKeyOrder: problems found by Validate alone (no
// file lines to sort by) come in the table's key order, every time.
func TestConfigTimingErrorsInKeyOrder(t *testing.T) {
	c := &Config{Interval: -1, RetryMin: -1, RetryMax: -1, Recheck: -1}
	var first string
	for range 20 {
		err := c.Validate()
		if err == nil {
			t.Fatal("negative durations accepted")
		}
		msg := err.Error()
		i, j, k := strings.Index(msg, "interval:"), strings.Index(msg, "retry_min:"), strings.Index(msg, "recheck:")
		if i < 0 || !(i < j && j < k) {
			t.Fatalf("timing problems out of key order:\n%s", msg)
		}
		if first == "" {
			first = msg
		} else if msg != first {
			t.Fatalf("Validate gave two different reports:\n%s\n---\n%s", first, msg)
		}
	}
}

// TestClashes: two schemes that set one record (same name and type, or a
// CNAME beside anything) would push against each other; A and AAAA of
// one name are two records.
func TestClashes(t *testing.T) {
	mk := func(name, typ string) *Config {
		return &Config{Name: name, Type: typ, Provider: dnsupdate.Config{Kind: "rfc2136", Server: "192.0.2.53:53", Zone: "example.com"}}
	}
	at := func(c *Config, p dnsupdate.Config) *Config { c.Provider = p; return c }
	cases := []struct {
		name string
		cfgs map[string]*Config
		want map[string]string // key: substring of the message
	}{
		{"same name and type", map[string]*Config{"a": mk("cat.example.com", "A"), "b": mk("CAT.example.com.", "")},
			map[string]string{"b.name": `is also set by scheme "a" (A)`}},
		{"cname beside a", map[string]*Config{"a": mk("cat.example.com", "CNAME"), "b": mk("cat.example.com", "AAAA")},
			map[string]string{"b.name": `(AAAA) is also set by scheme "a" (CNAME)`}},
		{"a and aaaa", map[string]*Config{"a": mk("cat.example.com", "A"), "b": mk("cat.example.com", "AAAA")}, nil},
		{"other names", map[string]*Config{"a": mk("cat.example.com", "A"), "b": mk("dog.example.com", "A")}, nil},
		// split horizon: the inside primary and the public provider each
		// hold their own record of the name
		{"other provider", map[string]*Config{"a": mk("cat.example.com", "A"),
			"b": at(mk("cat.example.com", "A"), dnsupdate.Config{Kind: "cloudflare", Zone: "example.com"})}, nil},
		{"other primary", map[string]*Config{"a": mk("cat.example.com", "A"),
			"b": at(mk("cat.example.com", "A"), dnsupdate.Config{Kind: "rfc2136", Server: "10.0.0.53:53", Zone: "example.com"})}, nil},
		{"same cloudflare zone", map[string]*Config{"a": at(mk("cat.example.com", "A"), dnsupdate.Config{Kind: "cloudflare", Zone: "example.com"}),
			"b": at(mk("cat.example.com", "A"), dnsupdate.Config{Kind: "cloudflare", Zone: "Example.com."})}, map[string]string{"b.name": `scheme "a"`}},
		{"three on one", map[string]*Config{"a": mk("x.example.com", "A"), "b": mk("x.example.com", "A"), "c": mk("x.example.com", "A")},
			map[string]string{"b.name": `scheme "a"`, "c.name": `scheme "a"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Clashes(c.cfgs)
			if len(got) != len(c.want) {
				t.Fatalf("Clashes = %v, want keys of %v", got, c.want)
			}
			for k, sub := range c.want {
				if !strings.Contains(got[k], sub) {
					t.Errorf("%s: %q lacks %q", k, got[k], sub)
				}
			}
		})
	}
}
