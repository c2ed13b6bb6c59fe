// Package ddns implements redund's ddns scheme: health-checked DNS
// failover in the manner of okerr. A scheme is one DNS name and a list of
// servers, each with a priority, an address and a health check; the name
// points at the highest-priority server that is OK and not in maintenance.
// The record is pushed to a DNS provider (RFC 2136, Cloudflare, Hurricane
// Electric) only when the chosen address differs from what the provider
// has, failed pushes are retried with capped exponential backoff, and a
// policy says what happens when no server is OK.
package ddns

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
	"github.com/redund/redund/internal/health"
)

// Defaults for keys a scheme leaves unset.
const (
	DefaultTTL      = 60
	DefaultInterval = 10 * time.Second
	DefaultRetryMin = 2 * time.Second
	DefaultRetryMax = 5 * time.Minute
	DefaultRecheck  = 10 * time.Minute
	DefaultStateDir = "/var/lib/redund"
)

// Policies for when no server is selectable.
const (
	PolicyKeep  = "keep"  // leave the record as it is (default)
	PolicySorry = "sorry" // point at the server named by `sorry`
	PolicyFirst = "first" // point at the highest-priority server even if ERR (okerr)
)

// Config is one [ddns.<scheme>] table.
type Config struct {
	Name      string          `toml:"name"`      // the DNS name (FQDN) this scheme sets
	Type      string          `toml:"type"`      // A (default), AAAA or CNAME
	TTL       int             `toml:"ttl"`       // seconds, default 60
	Policy    string          `toml:"policy"`    // keep (default), sorry, first
	Sorry     string          `toml:"sorry"`     // server used when nothing is OK (policy sorry)
	Interval  config.Duration `toml:"interval"`  // probe interval for every server, default 10s
	Rise      int             `toml:"rise"`      // consecutive OKs before a server is OK, default 2
	Fall      int             `toml:"fall"`      // consecutive failures before it is ERR, default 3
	RetryMin  config.Duration `toml:"retry_min"` // first retry delay after a failed push, default 2s
	RetryMax  config.Duration `toml:"retry_max"` // retry delay cap, default 5m
	Recheck   config.Duration `toml:"recheck"`   // re-read the provider's value this often, default 10m
	StateDir  string          `toml:"state_dir"` // where runtime maintenance is kept, default /var/lib/redund
	Resolvers []string        `toml:"resolvers"` // resolvers asked by `ddns propagation` (host[:port])
	// Witness makes this scheme one of several deciders on the [witness]:
	// the holder of lock "ddns.<scheme>" pushes, the others stand by.
	Witness bool `toml:"witness"`
	// Quorum is how many live deciders must see a server OK (witness
	// only): majority (default), any or all.
	Quorum   string           `toml:"quorum"`
	Provider dnsupdate.Config `toml:"provider"`
	Servers  []Server         `toml:"servers"`
}

// Server is one row of the scheme: [[ddns.<scheme>.servers]].
type Server struct {
	Name        string          `toml:"name"`
	Address     string          `toml:"address"`     // IPv4 (A), IPv6 (AAAA) or host name (CNAME)
	Priority    int             `toml:"priority"`    // higher wins
	Maintenance bool            `toml:"maintenance"` // never chosen while true
	Check       *health.Config  `toml:"check"`       // required except for the sorry server
	Interval    config.Duration `toml:"interval"`    // overrides the scheme's interval
	Rise        int             `toml:"rise"`        // overrides the scheme's rise
	Fall        int             `toml:"fall"`        // overrides the scheme's fall
}

// SetDefaults fills in every key the table leaves unset (zero). The config
// loader calls it once after decoding, before Validate; New and Plan call
// it for a Config built in code. A server's interval, rise and fall stay
// unset: they inherit the scheme's (monitorOptions).
func (c *Config) SetDefaults() {
	switch t := strings.ToUpper(c.Type); t {
	case "":
		c.Type = "A"
	case "A", "AAAA", "CNAME":
		c.Type = t
	}
	if c.TTL == 0 {
		c.TTL = DefaultTTL
	}
	if c.Policy == "" {
		c.Policy = PolicyKeep
	}
	if c.Interval == 0 {
		c.Interval = config.Duration(DefaultInterval)
	}
	if c.Rise == 0 {
		c.Rise = health.DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = health.DefaultFall
	}
	if c.RetryMin == 0 {
		c.RetryMin = config.Duration(DefaultRetryMin)
	}
	if c.RetryMax == 0 {
		// as the backoff does: a cap below the first delay is the first delay
		c.RetryMax = max(config.Duration(DefaultRetryMax), c.RetryMin)
	}
	if c.Recheck == 0 {
		c.Recheck = config.Duration(DefaultRecheck)
	}
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.Quorum == "" && c.Witness {
		c.Quorum = QuorumMajority
	}
	c.Servers = slices.Clone(c.Servers) // a copy's checks are its own (withDefaults)
	for i, s := range c.Servers {
		if s.Check != nil {
			ck := *s.Check
			ck.SetDefaults()
			c.Servers[i].Check = &ck
		}
	}
}

