// Package gateway implements redund's gateway scheme, modelled on Ignition
// gateway redundancy: a master and a backup node, configuration made on the
// master and replicated to the backup, runtime state mirrored from the
// active node, history stored and forwarded without loss or duplicates,
// a supervised application and a client listener that follows the active
// node.
package gateway

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/peer"
)

// Mode is a node's configured part in the pair (the mode key); a bad value
// is reported by Validate.
type Mode string

// The modes.
const (
	ModeMaster      Mode = "master"
	ModeBackup      Mode = "backup"
	ModeIndependent Mode = "independent"
)

// String returns the mode as written in the config.
func (m Mode) String() string { return string(m) }

// Recovery, standby and history settings.
const (
	RecoveryAutomatic = "automatic"
	RecoveryManual    = "manual"

	StandbyCold = "cold"
	StandbyWarm = "warm"

	HistoryPartial = "partial"
	HistoryFull    = "full"
)

// Defaults.
const (
	DefaultFailoverTimeout = time.Second
	DefaultJoinWait        = 30 * time.Second
	DefaultDiskCache       = ByteSize(100 << 20)
	DefaultDataDir         = "/var/lib/redund/gateway"
)

// Config is the [gateway] table.
type Config struct {
	NodeID string `toml:"node_id"` // default: the host name
	Mode   Mode   `toml:"mode"`    // master | backup | independent
	// Peer is the master's peer address, dialed by the backup.
	Peer string `toml:"peer"`
	// PeerListen is where the master accepts the backup (default :8088).
	PeerListen      string          `toml:"peer_listen"`
	FailoverTimeout config.Duration `toml:"failover_timeout"` // default 1s
	JoinWait        config.Duration `toml:"join_wait"`        // default 30s
	Recovery        string          `toml:"recovery"`         // automatic | manual
	Standby         string          `toml:"standby"`          // cold | warm
	History         string          `toml:"history"`          // partial | full
	DiskCache       ByteSize        `toml:"disk_cache"`       // retained config/state log, default 100MB
	DataDir         string          `toml:"data_dir"`
	// HistoryDSN selects the history store: empty for SQLite in data_dir,
	// "sqlite:/path/file.db", or a postgres:// DSN (a database both nodes
	// may share). Also history_dsn_file / history_dsn_env.
	HistoryDSN config.Secret `toml:"history_dsn"`

	// ClientListen is the client failover listener; AppURL the application
	// it forwards to; ClientURL the URL clients use to reach this node
	// (sent to the peer so its standby can redirect here).
	ClientListen string `toml:"client_listen"`
	AppURL       string `toml:"app_url"`
	ClientURL    string `toml:"client_url"`

	// Run is the supervised application command; OnActive, OnStandby and
	// OnFault are hooks run on role changes (like keepalived notify).
	Run       []string `toml:"run"`
	OnActive  []string `toml:"on_active"`
	OnStandby []string `toml:"on_standby"`
	OnFault   []string `toml:"on_fault"`

	// Witness makes the node active only while it holds the gateway's lock
	// in the etcd witness (the [witness] table; docs/gateway.md, Witness).
	Witness bool `toml:"witness"`

	Link peer.Config `toml:"link"`
}

// Validate checks the table; paths are relative to it.
func (c *Config) Validate() error {
	var errs config.Errors
	switch c.Mode {
	case ModeMaster, ModeBackup:
		errs.Merge("link", c.Link.Validate())
	case ModeIndependent:
	case "":
		errs.Add("mode", "required: master, backup or independent")
	default:
		errs.Add("mode", "%q: use master, backup or independent", c.Mode)
	}
	if c.Mode == ModeBackup && c.Peer == "" {
		errs.Add("peer", "required on the backup: the master's peer address (host:port)")
	}
	for k, v := range map[string]string{"peer": c.Peer, "peer_listen": c.PeerListen, "client_listen": c.ClientListen} {
		if v != "" {
			if err := config.CheckHostPort(v); err != nil {
				errs.Add(k, "%v", err)
			}
		}
	}
	oneOf(&errs, "recovery", c.Recovery, RecoveryAutomatic, RecoveryManual)
	oneOf(&errs, "standby", c.Standby, StandbyCold, StandbyWarm)
	oneOf(&errs, "history", c.History, HistoryPartial, HistoryFull)
	if c.FailoverTimeout < 0 || (c.FailoverTimeout > 0 && c.FailoverTimeout.D() < 100*time.Millisecond) {
		errs.Add("failover_timeout", "must be at least 100ms")
	}
	if c.JoinWait < 0 {
		errs.Add("join_wait", "must not be negative")
	}
	if c.DiskCache < 0 || (c.DiskCache > 0 && c.DiskCache < 64<<10) {
		errs.Add("disk_cache", "must be at least 64KB")
	}
	if c.ClientListen != "" && c.AppURL == "" {
		errs.Add("app_url", "required with client_listen: the application's URL on this node")
	} else if c.AppURL != "" {
		if u, err := url.Parse(c.AppURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// found only by Run otherwise: after READY=1, in a restart loop
			errs.Add("app_url", "%q is not an http:// or https:// URL with a host (e.g. http://127.0.0.1:8080)", c.AppURL)
		}
	}
	if dsn := c.HistoryDSN.Reveal(); dsn != "" && !strings.HasPrefix(dsn, "sqlite:") && !isPostgres(dsn) {
		errs.Add("history_dsn", "use sqlite:<path> or a postgres:// DSN")
	}
	return errs.Err()
}

func oneOf(errs *config.Errors, key, v string, allowed ...string) {
	if v == "" {
		return
	}
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	errs.Add(key, "%q: use %s", v, strings.Join(allowed, " or "))
}

// SetDefaults fills in every key the table leaves unset (zero). The config
// loader calls it once after decoding, before Validate; New calls it on its
// copy for a Config built in code.
func (c *Config) SetDefaults() {
	if c.NodeID == "" {
		c.NodeID, _ = os.Hostname()
	}
	if c.Mode == ModeMaster && c.PeerListen == "" {
		c.PeerListen = ":8088"
	}
	if c.FailoverTimeout == 0 {
		c.FailoverTimeout = config.Duration(DefaultFailoverTimeout)
	}
	if c.JoinWait == 0 {
		c.JoinWait = config.Duration(DefaultJoinWait)
	}
	c.Recovery = or(c.Recovery, RecoveryAutomatic)
	c.Standby = or(c.Standby, StandbyCold)
	c.History = or(c.History, HistoryPartial)
	if c.DiskCache == 0 {
		c.DiskCache = DefaultDiskCache
	}
	c.DataDir = or(c.DataDir, DefaultDataDir)
	c.Link.SetDefaults()
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// ByteSize is a size written in TOML as "100MB", "512KB", "1GB" or bytes.
type ByteSize int64

// UnmarshalText parses a size with an optional KB/MB/GB suffix (powers of 1024).
func (b *ByteSize) UnmarshalText(t []byte) error {
	s := strings.ToUpper(strings.TrimSpace(string(t)))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suf)), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("invalid size %q (use e.g. \"100MB\", \"512KB\")", string(t))
	}
	*b = ByteSize(n * mult)
	return nil
}

// MarshalText writes the size in the largest exact unit.
func (b ByteSize) MarshalText() ([]byte, error) {
	for _, u := range []struct {
		suf string
		m   int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}} {
		if int64(b) >= u.m && int64(b)%u.m == 0 {
			return []byte(strconv.FormatInt(int64(b)/u.m, 10) + u.suf), nil
		}
	}
	return []byte(strconv.FormatInt(int64(b), 10)), nil
}
