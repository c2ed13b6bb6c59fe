package witness

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/redund/redund/internal/config"
)

// Defaults of the [witness] table.
const (
	DefaultPrefix = "/redund/"
	DefaultTTL    = 3 * time.Second
	// MinTTL is the shortest lease accepted: etcd rounds leases to whole
	// seconds and raises very short ones to 1.5 election timeouts, and a
	// holder needs several keep-alives per TTL.
	MinTTL = 2 * time.Second
	// MaxTTL bounds how long a dead holder can keep a lock.
	MaxTTL = 10 * time.Minute
)

// Config is the [witness] table: how to reach etcd and how this node
// appears there.
type Config struct {
	// Endpoints are the etcd members' client URLs (http:// or https://).
	Endpoints []string `toml:"endpoints"`
	// Name is this node's name in etcd (default: the host name).
	Name string `toml:"name"`
	// Prefix is the key prefix of everything redund writes (default /redund/).
	Prefix string `toml:"prefix"`
	// TTL is the lease's time to live (default 3s): how long the others
	// wait for a node that stopped answering.
	TTL config.Duration `toml:"ttl"`

	// CAFile verifies the members' certificates (https endpoints);
	// CertFile and KeyFile are this node's client certificate, when etcd
	// requires one (--client-cert-auth).
	CAFile   string `toml:"ca_file"`
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// Username and Password log in to etcd when its auth is enabled.
	// Also password_file / password_env.
	Username string        `toml:"username"`
	Password config.Secret `toml:"password"`
}

// nameRe is what a node, lock or topic name may look like: it becomes one
// segment of an etcd key, so it has no slash.
var nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// Validate checks the table; paths are relative to it.
func (c *Config) Validate() error {
	var errs config.Errors
	c.validateEndpoints(&errs)
	if c.Name != "" && !nameRe.MatchString(c.Name) {
		errs.Add("name", "%q: use letters, digits, '.', '_', ':' or '-' (at most 128, no '/')", c.Name)
	}
	if c.Prefix != "" {
		if err := checkPrefix(c.Prefix); err != nil {
			errs.Add("prefix", "%v", err)
		}
	}
	if err := checkTTL(c.TTL.D()); err != nil {
		errs.Add("ttl", "%v", err)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		if c.CertFile == "" {
			errs.Add("cert_file", "required with key_file")
		} else {
			errs.Add("key_file", "required with cert_file")
		}
	}
	if (c.Username == "") != (c.Password == "") {
		if c.Username == "" {
			errs.Add("username", "required with password")
		} else {
			errs.Add("password", "required with username (or password_file / password_env)")
		}
	}
	return errs.Err()
}

func (c *Config) validateEndpoints(errs *config.Errors) {
	if len(c.Endpoints) == 0 {
		errs.Add("endpoints", "at least one etcd member is required, e.g. [\"http://127.0.0.1:2379\"]")
		return
	}
	tls := c.CAFile != "" || c.CertFile != ""
	for i, ep := range c.Endpoints {
		u, err := url.Parse(ep)
		switch {
		case err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil:
			errs.Add(config.Index("endpoints", i), "%q is not an etcd client URL (http://host:port or https://host:port)", ep)
		case u.Scheme != "http" && u.Scheme != "https":
			errs.Add(config.Index("endpoints", i), "%q: use http:// or https://", ep)
		case u.Port() == "":
			errs.Add(config.Index("endpoints", i), "%q: give the port (etcd's client port is usually 2379)", ep)
		case u.Scheme == "http" && tls:
			errs.Add(config.Index("endpoints", i), "%q is plain http, but ca_file or cert_file is set: use https://", ep)
		}
	}
}

func checkPrefix(p string) error {
	switch {
	case !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/"):
		return fmt.Errorf("%q must start and end with '/' (e.g. \"/redund/\")", p)
	case strings.Contains(p, "//"):
		return fmt.Errorf("%q has an empty segment ('//')", p)
	case strings.ContainsFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fmt.Errorf("%q has spaces or control characters", p)
	}
	return nil
}

func checkTTL(d time.Duration) error {
	switch {
	case d == 0:
		return nil
	case d < MinTTL:
		return fmt.Errorf("%s is too short: at least %s (etcd rounds leases to seconds and a holder renews several times per TTL)", d, MinTTL)
	case d > MaxTTL:
		return fmt.Errorf("%s is too long: at most %s (a dead holder keeps the lock that long)", d, MaxTTL)
	case d%time.Second != 0:
		return fmt.Errorf("%s: etcd leases count whole seconds (e.g. \"3s\")", d)
	}
	return nil
}

// SetDefaults fills in every key the table leaves unset (zero): prefix and
// ttl. The config loader calls it once after decoding, before Validate;
// New calls it on its copy for a Config built in code. name stays unset:
// New takes the host name (nodeName), which can fail with its own message.
func (c *Config) SetDefaults() {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.TTL == 0 {
		c.TTL = config.Duration(DefaultTTL)
	}
}

// nodeName is Name, or the host name (its first label when the full name
// is not a valid node name).
func (c *Config) nodeName() (string, error) {
	if c.Name != "" {
		return c.Name, nil
	}
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("name: not set and no host name: %w", err)
	}
	if !nameRe.MatchString(h) {
		h, _, _ = strings.Cut(h, ".")
	}
	if !nameRe.MatchString(h) {
		return "", fmt.Errorf("name: not set, and the host name %q is not a valid node name", h)
	}
	return h, nil
}
