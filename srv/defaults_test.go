package srv

import (
	"slices"
	"testing"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
)

// A decoded [srv] table has every default set, and what the file gives is
// kept; a zone's ttl and an entry's weight stay unset (they inherit).
func TestDecodedDefaults(t *testing.T) {
	const minimal = `[srv]
domain = "sip.example.com"
[[srv.targets]]
name = "a"
host = "a.example.com"
udp = 5060
[[srv.zones]]
name = "east"
targets = [{target = "a", priority = 1}]
[srv.push]
server = "127.0.0.1:53"
`
	const explicit = `[srv]
domain = "sip.example.com"
ttl = 600
transports = ["tls"]
timeout = "5s"
[[srv.targets]]
name = "a"
host = "a.example.com"
tls = 5061
weight = 0
[srv.push]
server = "127.0.0.1:53"
timeout = "1s"
`
	for _, tt := range []struct {
		name, src  string
		ttl        int
		transports []string
		timeout    time.Duration
		weight     int
		push       time.Duration
	}{
		{"minimal", minimal, DefaultTTL, []string{"udp", "tcp"}, DefaultTimeout, DefaultWeight, dnsupdate.DefaultTimeout},
		{"explicit values kept", explicit, 600, []string{"tls"}, 5 * time.Second, 0, time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var tb table
			if err := config.Decode("srv.toml", tt.src, &tb); err != nil {
				t.Fatal(err)
			}
			c := tb.Srv
			if c.TTL != tt.ttl || !slices.Equal(c.Transports, tt.transports) || c.Timeout.D() != tt.timeout ||
				c.Targets[0].Weight == nil || *c.Targets[0].Weight != tt.weight || c.Push.Timeout.D() != tt.push {
				t.Errorf("decoded %+v (weight %v, push %+v)", c, c.Targets[0].Weight, c.Push)
			}
			for _, z := range c.Zones {
				if z.TTL != 0 || z.Targets[0].Weight != nil {
					t.Errorf("zone %q: ttl %d, entry weight %v; want both unset", z.Name, z.TTL, z.Targets[0].Weight)
				}
			}
		})
	}
}
