// Package voter implements redund's voter scheme: a VOTER protocol server
// that real VOTER clients (RTCM/VOTER boards) talk to unchanged. It votes
// their receive audio by RSSI, sends the voted audio out as an RTP (PCMU)
// stream, sends transmit audio from RTP to transmitting clients, and pairs
// two servers in chan_voter's primary/secondary "proxy" redundancy mode.
// It also holds the codec and a client simulator used by tests and the
// benchmark.
package voter

import (
	"fmt"
	"net"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/redund/redund/internal/config"
)

// Defaults from chan_voter.
const (
	DefaultPort   = 1667
	DefaultBuflen = 480 // ms
	DefaultLinger = 6   // frames
	DefaultGPSDir = "/tmp"
)

// Config is one [voter.<instance>] table. Its keys mirror voter.conf.
type Config struct {
	Listen     string                   `toml:"listen"`     // bindaddr:port, default 0.0.0.0:1667
	Password   config.Secret            `toml:"password"`   // [general] password (host password)
	Challenge  string                   `toml:"challenge"`  // fixed server challenge (default random)
	Buflen     int                      `toml:"buflen"`     // ms, default 480
	Linger     *int                     `toml:"linger"`     // frames, default 6; 0 = no linger
	Thresholds string                   `toml:"thresholds"` // "RSSI[=count[:linger]],..."
	HostDeemp  bool                     `toml:"hostdeemp"`
	PLFilter   bool                     `toml:"plfilter"` // high-pass the voted audio (CTCSS out)
	MixMinus   bool                     `toml:"mixminus"` // send each transmit client the other mix clients' audio
	Duplex     *bool                    `toml:"duplex"`   // default true (accepted, RTP is full duplex)
	Sanity     *bool                    `toml:"sanity"`   // default true
	IsPrimary  bool                     `toml:"isprimary"`
	Primary    config.Secret            `toml:"primary"`     // "IP[:port],password"
	RTPOut     string                   `toml:"rtp_out"`     // where voted PCMU RTP goes
	RTPIn      string                   `toml:"rtp_in"`      // where transmit PCMU RTP arrives
	RTPInFrom  []string                 `toml:"rtp_in_from"` // sources allowed on rtp_in (IPv4 addresses or prefixes); unset: any
	PuckIt     bool                     `toml:"puckit"`      // [general] puckit: follow GPS pucks that are whole seconds off
	GPSDir     string                   `toml:"gps_dir"`     // where gpsid files go (default /tmp, as chan_voter)
	Clients    map[string]*ClientConfig `toml:"clients"`
}

// ClientConfig is one client line of voter.conf: name = password,options.
type ClientConfig struct {
	Password   config.Secret `toml:"password"`
	Transmit   bool          `toml:"transmit"`
	Master     bool          `toml:"master"`
	ADPCM      bool          `toml:"adpcm"`
	NoDeemp    bool          `toml:"nodeemp"`
	NoPLFilter bool          `toml:"noplfilter"`
	Prio       int           `toml:"prio"`  // higher wins; -1 locks the client out
	GPSID      *string       `toml:"gpsid"` // set: write the client's GPS position to gps_dir (see GPSFile)
}

// GPSFile is the file chan_voter writes a gpsid client's position to:
// gps.dat for a bare gpsid, gps_<id>.dat for gpsid=<id>, in dir (the
// instance's gps_dir). ok is false without gpsid.
func (c *ClientConfig) GPSFile(dir string) (path string, ok bool) {
	if c.GPSID == nil {
		return "", false
	}
	name := "gps"
	if *c.GPSID != "" {
		name += "_" + *c.GPSID
	}
	return filepath.Join(dir, name+".dat"), true
}

// Threshold is one entry of `thresholds`.
type Threshold struct {
	RSSI   int
	Count  int // frames the winner may stay at this threshold (0 = unlimited)
	Linger int // frames to linger when it falls below every threshold
}

// SetDefaults fills in every key the table leaves unset: listen
// (0.0.0.0:1667), buflen (480 ms), linger (6 frames; an explicit 0 stays
// 0), duplex and sanity (true) and gps_dir (/tmp), as chan_voter has them.
// The config loader calls it once after decoding, before Validate; New and
// Reload call it on copies for configs built in code.
func (c *Config) SetDefaults() {
	if c.Listen == "" {
		c.Listen = fmt.Sprintf("0.0.0.0:%d", DefaultPort)
	}
	if c.Buflen == 0 {
		c.Buflen = DefaultBuflen
	}
	if c.Linger == nil {
		c.Linger = ptr(DefaultLinger)
	}
	if c.Duplex == nil {
		c.Duplex = ptr(true)
	}
	if c.Sanity == nil {
		c.Sanity = ptr(true)
	}
	if c.GPSDir == "" {
		c.GPSDir = DefaultGPSDir
	}
}

