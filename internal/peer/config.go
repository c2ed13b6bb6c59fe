package peer

import (
	"encoding/hex"
	"strings"
	"time"

	"github.com/redund/redund/internal/config"
)

// Defaults for the link settings (Ignition's are 1000 ms / 300 ms / 10, which
// cannot detect a dead peer within a 1 s failover_timeout).
const (
	DefaultPingInterval = 200 * time.Millisecond
	DefaultPingTimeout  = 300 * time.Millisecond
	DefaultMaxMissed    = 5
	DefaultMaxFrame     = 16 << 20
)

// Config is the TOML table describing how two nodes authenticate and watch
// each other. Schemes embed it (e.g. [gateway.link]).
type Config struct {
	// Secret enables HMAC challenge-response authentication and per-frame
	// MACs. Also secret_file / secret_env.
	Secret config.Secret `toml:"secret"`
	// TLSCert and TLSKey are this node's certificate and key (PEM files).
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// TLSPeerFingerprint is the SHA-256 of the peer's certificate (DER),
	// hex, colons allowed. Required with TLS.
	TLSPeerFingerprint string `toml:"tls_peer_fingerprint"`
	// Plain allows a link with neither secret nor TLS.
	Plain bool `toml:"plain"`

	PingInterval config.Duration `toml:"ping_interval"` // default 200ms
	PingTimeout  config.Duration `toml:"ping_timeout"`  // default 300ms
	MaxMissed    int             `toml:"max_missed"`    // default 5
}

// UsesTLS reports whether the link is wrapped in TLS.
func (c *Config) UsesTLS() bool { return c.TLSCert != "" || c.TLSKey != "" }

// Validate checks the table; paths are relative to it.
func (c *Config) Validate() error {
	var errs config.Errors
	if c.Secret == "" && !c.UsesTLS() && !c.Plain {
		errs.Add("secret", "the peer link needs a secret (or secret_file/secret_env), tls_cert+tls_key, or plain = true")
	}
	if c.Plain && (c.Secret != "" || c.UsesTLS()) {
		errs.Add("plain", "plain = true cannot be combined with secret or TLS")
	}
	if c.Secret != "" && len(c.Secret.Reveal()) < 16 {
		errs.Add("secret", "must be at least 16 characters")
	}
	if c.UsesTLS() {
		if c.TLSCert == "" {
			errs.Add("tls_cert", "required with tls_key")
		}
		if c.TLSKey == "" {
			errs.Add("tls_key", "required with tls_cert")
		}
		if _, err := ParseFingerprint(c.TLSPeerFingerprint); err != nil {
			errs.Add("tls_peer_fingerprint", "%v", err)
		}
	}
	if c.PingInterval < 0 {
		errs.Add("ping_interval", "must be > 0")
	}
	if c.PingTimeout < 0 {
		errs.Add("ping_timeout", "must be > 0")
	}
	if c.MaxMissed < 0 {
		errs.Add("max_missed", "must be >= 1")
	}
	return errs.Err()
}

// ParseFingerprint decodes a SHA-256 fingerprint written in hex, with or
// without colons.
func ParseFingerprint(s string) ([]byte, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	if s == "" {
		return nil, errString("required with TLS: the SHA-256 fingerprint of the peer's certificate (redund gateway fingerprint)")
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return nil, errString("must be 64 hex digits (SHA-256), colons allowed")
	}
	return b, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// SetDefaults fills in every key the table leaves unset (zero):
// ping_interval, ping_timeout and max_missed. The table that embeds it
// calls it from its own SetDefaults (once, after decoding); New calls it
// on its copy for a Config built in code.
func (c *Config) SetDefaults() {
	if c.PingInterval == 0 {
		c.PingInterval = config.Duration(DefaultPingInterval)
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = config.Duration(DefaultPingTimeout)
	}
	if c.MaxMissed == 0 {
		c.MaxMissed = DefaultMaxMissed
	}
}
