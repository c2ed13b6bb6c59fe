package dnsupdate

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
)

// Config is a provider table as written in TOML (e.g. [ddns.cat.provider]).
// Only the keys of its Kind may be set.
type Config struct {
	Kind    string          `toml:"kind"`    // rfc2136, cloudflare, he
	Zone    string          `toml:"zone"`    // zone apex; required for rfc2136 and cloudflare
	Timeout config.Duration `toml:"timeout"` // per request, default 5s

	// rfc2136: server is the primary (host:port); he: the DNS server read
	// for the current value (default ns1.he.net:53)
	Server string `toml:"server"`
	Key    *TSIG  `toml:"key"` // rfc2136 TSIG key ([...provider.key] name, algorithm, secret)
	Net    string `toml:"net"` // rfc2136: udp (default) or tcp

	Token   config.Secret `toml:"token"`    // cloudflare API token (token_file / token_env)
	Proxied bool          `toml:"proxied"`  // cloudflare: proxied flag of created records
	BaseURL string        `toml:"base_url"` // cloudflare API base or HE update URL

	Password config.Secret `toml:"password"` // he: the record's dynamic DNS key
}

// Validate checks the table; paths are relative to it.
func (c *Config) Validate() error {
	var errs config.Errors
	switch c.Kind {
	case "rfc2136":
		c.validateRFC2136(&errs)
	case "cloudflare":
		if c.Token == "" {
			errs.Add("token", "cloudflare needs an API token (token, token_file or token_env)")
		}
		c.needZone(&errs)
		c.foreign(&errs, "server", "key", "net", "password")
	case "he":
		if c.Password == "" {
			errs.Add("password", "he needs the record's dynamic DNS key (password, password_file or password_env)")
		}
		if c.Server != "" {
			c.hostPort(&errs, "server", c.Server)
		}
		c.foreign(&errs, "key", "net", "token", "proxied")
	case "":
		errs.Add("kind", "provider kind is required: rfc2136, cloudflare or he")
	default:
		errs.Add("kind", "unknown provider kind %q: use rfc2136, cloudflare or he", c.Kind)
	}
	if c.BaseURL != "" {
		if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.Add("base_url", "%q is not an http(s) URL", c.BaseURL)
		}
	}
	if c.Timeout < 0 {
		errs.Add("timeout", "must be positive")
	}
	return errs.Err()
}

func (c *Config) validateRFC2136(errs *config.Errors) {
	if c.Server == "" {
		errs.Add("server", "rfc2136 needs the primary's address (host:port)")
	} else {
		c.hostPort(errs, "server", c.Server)
	}
	c.needZone(errs)
	if c.Key != nil {
		errs.Merge("key", c.Key.Validate())
	}
	if c.Net != "" && c.Net != "udp" && c.Net != "tcp" {
		errs.Add("net", "use udp or tcp")
	}
	c.foreign(errs, "token", "proxied", "base_url", "password")
}

func (c *Config) needZone(errs *config.Errors) {
	if c.Zone == "" {
		errs.Add("zone", "%s needs the zone name (e.g. \"example.com\")", c.Kind)
	} else if _, ok := dns.IsDomainName(c.Zone); !ok {
		errs.Add("zone", "%q is not a domain name", c.Zone)
	}
}

func (c *Config) hostPort(errs *config.Errors, key, v string) {
	if err := config.CheckHostPort(v); err != nil {
		errs.Add(key, "%v", err)
	}
}

// foreign reports keys that belong to other kinds.
func (c *Config) foreign(errs *config.Errors, keys ...string) {
	set := map[string]bool{"server": c.Server != "", "key": c.Key != nil, "net": c.Net != "",
		"token": c.Token != "", "proxied": c.Proxied, "base_url": c.BaseURL != "", "password": c.Password != ""}
	for _, k := range keys {
		if set[k] {
			errs.Add(k, "not used by provider kind %q", c.Kind)
		}
	}
}

// Supports reports whether the provider kind can set records of rtype.
func (c *Config) Supports(rtype string) bool {
	t := strings.ToUpper(rtype)
	if c.Kind == "he" {
		return t == "A" || t == "AAAA"
	}
	return t == "A" || t == "AAAA" || t == "CNAME"
}

// New returns the Provider the config describes (validating it first).
func New(c Config) (Provider, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("dnsupdate: %w", err)
	}
	to := c.Timeout.D()
	switch c.Kind {
	case "rfc2136":
		return &NSUpdate{Client: &RFC2136{Server: c.Server, Zone: dns.Fqdn(c.Zone), Key: c.Key, Timeout: to, Net: c.Net}}, nil
	case "cloudflare":
		return &Cloudflare{BaseURL: c.BaseURL, Token: c.Token, Zone: c.Zone, Proxied: c.Proxied, Timeout: to}, nil
	default:
		return &HE{BaseURL: c.BaseURL, Password: c.Password, Server: c.Server, Timeout: to}, nil
	}
}