func ptr[T any](v T) *T { return &v }

// withDefaults returns defaulted copies of cfgs: the caller's configs are
// left as they are.
func withDefaults(cfgs map[string]*Config) map[string]*Config {
	out := make(map[string]*Config, len(cfgs))
	for name, c := range cfgs {
		if c == nil {
			out[name] = nil
			continue
		}
		cp := *c
		cp.SetDefaults()
		out[name] = &cp
	}
	return out
}

// BufBytes is the per-client buffer in bytes: buflen ms × 8, rounded down to
// a multiple of 320 (40 ms), at least 320.
func (c *Config) BufBytes() int {
	n := c.Buflen * 8
	n -= n % (2 * FrameLen)
	return max(n, 2*FrameLen)
}

// Role is an instance's part in chan_voter's redundancy; its text
// ("secondary") is what the status shows.
type Role string

// The roles.
const (
	RolePrimary    Role = "primary"    // isprimary: secondaries proxy their clients to it
	RoleSecondary  Role = "secondary"  // primary = ...: proxies to the primary while it is up
	RoleStandalone Role = "standalone" // neither
)

// String returns the role's name.
func (r Role) String() string { return string(r) }

// Role is the instance's role.
func (c *Config) Role() Role {
	switch {
	case c.IsPrimary:
		return RolePrimary
	case c.Primary != "":
		return RoleSecondary
	}
	return RoleStandalone
}

// ParseThresholds parses `thresholds` as chan_voter does.
func ParseThresholds(s string, linger int) ([]Threshold, error) {
	var out []Threshold
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		t := Threshold{Linger: linger}
		rssi, rest, hasCount := strings.Cut(f, "=")
		var err error
		if t.RSSI, err = strconv.Atoi(strings.TrimSpace(rssi)); err != nil || t.RSSI < 0 || t.RSSI > 255 {
			return nil, fmt.Errorf("%q: RSSI must be 0-255", f)
		}
		if hasCount {
			cnt, lg, hasLinger := strings.Cut(rest, ":")
			if cnt != "" {
				if t.Count, err = strconv.Atoi(cnt); err != nil || t.Count < 0 {
					return nil, fmt.Errorf("%q: count must be a number >= 0", f)
				}
			}
			if hasLinger && lg != "" {
				if t.Linger, err = strconv.Atoi(lg); err != nil || t.Linger < 0 {
					return nil, fmt.Errorf("%q: linger must be a number >= 0", f)
				}
			}
		}
		out = append(out, t)
	}
	if len(out) > 20 {
		return nil, fmt.Errorf("at most 20 thresholds")
	}
	return out, nil
}

// ListenPort is the port of listen (DefaultPort when unset or unparsable).
func (c *Config) ListenPort() int {
	_, p, err := net.SplitHostPort(c.Listen)
	if n, e := strconv.Atoi(p); err == nil && e == nil && n > 0 {
		return n
	}
	return DefaultPort
}

// PrimaryAddr splits the instance's `primary`; without a port it is the
// instance's own listen port, as in chan_voter.
func (c *Config) PrimaryAddr() (addr, password string, err error) {
	return ParsePrimary(c.Primary.Reveal(), c.ListenPort())
}

// ParsePrimary splits `primary = "IP[:port],password"`; an address
// without a port gets defaultPort.
func ParsePrimary(s string, defaultPort int) (addr, password string, err error) {
	host, pw, ok := strings.Cut(s, ",")
	if !ok || pw == "" {
		return "", "", fmt.Errorf("must be \"IP[:port],password\"")
	}
	host = strings.TrimSpace(host)
	if _, _, e := net.SplitHostPort(host); e != nil {
		host = net.JoinHostPort(host, strconv.Itoa(defaultPort))
	}
	h, _, _ := net.SplitHostPort(host)
	if ip := net.ParseIP(h); ip == nil || ip.To4() == nil {
		return "", "", fmt.Errorf("primary address must be an IPv4 address")
	}
	if err := config.CheckHostPort(host); err != nil {
		return "", "", err
	}
	return host, strings.TrimSpace(pw), nil
}

// ClientNames returns the client names in a stable order (config order is
// not kept by TOML maps; names sort).
func (c *Config) ClientNames() []string {
	names := make([]string, 0, len(c.Clients))
	for n := range c.Clients {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
