package status

import "github.com/redund/redund/internal/config"

// AdminConfig is the [admin] table: where daemons serve their status.
// Each daemon listens on its own key when set, else on Listen.
type AdminConfig struct {
	Listen    string        `toml:"listen"`    // default 127.0.0.1:9180
	Voter     string        `toml:"voter"`     // `redund voter serve`
	Ddns      string        `toml:"ddns"`      // `redund ddns run`
	Gateway   string        `toml:"gateway"`   // `redund gateway run`
	Schedsync string        `toml:"schedsync"` // `redund schedsync run`
	Token     config.Secret `toml:"token"`     // required for POST endpoints off loopback
}

// For returns the listen address of daemon (voter, ddns, gateway, schedsync).
func (a AdminConfig) For(daemon string) string {
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
	return DefaultAdmin
}

// Addresses returns every distinct admin address the config names.
func (a AdminConfig) Addresses() []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range []string{"voter", "ddns", "gateway", "schedsync"} {
		if addr := a.For(d); !seen[addr] {
			seen[addr] = true
			out = append(out, addr)
		}
	}
	return out
}

// Validate checks the addresses, reporting problems in the table's key order.
func (a AdminConfig) Validate() error {
	var errs config.Errors
	for _, kv := range [][2]string{{"listen", a.Listen}, {"voter", a.Voter}, {"ddns", a.Ddns},
		{"gateway", a.Gateway}, {"schedsync", a.Schedsync}} {
		if kv[1] != "" {
			if err := config.CheckHostPort(kv[1]); err != nil {
				errs.Add(kv[0], "%v", err)
			}
		}
	}
	return errs.Err()
}
