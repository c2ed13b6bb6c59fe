// Package schedsync implements redund's schedsync scheme: an LTN
// Schedule-style primary/secondary sync of an application's data directory.
//
// The primary watches its directory (fsnotify plus a periodic full scan),
// keeps a manifest (path, size, mode, mtime, content hash) and a sequence-numbered
// change log, and serves both over an authenticated HTTP link. A secondary
// pulls the changes, fetches changed files (whole, or as an rsync-style delta
// for large files), writes each file atomically and durably, and reports one
// of Schedule's statuses: No redundancy, Connecting, Syncing, Synced, Not
// synced, Unavailable, Incompatible. A secondary-failover node becomes
// primary after failover_offset without its primary.
package schedsync

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/redund/redund/internal/config"
)

// Mode is how a node is configured (the mode key); a bad value is
// reported by Validate.
type Mode string

// Modes a node can be configured in.
const (
	ModePrimary           Mode = "primary"
	ModeSecondaryCopy     Mode = "secondary-copy"
	ModeSecondaryFailover Mode = "secondary-failover"
)

// String returns the mode as written in the config.
func (m Mode) String() string { return string(m) }

// Defaults for optional keys.
const (
	DefaultFailoverOffset = 60 * time.Second
	DefaultPeerTimeout    = 5 * time.Second
	DefaultScanInterval   = 60 * time.Second
	DefaultWorkers        = 4
	DefaultDeltaMinSize   = 1 << 20
	// DefaultConflictsKeep and DefaultConflictsMaxBytes bound
	// .redund/conflicts: the oldest entries are removed beyond them.
	DefaultConflictsKeep     = 10000
	DefaultConflictsMaxBytes = 1 << 30
	minSecretLen             = 16
)

// Config is the [schedsync] table.
type Config struct {
	Mode    Mode          `toml:"mode"`     // primary, secondary-copy, secondary-failover
	Dir     string        `toml:"dir"`      // the data directory
	Listen  string        `toml:"listen"`   // host:port of this node's sync endpoint
	Peer    string        `toml:"peer"`     // URL of the other node: http://host:port
	Secret  config.Secret `toml:"secret"`   // shared secret (HMAC), or secret_file / secret_env
	TLSCert string        `toml:"tls_cert"` // this node's certificate (PEM), with TLS
	TLSKey  string        `toml:"tls_key"`  // its key (PEM)
	// TLSPeerFingerprint is the SHA-256 of the peer's certificate (hex).
	TLSPeerFingerprint string          `toml:"tls_peer_fingerprint"`
	NodeID             string          `toml:"node_id"`         // default: the host name
	FailoverOffset     config.Duration `toml:"failover_offset"` // secondary-failover: promote after this long without the primary
	PeerTimeout        config.Duration `toml:"peer_timeout"`    // no contact for this long: peer Unavailable
	ScanInterval       config.Duration `toml:"scan_interval"`   // periodic full scan (catches what fsnotify misses)
	Exclude            []string        `toml:"exclude"`         // patterns: "*.tmp" (any depth), "cache/" (dirs), "logs/*.log" (from the root)
	Workers            int             `toml:"workers"`         // parallel transfers (default 4)
	DeltaMinSize       int64           `toml:"delta_min_size"`  // files at least this large are sent as deltas (default 1 MiB)
	// InPlace lets a secondary write a large file's small change in the
	// file itself, through a redo journal (default true); false keeps
	// every install a rename of a complete file (a reader of the
	// secondary's files never sees a mix of old and new blocks).
	InPlace   *bool    `toml:"in_place"`
	OnPromote []string `toml:"on_promote"` // command (argv) run after this node becomes primary
	OnDemote  []string `toml:"on_demote"`  // command (argv) run after this node stops being primary
	// PreserveSetid makes a secondary keep the setuid and setgid bits of the
	// primary's files and directories; by default they are dropped (a
	// primary must not be able to plant a setuid file on the secondary).
	PreserveSetid bool `toml:"preserve_setid"`
	// Witness makes the node take part in the [witness] (etcd): it
	// publishes changes only while it holds the lock "schedsync", and a
	// secondary promotes itself only once it holds it.
	Witness bool `toml:"witness"`
	// ConflictsKeep and ConflictsMaxBytes bound .redund/conflicts: at most
	// this many entries (one per file or directory moved aside) and bytes,
	// the oldest removed first; the newest entry is always kept.
	ConflictsKeep     int   `toml:"conflicts_keep"`
	ConflictsMaxBytes int64 `toml:"conflicts_max_bytes"`
}