// withDefaults is a copy of c with SetDefaults applied: the caller's
// config is not changed.
func withDefaults(c *Config) *Config {
	cp := *c
	cp.SetDefaults()
	return &cp
}

// RecordType is the record type in upper case.
func (c *Config) RecordType() string { return strings.ToUpper(c.Type) }

// PolicyName is the policy.
func (c *Config) PolicyName() string { return c.Policy }

// RecordTTL is the TTL in seconds.
func (c *Config) RecordTTL() int { return c.TTL }

// Validate checks the table; paths are relative to it ("servers[2].priority").
func (c *Config) Validate() error {
	var errs config.Errors
	if c.Name == "" {
		errs.Add("name", "the DNS name to set is required (e.g. \"www.example.com\")")
	} else if _, ok := dns.IsDomainName(c.Name); !ok || !strings.Contains(strings.Trim(c.Name, "."), ".") {
		errs.Add("name", "%q is not a fully qualified domain name", c.Name)
	}
	switch c.RecordType() {
	case "A", "AAAA", "CNAME":
	default:
		errs.Add("type", "%q: use A, AAAA or CNAME", c.Type)
	}
	if c.TTL < 0 || c.TTL > 86400 {
		errs.Add("ttl", "must be 1-86400 seconds")
	}
	c.validatePolicy(&errs)
	c.validateTiming(&errs)
	switch {
	case c.Quorum != "" && !c.Witness:
		errs.Add("quorum", "only used with witness = true")
	case c.Quorum != "" && c.Quorum != QuorumMajority && c.Quorum != QuorumAny && c.Quorum != QuorumAll:
		errs.Add("quorum", "%q: use majority, any or all", c.Quorum)
	}
	for i, r := range c.Resolvers {
		if err := config.CheckHostPort(dnsupdate.WithPort(r)); err != nil {
			errs.Add(config.Index("resolvers", i), "%v", err)
		}
	}
	errs.Merge("provider", c.Provider.Validate())
	if c.Provider.Kind != "" && !c.Provider.Supports(c.RecordType()) {
		errs.Add("type", "provider %s cannot set %s records", c.Provider.Kind, c.RecordType())
	}
	c.validateServers(&errs)
	return errs.Err()
}

func (c *Config) validatePolicy(errs *config.Errors) {
	switch c.PolicyName() {
	case PolicyKeep, PolicyFirst:
		if c.Sorry != "" {
			errs.Add("sorry", "only used with policy = \"sorry\"")
		}
	case PolicySorry:
		if c.Sorry == "" {
			errs.Add("sorry", "policy \"sorry\" needs the name of the sorry server")
		} else if c.server(c.Sorry) < 0 {
			errs.Add("sorry", "no server is named %q", c.Sorry)
		}
	default:
		errs.Add("policy", "%q: use keep, sorry or first", c.Policy)
	}
}

func (c *Config) validateTiming(errs *config.Errors) {
	for _, kd := range []struct {
		key string
		d   config.Duration
	}{{"interval", c.Interval}, {"retry_min", c.RetryMin}, {"retry_max", c.RetryMax}, {"recheck", c.Recheck}} {
		if kd.d < 0 {
			errs.Add(kd.key, "must not be negative")
		}
	}
	if c.RetryMax < c.RetryMin {
		errs.Add("retry_max", "must not be less than retry_min")
	}
	checkCount(errs, "rise", c.Rise)
	checkCount(errs, "fall", c.Fall)
}

func checkCount(errs *config.Errors, key string, n int) {
	if n < 0 || n > 100 {
		errs.Add(key, "must be 1-100")
	}
}

