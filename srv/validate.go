package srv

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
)

// Validate checks the [srv] table and returns every problem, each with its
// key path relative to the table ("zones[1].order[2]: unknown target ...").
// Whether a target host is a CNAME can only be seen in live DNS: `srv
// check` reports that.
func (c *Config) Validate() error {
	var errs config.Errors
	c.validateTop(&errs)
	if len(c.Targets) == 0 {
		errs.Add("targets", "at least one target is required ([[srv.targets]] with name, host and ports)")
	}
	seen := map[string]int{}
	for i, t := range c.Targets {
		c.validateTarget(&errs, i, t, seen)
	}
	if len(c.Zones) == 0 {
		errs.Add("zones", "at least one zone is required ([[srv.zones]] with name and order)")
	}
	zones := map[string]int{}
	for i, z := range c.Zones {
		c.validateZone(&errs, i, z, zones)
	}
	if c.Push != nil {
		c.validatePush(&errs, c.Push)
	}
	return errs.Err()
}

func (c *Config) validateTop(errs *config.Errors) {
	switch d := strings.TrimSpace(c.Domain); {
	case d == "" || d == ".":
		errs.Add("domain", "domain is required (e.g. \"sip.example.com\")")
	case !validName(d):
		errs.Add("domain", "%q is not a valid domain name", d)
	}
	checkTTL(errs, "ttl", c.TTL)
	seen := map[string]bool{}
	for i, t := range c.Transports {
		p := config.Index("transports", i)
		t = strings.ToLower(t)
		switch {
		case !slices.Contains(AllTransports, t):
			errs.Add(p, "unknown transport %q (use udp, tcp or tls)", c.Transports[i])
		case seen[t]:
			errs.Add(p, "transport %q is listed twice", t)
		}
		seen[t] = true
	}
	if c.Resolver != "" {
		if err := config.CheckHostPort(c.Resolver); err != nil {
			errs.Add("resolver", "%v", err)
		}
	}
	checkTimeout(errs, "timeout", c.Timeout)
}

// domainOK reports whether domain is valid, so that checks built on it are
// worth making (an empty or bad domain is reported once, on its own key).
func (c *Config) domainOK() bool {
	d := strings.TrimSpace(c.Domain)
	return d != "" && d != "." && validName(d)
}

// badHyphenLabel returns the first label of host name h that starts or ends
// with a hyphen (RFC 952 and 1123 host names, as BIND's check-names enforces
// them), or "".
func badHyphenLabel(h string) string {
	for _, l := range dns.SplitDomainName(h) {
		if strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return l
		}
	}
	return ""
}

func checkTTL(errs *config.Errors, path string, ttl int) {
	if ttl != 0 && (ttl < MinTTL || ttl > MaxTTL) {
		errs.Add(path, "must be between %d and %d seconds, got %d", MinTTL, MaxTTL, ttl)
	}
}

func checkTimeout(errs *config.Errors, path string, d config.Duration) {
	if d < 0 || d.D() > time.Minute {
		errs.Add(path, "must be between 0 (default) and 1m, got %s", d)
	}
}

func checkUint16(errs *config.Errors, path string, v *int) {
	if v != nil && (*v < 0 || *v > 65535) {
		errs.Add(path, "must be between 0 and 65535, got %d", *v)
	}
}