// SetDefaults fills in every key the table leaves unset (zero): node_id
// (the host name), failover_offset, peer_timeout, scan_interval, workers,
// delta_min_size, in_place, conflicts_keep and conflicts_max_bytes. The config loader calls it once after decoding,
// before Validate; New calls it on its copy for a Config built in code.
func (c *Config) SetDefaults() {
	if c.NodeID == "" {
		c.NodeID, _ = os.Hostname()
	}
	if c.FailoverOffset == 0 {
		c.FailoverOffset = config.Duration(DefaultFailoverOffset)
	}
	if c.PeerTimeout == 0 {
		c.PeerTimeout = config.Duration(DefaultPeerTimeout)
	}
	if c.ScanInterval == 0 {
		c.ScanInterval = config.Duration(DefaultScanInterval)
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.DeltaMinSize == 0 {
		c.DeltaMinSize = DefaultDeltaMinSize
	}
	if c.InPlace == nil {
		inPlace := true
		c.InPlace = &inPlace
	}
	if c.ConflictsKeep == 0 {
		c.ConflictsKeep = DefaultConflictsKeep
	}
	if c.ConflictsMaxBytes == 0 {
		c.ConflictsMaxBytes = DefaultConflictsMaxBytes
	}
}

// Validate checks the table and returns every problem with its key path.
func (c *Config) Validate() error {
	var errs config.Errors
	switch c.Mode {
	case ModePrimary, ModeSecondaryCopy, ModeSecondaryFailover:
	case "":
		errs.Add("mode", "is required (primary, secondary-copy or secondary-failover)")
	default:
		errs.Add("mode", "%q is not primary, secondary-copy or secondary-failover", c.Mode)
	}
	if c.Dir == "" {
		errs.Add("dir", "is required")
	} else if !path.IsAbs(c.Dir) {
		errs.Add("dir", "%q must be an absolute path", c.Dir)
	}
	c.validateLink(&errs)
	for _, d := range []struct {
		key string
		v   config.Duration
	}{{"failover_offset", c.FailoverOffset}, {"peer_timeout", c.PeerTimeout}, {"scan_interval", c.ScanInterval}} {
		if d.v < 0 {
			errs.Add(d.key, "must not be negative")
		}
	}
	if c.ScanInterval > 0 && c.ScanInterval.D() < time.Second {
		errs.Add("scan_interval", "must be at least 1s")
	}
	if c.Workers < 0 || c.Workers > 64 {
		errs.Add("workers", "must be 0-64")
	}
	if c.DeltaMinSize < 0 {
		errs.Add("delta_min_size", "must not be negative")
	}
	if c.ConflictsKeep < 0 {
		errs.Add("conflicts_keep", "must not be negative")
	}
	if c.ConflictsMaxBytes < 0 {
		errs.Add("conflicts_max_bytes", "must not be negative")
	}
	for i, p := range c.Exclude {
		if err := checkPattern(p); err != nil {
			errs.Add(config.Index("exclude", i), "%v", err)
		}
	}
	return errs.Err()
}

func (c *Config) validateLink(errs *config.Errors) {
	if c.Listen != "" {
		if err := config.CheckHostPort(c.Listen); err != nil {
			errs.Add("listen", "%v", err)
		}
	} else if c.Mode != ModePrimary || c.Peer != "" {
		errs.Add("listen", "is required (the address the peer connects to)")
	}
	if c.Peer != "" {
		if err := checkPeerURL(c.Peer); err != nil {
			errs.Add("peer", "%v", err)
		} else if strings.HasPrefix(c.Peer, "https:") != c.usesTLS() {
			errs.Add("peer", "use https:// exactly when tls_cert is set")
		}
	} else if c.Mode == ModeSecondaryCopy || c.Mode == ModeSecondaryFailover {
		errs.Add("peer", "is required for a secondary (the primary's URL)")
	}
	// a primary without peer still serves its directory on listen
	linked := c.Peer != "" || c.Listen != ""
	if linked && c.Secret != "" && len(c.Secret.Reveal()) < minSecretLen {
		errs.Add("secret", "must have at least %d characters", minSecretLen)
	}
	if linked && c.Secret == "" && !c.usesTLS() {
		errs.Add("secret", "is required (or secret_file / secret_env, or tls_cert + tls_key + tls_peer_fingerprint)")
	}
	c.validateTLS(errs)
	if c.Mode == ModeSecondaryFailover && c.FailoverOffset > 0 && c.FailoverOffset.D() < time.Second {
		errs.Add("failover_offset", "must be at least 1s")
	}
}

func checkPeerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("%q: want http://host:port (https:// with TLS)", s)
	}
	return config.CheckHostPort(u.Host)
}