func (c *Config) validateServers(errs *config.Errors) {
	if len(c.Servers) == 0 {
		errs.Add("servers", "at least one server is required ([[...servers]] with name, address, priority, check)")
	}
	seen := map[string]bool{}
	for i, s := range c.Servers {
		p := config.Index("servers", i)
		switch {
		case s.Name == "":
			errs.Add(config.Join(p, "name"), "required")
		case seen[s.Name]:
			errs.Add(config.Join(p, "name"), "%q is used by another server", s.Name)
		}
		seen[s.Name] = true
		if err := checkAddress(c.RecordType(), s.Address); err != "" {
			errs.Add(config.Join(p, "address"), "%s", err)
		}
		if s.Priority <= 0 {
			errs.Add(config.Join(p, "priority"), "must be > 0 (higher wins)")
		}
		switch {
		case s.Check != nil:
			errs.Merge(config.Join(p, "check"), s.Check.Validate())
		case s.Name != c.Sorry || c.PolicyName() != PolicySorry:
			errs.Add(config.Join(p, "check"), "missing: every server needs a health check (only the sorry server may go without)")
		}
		if s.Interval < 0 {
			errs.Add(config.Join(p, "interval"), "must not be negative")
		}
		checkCount(errs, config.Join(p, "rise"), s.Rise)
		checkCount(errs, config.Join(p, "fall"), s.Fall)
	}
}

// checkAddress returns a problem with addr for records of rtype, or "".
func checkAddress(rtype, addr string) string {
	if addr == "" {
		return "required"
	}
	switch rtype {
	case "A", "AAAA":
		a, err := netip.ParseAddr(addr)
		if err != nil || a.Zone() != "" {
			return "\"" + addr + "\" is not an IP address"
		}
		if rtype == "A" && !a.Is4() {
			return "\"" + addr + "\" is not an IPv4 address (type A)"
		}
		if rtype == "AAAA" && a.Is4() {
			return "\"" + addr + "\" is not an IPv6 address (type AAAA)"
		}
	case "CNAME":
		if _, ok := dns.IsDomainName(addr); !ok || net.ParseIP(addr) != nil {
			return "\"" + addr + "\" is not a host name (type CNAME)"
		}
	}
	return ""
}

// server returns the index of the server named name, or -1.
// Clashes finds schemes that set the same DNS record as another: the same
// name with the same type, or with a CNAME on either side (a CNAME cannot
// sit beside other records), at the same provider (kind and server, zone
// or URL; the same name at two providers, as in split-horizon DNS, is two
// records). Two such schemes would push against each other, each showing
// Synced in turn. It returns, by the key of the later scheme's name
// ("<scheme>.name"), what it clashes with.
func Clashes(cfgs map[string]*Config) map[string]string {
	out := map[string]string{}
	names := slices.Sorted(maps.Keys(cfgs))
	for i, a := range names {
		for _, b := range names[i+1:] {
			ca, cb := cfgs[a], cfgs[b]
			if ca == nil || cb == nil || !strings.EqualFold(dns.Fqdn(ca.Name), dns.Fqdn(cb.Name)) ||
				providerPlace(ca.Provider) != providerPlace(cb.Provider) {
				continue
			}
			ta, tb := ca.RecordType(), cb.RecordType()
			if ta == "" {
				ta = "A"
			}
			if tb == "" {
				tb = "A"
			}
			if ta != tb && ta != "CNAME" && tb != "CNAME" {
				continue // A and AAAA of one name: two records
			}
			if _, seen := out[b+".name"]; !seen {
				out[b+".name"] = fmt.Sprintf("%s (%s) is also set by scheme %q (%s): the two would push against each other", cb.Name, tb, a, ta)
			}
		}
	}
	return out
}

// providerPlace is where a provider sets records: two schemes with the
// same place and name set the same record.
func providerPlace(p dnsupdate.Config) string {
	switch p.Kind {
	case "rfc2136":
		return p.Kind + " " + strings.ToLower(p.Server)
	case "cloudflare":
		return p.Kind + " " + strings.ToLower(dns.Fqdn(p.Zone)) + " " + p.BaseURL
	}
	return p.Kind + " " + p.BaseURL
}

func (c *Config) server(name string) int {
	for i, s := range c.Servers {
		if s.Name == name {
			return i
		}
	}
	return -1
}

// monitorOptions are the probe settings of server i.
func (c *Config) monitorOptions(i int) health.MonitorOptions {
	s := c.Servers[i]
	o := health.MonitorOptions{Interval: s.Interval.D(), Rise: s.Rise, Fall: s.Fall}
	if o.Interval == 0 {
		o.Interval = c.Interval.D()
	}
	if o.Rise == 0 {
		o.Rise = c.Rise
	}
	if o.Fall == 0 {
		o.Fall = c.Fall
	}
	return o
}
