package ddns

import (
	"strings"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/health"
)

const minimalScheme = `name = "www.example.test"
[provider]
kind = "rfc2136"
server = "127.0.0.1:53"
zone = "example.test"
[[servers]]
name = "a"
address = "192.0.2.1"
priority = 10
check = { kind = "tcp", address = "192.0.2.1:80" }
`

// A decoded table has every default set, and what the file gives is kept.
func TestDecodedDefaults(t *testing.T) {
	for _, tt := range []struct {
		name, extra string
		check       func(t *testing.T, c *Config)
	}{
		{"minimal", "", func(t *testing.T, c *Config) {
			want := Config{Type: "A", TTL: DefaultTTL, Policy: PolicyKeep, Interval: config.Duration(DefaultInterval),
				Rise: health.DefaultRise, Fall: health.DefaultFall, RetryMin: config.Duration(DefaultRetryMin),
				RetryMax: config.Duration(DefaultRetryMax), Recheck: config.Duration(DefaultRecheck), StateDir: DefaultStateDir}
			got := Config{Type: c.Type, TTL: c.TTL, Policy: c.Policy, Interval: c.Interval, Rise: c.Rise, Fall: c.Fall,
				RetryMin: c.RetryMin, RetryMax: c.RetryMax, Recheck: c.Recheck, StateDir: c.StateDir, Quorum: c.Quorum}
			if got.Type != want.Type || got.TTL != want.TTL || got.Policy != want.Policy || got.Interval != want.Interval ||
				got.Rise != want.Rise || got.Fall != want.Fall || got.RetryMin != want.RetryMin || got.RetryMax != want.RetryMax ||
				got.Recheck != want.Recheck || got.StateDir != want.StateDir || got.Quorum != "" {
				t.Errorf("defaults\n%+v\nwant\n%+v", got, want)
			}
			if ck := c.Servers[0].Check; ck.Timeout != config.Duration(health.DefaultTimeout) {
				t.Errorf("the server's check was not defaulted: %+v", ck)
			}
			if s := c.Servers[0]; s.Interval != 0 || s.Rise != 0 || s.Fall != 0 {
				t.Errorf("server overrides set by defaults: %+v (they inherit the scheme's)", s)
			}
			if o := c.monitorOptions(0); o.Interval != DefaultInterval || o.Rise != health.DefaultRise || o.Fall != health.DefaultFall {
				t.Errorf("monitor options %+v", o)
			}
		}},
		{"type upper-cased", `type = "a"`, func(t *testing.T, c *Config) {
			if c.Type != "A" {
				t.Errorf("type %q", c.Type)
			}
		}},
		{"retry_min above the default cap", `retry_min = "10m"`, func(t *testing.T, c *Config) {
			if c.RetryMin.D() != 10*time.Minute || c.RetryMax.D() != 10*time.Minute {
				t.Errorf("retry %v..%v, want 10m..10m (as the backoff runs it)", c.RetryMin, c.RetryMax)
			}
		}},
		{"witness quorum", "witness = true", func(t *testing.T, c *Config) {
			if c.Quorum != QuorumMajority {
				t.Errorf("quorum %q", c.Quorum)
			}
		}},
		{"explicit kept", "ttl = 300\npolicy = \"first\"\ninterval = \"2s\"\nrise = 1\nfall = 1\nretry_min = \"1s\"\nretry_max = \"3s\"\nrecheck = \"1m\"\nstate_dir = \"/srv/ddns\"",
			func(t *testing.T, c *Config) {
				if c.TTL != 300 || c.Policy != PolicyFirst || c.Interval.D() != 2*time.Second || c.Rise != 1 || c.Fall != 1 ||
					c.RetryMin.D() != time.Second || c.RetryMax.D() != 3*time.Second || c.Recheck.D() != time.Minute || c.StateDir != "/srv/ddns" {
					t.Errorf("explicit values changed: %+v", c)
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c Config
			if err := config.Decode("ddns.toml", tt.extra+"\n"+minimalScheme, &c); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			tt.check(t, &c)
		})
	}
}

// An error in a key that has a default still names the key as written.
func TestDefaultsKeepMessages(t *testing.T) {
	var c Config
	if err := config.Decode("ddns.toml", "type = \"mx\"\n"+minimalScheme, &c); err != nil {
		t.Fatal(err)
	}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `type: "mx": use A, AAAA or CNAME`) {
		t.Errorf("got %v", err)
	}
}
