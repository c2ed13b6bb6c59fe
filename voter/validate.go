package voter

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/redund/redund/internal/config"
)

// Validate checks the table and returns every problem with its key path
// relative to the table ("clients.alice.password: ...").
func (c *Config) Validate() error {
	var errs config.Errors
	if c.Listen != "" {
		if err := checkAddr4(c.Listen); err != nil {
			errs.Add("listen", "%v", err)
		}
	}
	switch pw := c.Password.Reveal(); {
	case pw == "":
		errs.Add("password", "is required (voter.conf [general] password)")
	case len(pw) > 28:
		errs.Add("password", "at most 28 characters")
	}
	if c.Buflen < 0 || c.Buflen > 10000 {
		errs.Add("buflen", "must be 0-10000 ms (0: the default 480; below 40 counts as 40)")
	}
	if c.Linger != nil && *c.Linger < 0 {
		errs.Add("linger", "must be >= 0")
	}
	if _, err := ParseThresholds(c.Thresholds, 0); err != nil { // the syntax only; linger does not change it
		errs.Add("thresholds", "%v", err)
	}
	switch {
	case c.Challenge != "" && !validChallenge(c.Challenge):
		errs.Add("challenge", "must be 1-9 decimal digits")
	case len(c.Challenge) > 8 && (c.IsPrimary || c.Primary != ""):
		errs.Add("challenge", "at most 8 digits on a redundant instance (chan_voter cuts a secondary's challenge to 8 characters)")
	}
	c.validateRedundancy(&errs)
	for _, k := range []struct{ key, v string }{{"rtp_out", c.RTPOut}, {"rtp_in", c.RTPIn}} {
		if k.v != "" {
			if err := checkAddr4(k.v); err != nil {
				errs.Add(k.key, "%v", err)
			}
		}
	}
	c.validateRTPInFrom(&errs)
	c.validateClients(&errs)
	return errs.Err()
}

// validateRTPInFrom checks the source pin of rtp_in.
func (c *Config) validateRTPInFrom(errs *config.Errors) {
	if c.RTPInFrom == nil {
		return
	}
	if c.RTPIn == "" {
		errs.Add("rtp_in_from", "needs rtp_in (it restricts who may send to rtp_in)")
	}
	if len(c.RTPInFrom) == 0 {
		errs.Add("rtp_in_from", "an empty list lets no one send transmit audio; remove the key to accept any source")
	}
	for i, s := range c.RTPInFrom {
		if _, err := parseSource(s); err != nil {
			errs.Add(config.Index("rtp_in_from", i), "%v", err)
		}
	}
}

// parseSource parses one rtp_in_from entry: an IPv4 address or an IPv4
// prefix in CIDR notation.
func parseSource(s string) (netip.Prefix, error) {
	bad := fmt.Errorf("%q: want an IPv4 address (192.0.2.10) or prefix (192.0.2.0/24)", s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || !p.Addr().Is4() {
			return netip.Prefix{}, bad
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, bad
	}
	return netip.PrefixFrom(a, 32), nil
}

// RTPInSources is rtp_in_from parsed (nil: any source). Call it on a
// validated config; invalid entries are left out.
func (c *Config) RTPInSources() []netip.Prefix {
	if c.RTPInFrom == nil {
		return nil
	}
	out := make([]netip.Prefix, 0, len(c.RTPInFrom))
	for _, s := range c.RTPInFrom {
		if p, err := parseSource(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// checkAddr4 checks host:port where the host, when it is an IP literal,
// is IPv4 (VOTER's proxy header and redund's sockets are IPv4).
func checkAddr4(addr string) error {
	if err := config.CheckHostPort(addr); err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return fmt.Errorf("%q: IPv4 only", addr)
	}
	return nil
}

func validChallenge(s string) bool {
	if len(s) == 0 || len(s) > ChallengeLen-1 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (c *Config) validateRedundancy(errs *config.Errors) {
	if c.Primary != "" {
		if c.IsPrimary {
			errs.Add("primary", "an instance cannot be both isprimary and a secondary (primary = ...)")
		}
		if _, _, err := c.PrimaryAddr(); err != nil {
			errs.Add("primary", "%v", err)
		}
	}
	if c.IsPrimary || c.Primary != "" {
		for _, name := range c.ClientNames() {
			if c.Clients[name] != nil && c.Clients[name].Master {
				errs.Add(config.Join("clients", name)+".master",
					"a master timing source cannot be on a redundant instance (put it in its own instance on the same listen address)")
			}
		}
	}
}

func (c *Config) validateClients(errs *config.Errors) {
	if len(c.Clients) == 0 {
		errs.Add("clients", "at least one client is required")
	}
	seen := map[string]string{}
	digests := map[uint32]string{}
	chal := []byte(c.Challenge)
	for _, name := range c.ClientNames() {
		cl := c.Clients[name]
		p := config.Join("clients", name)
		if cl == nil {
			errs.Add(p, "empty client")
			continue
		}
		pw := cl.Password.Reveal()
		switch {
		case pw == "":
			errs.Add(p+".password", "is required")
			continue
		case len(pw) > 48:
			errs.Add(p+".password", "at most 48 characters")
		}
		if pw == c.Password.Reveal() {
			errs.Add(p+".password", "must differ from the host password (a peer server's auth replies would look like this client)")
		}
		if other, dup := seen[pw]; dup {
			errs.Add(p+".password", "same password as clients.%s (the server identifies clients by password digest)", other)
			continue
		}
		seen[pw] = name
		if cl.Prio < -1 {
			errs.Add(p+".prio", "must be >= -1 (-1 keeps the client from winning the vote)")
		}
		if len(chal) > 0 && validChallenge(c.Challenge) {
			d := Digest(chal, pw)
			if d == 0 {
				errs.Add(p+".password", "its digest with challenge %s is 0 (not allowed); change the password", c.Challenge)
			} else if other, dup := digests[d]; dup {
				errs.Add(p+".password", "its digest collides with clients.%s; change one password", other)
			}
			digests[d] = name
		}
	}
}
