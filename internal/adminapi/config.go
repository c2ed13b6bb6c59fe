package adminapi

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/redund/redund/internal/config"
)

// Config is the [admin] table: where daemons serve their status.
// Each daemon listens on its own key when set, else on Listen.
type Config struct {
	Listen    string        `toml:"listen"`    // default 127.0.0.1:9180
	Voter     string        `toml:"voter"`     // `redund voter serve`
	Ddns      string        `toml:"ddns"`      // `redund ddns run`
	Gateway   string        `toml:"gateway"`   // `redund gateway run`
	Schedsync string        `toml:"schedsync"` // `redund schedsync run`
	Token     config.Secret `toml:"token"`     // required for POST endpoints off loopback
	// AllowedHosts are host names (no port) by which browsers may reach the
	// admin listeners and gateway's client listener, besides IP addresses,
	// localhost and the host of the listen address (see Guard).
	AllowedHosts []string `toml:"allowed_hosts"`
	// SocketDir, when set, is where every daemon also serves its admin API
	// on a Unix socket, <socket_dir>/<daemon>.sock, and where the CLI asks
	// it instead of over TCP (see Endpoint and SocketTrust).
	SocketDir string `toml:"socket_dir"`
	// SocketUser is the user the daemons run as, whose sockets the CLI
	// trusts besides root's and its own (default DefaultSocketUser).
	SocketUser string `toml:"socket_user"`
	// SocketGroup is given the sockets (0660): its members connect, and
	// may do on the socket what the token allows.
	SocketGroup string `toml:"socket_group"`
}

// For returns the listen address of daemon (voter, ddns, gateway,
// schedsync), or Off when it has no TCP listener.
func (a Config) For(daemon string) string {
	var v string
	switch daemon {
	case "voter":
		v = a.Voter
	case "ddns":
		v = a.Ddns
	case "gateway":
		v = a.Gateway
	case "schedsync":
		v = a.Schedsync
	}
	if v != "" {
		return v
	}
	if a.Listen != "" {
		return a.Listen
	}
	return DefaultAddr
}

// Addresses returns every distinct admin address the config names (Off
// left out).
func (a Config) Addresses() []string {
	seen := map[string]bool{Off: true}
	var out []string
	for _, d := range []string{"voter", "ddns", "gateway", "schedsync"} {
		if addr := a.For(d); !seen[addr] {
			seen[addr] = true
			out = append(out, addr)
		}
	}
	return out
}

// maxSocketPath is the longest path a Unix socket may have on Linux
// (sun_path, 108 bytes with the terminating NUL).
const maxSocketPath = 107

// MinTokenLen is the shortest [admin] token accepted (as for the pair
// links' secrets).
const MinTokenLen = 16

// Validate checks the addresses and the token's length, reporting problems
// in the table's key order.
func (a Config) Validate() error {
	var errs config.Errors
	for _, kv := range [][2]string{{"listen", a.Listen}, {"voter", a.Voter}, {"ddns", a.Ddns},
		{"gateway", a.Gateway}, {"schedsync", a.Schedsync}} {
		switch {
		case kv[1] == Off && a.SocketDir == "":
			errs.Add(kv[0], "\"off\" needs [admin] socket_dir: without a TCP listener the daemon serves its "+
				"admin API (status, metrics, actions) on its admin socket only")
		case kv[1] != "" && kv[1] != Off:
			if err := config.CheckHostPort(kv[1]); err != nil {
				errs.Add(kv[0], "%v (or \"off\" for no TCP listener, with socket_dir)", err)
			}
		}
	}
	if a.Token != "" && len(a.Token.Reveal()) < MinTokenLen {
		errs.Add("token", "must have at least %d characters: every guess costs one request, so a short token "+
			"can be found over the network (e.g. openssl rand -base64 24)", MinTokenLen)
	}
	if a.SocketDir != "" {
		switch longest := SocketPath(a.SocketDir, "schedsync"); {
		case !filepath.IsAbs(a.SocketDir) || filepath.Clean(a.SocketDir) != a.SocketDir:
			errs.Add("socket_dir", "must be a clean absolute path (e.g. /run/redund), not %q", a.SocketDir)
		case len(longest) > maxSocketPath:
			errs.Add("socket_dir", "too long: %s has %d bytes, a Unix socket's path at most %d", longest, len(longest),
				maxSocketPath)
		}
	}
	for _, kv := range [][2]string{{"socket_user", a.SocketUser}, {"socket_group", a.SocketGroup}} {
		if kv[1] != "" && strings.TrimFunc(kv[1], isNameRune) != "" {
			errs.Add(kv[0], "%q is not a user or group name (letters, digits, - and _)", kv[1])
		}
	}
	for i, h := range a.AllowedHosts {
		if err := checkHostName(h); err != nil {
			errs.Add(config.Index("allowed_hosts", i), "%v", err)
		}
	}
	return errs.Err()
}

// checkHostName accepts a DNS name or an IP address, without port or scheme.
func checkHostName(h string) error {
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return nil
	}
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%q is not a host name", h)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.TrimFunc(label, isNameRune) != "" {
			return fmt.Errorf("%q is not a host name (give the name alone: no port, scheme or path)", h)
		}
	}
	return nil
}

func isNameRune(r rune) bool {
	return r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}
