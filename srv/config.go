// Package srv implements redund's srv scheme: DNS SRV (and optional NAPTR,
// RFC 3263) records that give SIP phones in each zone their own ordered
// list of media servers. It generates the records from the [srv] table in
// three formats, explains the RFC 2782 selection they cause, checks the
// published DNS against the config, and pushes differences with RFC 2136.
package srv

import (
	"strings"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
)

// Limits and defaults of the [srv] table.
const (
	DefaultTTL    = 300
	MinTTL        = 30    // shorter TTLs only add query load; failover happens in the phone
	MaxTTL        = 86400 // longer TTLs make a changed order take more than a day to reach phones
	DefaultWeight = 10
	PriorityStep  = 10 // priority of the n-th target of an order list is n*PriorityStep
)

// Transports in their canonical order, and the SRV label and NAPTR service
// of each (RFC 3263 section 4.1).
var transportInfo = map[string]struct{ label, service string }{
	"udp": {"_sip._udp", "SIP+D2U"},
	"tcp": {"_sip._tcp", "SIP+D2T"},
	"tls": {"_sips._tcp", "SIPS+D2T"},
}

// AllTransports lists the transports redund knows, in canonical order.
var AllTransports = []string{"udp", "tcp", "tls"}

// Config is the [srv] table.
type Config struct {
	Domain     string          `toml:"domain"`      // SRV names are _sip._udp.<zone>.<domain>.
	TTL        int             `toml:"ttl"`         // default TTL of every record, seconds
	Transports []string        `toml:"transports"`  // served transports, in NAPTR preference order; default udp, tcp
	NAPTR      bool            `toml:"naptr"`       // publish RFC 3263 NAPTR records at <zone>.<domain>.
	NotOffered bool            `toml:"not_offered"` // publish "." SRV records for transports a zone does not offer
	Resolver   string          `toml:"resolver"`    // host:port that check queries; default the push server
	Timeout    config.Duration `toml:"timeout"`     // per DNS query / probe; default 2s
	Targets    []*Target       `toml:"targets"`
	Zones      []*Zone         `toml:"zones"`
	Push       *Push           `toml:"push"`
}

// Target is one media server.
type Target struct {
	Name   string `toml:"name"`   // short name the zones refer to
	Host   string `toml:"host"`   // fully qualified host name with A/AAAA records (not a CNAME, not an IP)
	Weight *int   `toml:"weight"` // default weight in every zone; default 10
	UDP    int    `toml:"udp"`    // port per transport; 0 = not offered on that transport
	TCP    int    `toml:"tcp"`
	TLS    int    `toml:"tls"`
}

// Zone is one group of phones with its own order of targets. Give either
// Order (priorities 10, 20, 30... in list order) or Targets (explicit).
type Zone struct {
	Name    string   `toml:"name"`    // relative name below the domain: "east" → _sip._udp.east.<domain>.
	TTL     int      `toml:"ttl"`     // overrides the table's ttl
	Order   []string `toml:"order"`   // target names, most preferred first
	Targets []*Entry `toml:"targets"` // explicit entries
}

// Entry is one target of a zone with explicit priority and weight.
type Entry struct {
	Target   string `toml:"target"`
	Priority *int   `toml:"priority"` // default: position*10
	Weight   *int   `toml:"weight"`   // default: the target's weight
}

// Push is where `srv push` sends RFC 2136 updates.
type Push struct {
	Server  string          `toml:"server"` // host:port of the primary
	Zone    string          `toml:"zone"`   // zone that contains the domain; default the domain
	Net     string          `toml:"net"`    // udp (default) or tcp
	Timeout config.Duration `toml:"timeout"`
	TSIG    *dnsupdate.TSIG `toml:"tsig"`
}

// SetDefaults fills in every key the table leaves unset (zero): ttl,
// transports, timeout, each target's weight and push.timeout. The config
// loader calls it once after decoding, before Validate; Generate, Check,
// Explain and Plan read the plain fields, so a Config built in code needs
// it too. A zone's ttl and an entry's weight stay unset: they inherit the
// table's ttl and the target's weight. push.zone stays unset as well (the
// domain is used; Validate checks a zone only when one is written).
func (c *Config) SetDefaults() {
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if len(c.Transports) == 0 {
		c.Transports = []string{"udp", "tcp"}
	}
	if c.Timeout == 0 {
		c.Timeout = config.Duration(DefaultTimeout)
	}
	for _, t := range c.Targets {
		if t != nil && t.Weight == nil {
			w := DefaultWeight
			t.Weight = &w
		}
	}
	if c.Push != nil && c.Push.Timeout == 0 {
		c.Push.Timeout = config.Duration(dnsupdate.DefaultTimeout)
	}
}

// port returns t's port for transport tr (0 when not offered).
func (t *Target) port(tr string) int {
	switch tr {
	case "udp":
		return t.UDP
	case "tcp":
		return t.TCP
	case "tls":
		return t.TLS
	}
	return 0
}

// fqdn is the lower-case fully qualified form of a name.
func fqdn(s string) string { return strings.ToLower(dns.Fqdn(strings.TrimSpace(s))) }

// DomainFQDN is the domain, lower case and fully qualified.
func (c *Config) DomainFQDN() string { return fqdn(c.Domain) }

// transports returns the served transports, lower case.
func (c *Config) transports() []string {
	out := make([]string, len(c.Transports))
	for i, t := range c.Transports {
		out[i] = strings.ToLower(t)
	}
	return out
}

func (c *Config) ttl(z *Zone) uint32 {
	if z != nil && z.TTL > 0 {
		return uint32(z.TTL)
	}
	return uint32(c.TTL)
}

func (c *Config) target(name string) *Target {
	for _, t := range c.Targets {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// entries returns the zone's targets with priority and weight resolved.
func (c *Config) entries(z *Zone) []Entry {
	var out []Entry
	add := func(i int, name string, prio, weight *int) {
		t := c.target(name)
		if t == nil {
			return
		}
		p, w := (i+1)*PriorityStep, *t.Weight
		if prio != nil {
			p = *prio
		}
		if weight != nil {
			w = *weight
		}
		out = append(out, Entry{Target: name, Priority: &p, Weight: &w})
	}
	for i, n := range z.Order {
		add(i, n, nil, nil)
	}
	for i, e := range z.Targets {
		add(i, e.Target, e.Priority, e.Weight)
	}
	return out
}

// Client returns the RFC 2136 client for the push target.
func (p *Push) Client(domain string) *dnsupdate.RFC2136 {
	zone := p.Zone
	if zone == "" {
		zone = domain
	}
	return &dnsupdate.RFC2136{Server: p.Server, Zone: fqdn(zone), Key: p.TSIG, Timeout: p.Timeout.D(), Net: p.Net}
}