// validName reports whether s is a domain name of ASCII letters, digits,
// hyphens and underscores (internationalised names must be given in their
// xn-- form).
func validName(s string) bool {
	if _, ok := dns.IsDomainName(s); !ok {
		return false
	}
	for _, r := range s {
		if !(r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// validateTarget checks targets[i]; seen maps each name to the index of
// its first target.
func (c *Config) validateTarget(errs *config.Errors, i int, t *Target, seen map[string]int) {
	p := config.Index("targets", i)
	switch {
	case t.Name == "":
		errs.Add(config.Join(p, "name"), "name is required")
	case strings.ContainsAny(t.Name, " \t,"):
		errs.Add(config.Join(p, "name"), "%q: a target name must not contain spaces or commas", t.Name)
	default:
		if j, dup := seen[t.Name]; dup {
			errs.Add(config.Join(p, "name"), "duplicate target name %q (also targets[%d])", t.Name, j)
		} else {
			seen[t.Name] = i
		}
	}
	checkHost(errs, config.Join(p, "host"), t.Host)
	checkUint16(errs, config.Join(p, "weight"), t.Weight)
	offers := false
	for _, tr := range AllTransports {
		port := t.port(tr)
		if port < 0 || port > 65535 {
			errs.Add(config.Join(p, tr), "port must be between 1 and 65535 (0 or absent: not offered), got %d", port)
		}
		if port > 0 && slices.Contains(c.transports(), tr) {
			offers = true
		}
	}
	if !offers {
		errs.Add(p, "target %q has no port for any served transport (%s)", t.Name, strings.Join(c.transports(), ", "))
	}
}

func checkHost(errs *config.Errors, p, h string) {
	h = strings.TrimSpace(h)
	switch {
	case h == "":
		errs.Add(p, "host is required (the media server's fully qualified name)")
	case net.ParseIP(strings.Trim(h, "[]")) != nil:
		errs.Add(p, "%q is an IP address; an SRV target must be a host name with A/AAAA records (RFC 2782)", h)
	case h == ".":
		errs.Add(p, `"." is not a host; leave the transport's port at 0 to publish a "." record`)
	case !validName(h) || strings.Contains(h, "_"):
		errs.Add(p, "%q is not a valid host name (letters, digits, hyphens; xn-- for international names)", h)
	case badHyphenLabel(h) != "":
		errs.Add(p, "%q is not a valid host name: label %q starts or ends with a hyphen (BIND's check-names refuses it)", h, badHyphenLabel(h))
	case dns.CountLabel(h) < 2:
		errs.Add(p, "%q must be a fully qualified name (e.g. ms1.example.com)", h)
	}
}

// validateZone checks zones[i]; seen maps each zone name (lower case) to
// the index of its first zone.
func (c *Config) validateZone(errs *config.Errors, i int, z *Zone, seen map[string]int) {
	p := config.Index("zones", i)
	name := strings.ToLower(strings.TrimSpace(z.Name))
	switch {
	case name == "":
		errs.Add(config.Join(p, "name"), "name is required (e.g. \"east\")")
	case strings.HasSuffix(name, ".") || !validName(name):
		errs.Add(config.Join(p, "name"), "%q must be a relative name below the domain (e.g. \"east\")", z.Name)
	case c.domainOK() && !validName("_sips._tcp."+name+"."+c.DomainFQDN()):
		errs.Add(config.Join(p, "name"), "the SRV names of zone %q would be longer than 253 characters", z.Name)
	default:
		if j, dup := seen[name]; dup {
			errs.Add(config.Join(p, "name"), "duplicate zone name %q (also zones[%d])", z.Name, j)
		} else {
			seen[name] = i
		}
	}
	checkTTL(errs, config.Join(p, "ttl"), z.TTL)
	switch {
	case len(z.Order) > 0 && len(z.Targets) > 0:
		errs.Add(p, "give order or [[targets]], not both")
	case len(z.Order) == 0 && len(z.Targets) == 0:
		errs.Add(p, "zone %q is empty: give order = [\"ms1\", ...] or [[targets]]", z.Name)
	}
	used := map[string]bool{}
	for k, n := range z.Order {
		c.checkRef(errs, config.Index(config.Join(p, "order"), k), n, used)
	}
	for k, e := range z.Targets {
		ep := config.Index(config.Join(p, "targets"), k)
		c.checkRef(errs, config.Join(ep, "target"), e.Target, used)
		checkUint16(errs, config.Join(ep, "priority"), e.Priority)
		checkUint16(errs, config.Join(ep, "weight"), e.Weight)
	}
	if len(c.entries(z)) > 0 && !c.zoneOffersAny(z) {
		errs.Add(p, "no target of zone %q has a port for a served transport", z.Name)
	}
	c.checkDuplicateRecords(errs, p, z)
}

// checkDuplicateRecords finds two targets of a zone that would publish the
// same SRV target and port (same host under two names).
func (c *Config) checkDuplicateRecords(errs *config.Errors, p string, z *Zone) {
	for _, tr := range c.transports() {
		seen := map[string]string{}
		for _, e := range c.entries(z) {
			t := c.target(e.Target)
			if t.port(tr) <= 0 || t.Host == "" {
				continue
			}
			k := fmt.Sprintf("%s:%d", fqdn(t.Host), t.port(tr))
			if other, dup := seen[k]; dup {
				errs.Add(p, "targets %q and %q are the same server on %s (%s)", other, e.Target, tr, k)
				return
			}
			seen[k] = e.Target
		}
	}
}

func (c *Config) checkRef(errs *config.Errors, p, name string, used map[string]bool) {
	switch {
	case name == "":
		errs.Add(p, "target name is required")
	case c.target(name) == nil:
		errs.Add(p, "unknown target %q (known: %s)", name, strings.Join(c.targetNames(), ", "))
	case used[name]:
		errs.Add(p, "target %q appears twice in this zone", name)
	}
	used[name] = true
}

func (c *Config) targetNames() []string {
	var out []string
	for _, t := range c.Targets {
		if t.Name != "" {
			out = append(out, t.Name)
		}
	}
	return out
}

func (c *Config) zoneOffersAny(z *Zone) bool {
	for _, e := range c.entries(z) {
		t := c.target(e.Target)
		for _, tr := range c.transports() {
			if t.port(tr) > 0 {
				return true
			}
		}
	}
	return false
}

func (c *Config) validatePush(errs *config.Errors, p *Push) {
	if p.Server == "" {
		errs.Add("push.server", "server is required (the primary's host:port, e.g. \"ns1.example.com:53\")")
	} else if err := config.CheckHostPort(p.Server); err != nil {
		errs.Add("push.server", "%v", err)
	}
	if p.Zone != "" {
		if !validName(p.Zone) {
			errs.Add("push.zone", "%q is not a valid zone name", p.Zone)
		} else if c.Domain != "" && !dns.IsSubDomain(fqdn(p.Zone), c.DomainFQDN()) {
			errs.Add("push.zone", "domain %q is not inside zone %q", c.Domain, p.Zone)
		}
	}
	if n := strings.ToLower(p.Net); n != "" && n != "udp" && n != "tcp" {
		errs.Add("push.net", "must be udp or tcp, got %q", p.Net)
	}
	checkTimeout(errs, "push.timeout", p.Timeout)
	if p.TSIG == nil {
		errs.Add("push.tsig", "a TSIG key is required: [srv.push.tsig] with name, algorithm and secret (or secret_file / secret_env)")
		return
	}
	errs.Merge("push.tsig", p.TSIG.Validate())
}
