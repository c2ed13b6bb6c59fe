package health

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/dnsupdate"
)

// kindKeys lists the keys (besides kind and timeout) each kind may use.
var kindKeys = map[string][]string{
	"http": {"url", "method", "status", "musthave", "mustnothave", "max_bytes", "addr", "insecure", "keepalive", "redirects"},
	"tcp":  {"address", "send", "expect"},
	"dns":  {"server", "name", "type", "value"},
	"exec": {"command"},
}

// Validate checks c and returns config.Errors with paths relative to the
// check's table ("url: ..."), or nil.
func (c *Config) Validate() error {
	var errs config.Errors
	keys, ok := kindKeys[c.Kind]
	switch {
	case c.Kind == "":
		errs.Add("kind", "missing (one of http, tcp, dns, exec)")
	case !ok:
		errs.Add("kind", "%q is not one of http, tcp, dns, exec", c.Kind)
	}
	if c.Timeout < 0 {
		errs.Add("timeout", "must not be negative")
	}
	if !ok {
		return errs.Err()
	}
	c.checkForeignKeys(keys, &errs)
	switch c.Kind {
	case "http":
		c.validateHTTP(&errs)
	case "tcp":
		if c.Address == "" {
			errs.Add("address", "missing (host:port)")
		} else if err := checkDialAddr(c.Address); err != nil {
			errs.Add("address", "%v", err)
		}
	case "dns":
		c.validateDNS(&errs)
	case "exec":
		if len(c.Command) == 0 || c.Command[0] == "" {
			errs.Add("command", "missing (program and arguments, e.g. [\"/usr/lib/nagios/plugins/check_ping\", \"-H\", \"host\"])")
		}
	}
	return errs.Err()
}

// checkForeignKeys reports keys set that belong to another kind.
func (c *Config) checkForeignKeys(allowed []string, errs *config.Errors) {
	set := map[string]bool{
		"url": c.URL != "", "method": c.Method != "", "status": len(c.Status) > 0,
		"musthave": c.MustHave != "", "mustnothave": c.MustNotHave != "",
		"max_bytes": c.MaxBytes != 0, "addr": c.Addr != "", "insecure": c.Insecure, "keepalive": c.KeepAlive,
		"redirects": c.Redirects != "", "address": c.Address != "", "send": c.Send != "", "expect": c.Expect != "",
		"server": c.Server != "", "name": c.Name != "", "type": c.Type != "", "value": c.Value != "",
		"command": len(c.Command) > 0,
	}
	for _, k := range allowed {
		delete(set, k)
	}
	for _, k := range slices.Sorted(maps.Keys(set)) {
		if set[k] {
			errs.Add(k, "not used by kind %q (see docs/check.md)", c.Kind)
		}
	}
}

func (c *Config) validateHTTP(errs *config.Errors) {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		errs.Add("url", "missing (e.g. \"https://example.test/health\")")
	case err != nil:
		errs.Add("url", "%v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		errs.Add("url", "%q: scheme must be http or https", c.URL)
	case u.Host == "":
		errs.Add("url", "%q: no host", c.URL)
	default:
		if _, err := requestBytes("GET", u, false); err != nil {
			errs.Add("url", "%q: %v", c.URL, err)
		}
	}
	if m := strings.ToUpper(c.Method); m != "" && m != "GET" && m != "HEAD" {
		errs.Add("method", "%q is not GET or HEAD", c.Method)
	}
	if _, err := ParseStatus(c.Status...); err != nil {
		errs.Add("status", "%v", err)
	}
	if c.MaxBytes < 0 {
		errs.Add("max_bytes", "must not be negative")
	}
	if c.Addr != "" && net.ParseIP(c.Addr) == nil { // a bare IP takes the URL's port
		if err := checkDialAddr(c.Addr); err != nil {
			errs.Add("addr", "%v (or a bare IP address to keep the URL's port)", err)
		}
	}
	switch c.Redirects {
	case "", RedirectsSameHost, RedirectsFollow, RedirectsNone:
	default:
		errs.Add("redirects", "%q is not one of same-host, follow, none", c.Redirects)
	}
	if strings.ToUpper(c.Method) == "HEAD" && (c.MustHave != "" || c.MustNotHave != "") {
		errs.Add("method", "HEAD has no body to search for musthave/mustnothave")
	}
}

func (c *Config) validateDNS(errs *config.Errors) {
	if c.Server == "" {
		errs.Add("server", "missing (host or host:port)")
	} else if err := checkDialAddr(dnsupdate.WithPort(c.Server)); err != nil {
		errs.Add("server", "%v", err)
	}
	if c.Name == "" {
		errs.Add("name", "missing (name to query)")
	} else if _, ok := dns.IsDomainName(c.Name); !ok {
		errs.Add("name", "%q is not a domain name", c.Name)
	}
	if c.Type != "" {
		if _, ok := dns.StringToType[strings.ToUpper(c.Type)]; !ok {
			errs.Add("type", "%q is not a DNS record type (e.g. A, AAAA, CNAME, TXT, SRV)", c.Type)
		}
	}
}

// checkDialAddr checks a host:port to connect to: the host and a non-zero port are required.
func checkDialAddr(addr string) error {
	if err := config.CheckHostPort(addr); err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(addr)
	if host == "" {
		return fmt.Errorf("%q: host missing", addr)
	}
	if port == "0" {
		return fmt.Errorf("%q: port must not be 0", addr)
	}
	return nil
}
