package main

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"slices"

	"github.com/redund/redund/ddns"
	"github.com/redund/redund/gateway"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/status"
	"github.com/redund/redund/internal/witness"
	"github.com/redund/redund/schedsync"
	"github.com/redund/redund/srv"
	"github.com/redund/redund/voter"
)

// fileConfig is the whole redund.toml: one table per command group.
type fileConfig struct {
	Admin     status.AdminConfig       `toml:"admin"`
	Voter     map[string]*voter.Config `toml:"voter"`
	Srv       *srv.Config              `toml:"srv"`
	Ddns      map[string]*ddns.Config  `toml:"ddns"`
	Gateway   *gateway.Config          `toml:"gateway"`
	Schedsync *schedsync.Config        `toml:"schedsync"`
	Witness   *witness.Config          `toml:"witness"`
}

// Validate checks every table and returns every problem found.
func (f *fileConfig) Validate() error {
	var errs config.Errors
	errs.Merge("admin", f.Admin.Validate())
	for _, name := range slices.Sorted(maps.Keys(f.Voter)) {
		errs.Merge("voter."+name, f.Voter[name].Validate())
	}
	if f.Srv != nil {
		errs.Merge("srv", f.Srv.Validate())
	}
	for _, name := range slices.Sorted(maps.Keys(f.Ddns)) {
		errs.Merge("ddns."+name, f.Ddns[name].Validate())
	}
	if f.Gateway != nil {
		errs.Merge("gateway", f.Gateway.Validate())
	}
	if f.Schedsync != nil {
		errs.Merge("schedsync", f.Schedsync.Validate())
	}
	if f.Witness != nil {
		errs.Merge("witness", f.Witness.Validate())
	}
	return errs.Err()
}

// loadConfig reads and validates the config file; every problem is a
// config.Errors (exit 2) naming file, line and key.
func loadConfig(path string) (*fileConfig, error) {
	f := &fileConfig{}
	if err := config.Check(path, f); err != nil {
		return nil, err
	}
	return f, nil
}

// loadConfigOrNone is loadConfig for a command that can do without the
// file when the flags name what it needs (--endpoint, --admin, --resolver):
// with allowMissing, a file that does not exist gives nil and no error. A
// file that exists is always read and validated.
func loadConfigOrNone(path string, allowMissing bool) (*fileConfig, error) {
	f, err := loadConfig(path)
	if err != nil && allowMissing {
		if _, serr := os.Stat(path); errors.Is(serr, fs.ErrNotExist) {
			return nil, nil
		}
	}
	return f, err
}

// adminTarget is where a client command reaches a running daemon: addr (its
// --admin flag) if given, else the config's [admin] address for daemon, with
// the config's [admin] token. Given addr, the config file may be absent.
func adminTarget(g *globalOptions, addr, daemon string) (string, config.Secret, error) {
	cfg, err := loadConfigOrNone(g.ConfigPath, addr != "")
	if err != nil || cfg == nil {
		return addr, "", err
	}
	return cfg.adminAddr(addr, daemon), cfg.Admin.Token, nil
}

// adminAddr is flag (an --admin flag) if given, else the [admin] address
// of daemon.
func (f *fileConfig) adminAddr(flag, daemon string) string {
	if flag != "" {
		return flag
	}
	return f.Admin.For(daemon)
}
