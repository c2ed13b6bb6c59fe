package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"slices"

	"github.com/redund/redund/ddns"
	"github.com/redund/redund/gateway"
	"github.com/redund/redund/internal/adminapi"
	"github.com/redund/redund/internal/config"
	"github.com/redund/redund/internal/witness"
	"github.com/redund/redund/schedsync"
	"github.com/redund/redund/srv"
	"github.com/redund/redund/voter"
)

// fileConfig is the whole redund.toml: one table per command group.
type fileConfig struct {
	Admin     adminapi.Config          `toml:"admin"`
	Voter     map[string]*voter.Config `toml:"voter"`
	Srv       *srv.Config              `toml:"srv"`
	Ddns      map[string]*ddns.Config  `toml:"ddns"`
	Gateway   *gateway.Config          `toml:"gateway"`
	Schedsync *schedsync.Config        `toml:"schedsync"`
	Witness   *witness.Config          `toml:"witness"`
}

// SetDefaults fills in the defaults of every table (config.Defaulter: the
// loader calls it after decoding, before Validate).
func (f *fileConfig) SetDefaults() {
	for _, c := range f.Voter {
		c.SetDefaults()
	}
	if f.Srv != nil {
		f.Srv.SetDefaults()
	}
	for _, c := range f.Ddns {
		c.SetDefaults()
	}
	if f.Gateway != nil {
		f.Gateway.SetDefaults()
	}
	if f.Schedsync != nil {
		f.Schedsync.SetDefaults()
	}
	if f.Witness != nil {
		f.Witness.SetDefaults()
	}
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
		if f.Ddns[name].Witness && f.Witness == nil {
			errs.Add("ddns."+name+".witness", "needs a [witness] table (the etcd members the deciders share)")
		}
	}
	clashes := ddns.Clashes(f.Ddns)
	for _, key := range slices.Sorted(maps.Keys(clashes)) {
		errs.Add("ddns."+key, "%s", clashes[key])
	}
	if f.Gateway != nil {
		errs.Merge("gateway", f.Gateway.Validate())
		if f.Gateway.Witness && f.Witness == nil {
			errs.Add("gateway.witness", "needs a [witness] table (the etcd members; see docs/witness.md)")
		}
	}
	if f.Schedsync != nil {
		errs.Merge("schedsync", f.Schedsync.Validate())
		if f.Schedsync.Witness && f.Witness == nil {
			errs.Add("schedsync.witness", "needs a [witness] table (the etcd members; see docs/witness.md)")
		}
	}
	if f.Witness != nil {
		errs.Merge("witness", f.Witness.Validate())
	}
	return errs.Err()
}

// ddnsWitness is the witness the ddns schemes of the file take part in:
// nil when none has witness = true.
func (f *fileConfig) ddnsWitness(log *slog.Logger) (*witness.Witness, error) {
	if f.Witness == nil {
		return nil, nil
	}
	for _, c := range f.Ddns {
		if c.Witness {
			return witness.New(*f.Witness, log)
		}
	}
	return nil, nil
}

// statusAddresses is where `redund status` asks: the admin address of each
// daemon the file configures (its scheme's table) or names in [admin]
// (voter = "..."), without repeats. A file that configures no daemon at all
// gives [admin] listen (or the default), as before; otherwise an address no
// daemon of the file would serve on is not asked, so it cannot show a red
// "unreachable" row forever.
func (f *fileConfig) statusAddresses() []string {
	runs := f.runningDaemons()
	var out []string
	for _, d := range []string{"voter", "ddns", "gateway", "schedsync"} {
		if addr := f.Admin.Endpoint(d); runs[d] && !slices.Contains(out, addr) {
			out = append(out, addr)
		}
	}
	if len(out) == 0 {
		out = append(out, f.Admin.Endpoint("voter")) // its socket, listen, or the default
	}
	return out
}

// statusDaemons is which daemons the file runs at each address of
// statusAddresses: an address that two daemons share is held by one of
// them, and status must say the other one is not there rather than show
// the first one's rows only; and an instance of the file that its daemon
// does not report (the file changed since the daemon read it) must not
// vanish either.
func (f *fileConfig) statusDaemons() map[string][]expectedDaemon {
	out := map[string][]expectedDaemon{}
	for _, d := range []string{"voter", "ddns", "gateway", "schedsync"} {
		if !f.runningDaemons()[d] {
			continue
		}
		e := expectedDaemon{Name: daemonName(d), Scheme: d}
		switch d { // gateway and schedsync name their one instance after the node
		case "voter":
			e.Instances = slices.Sorted(maps.Keys(f.Voter))
		case "ddns":
			e.Instances = slices.Sorted(maps.Keys(f.Ddns))
		}
		addr := f.Admin.Endpoint(d)
		out[addr] = append(out[addr], e)
	}
	return out
}

// expectedDaemon is a daemon the config runs and the instances it names.
type expectedDaemon struct {
	Name      string // as in its status report: "voter serve", "ddns run"
	Scheme    string
	Instances []string
}

// runningDaemons says, for each daemon, whether the file runs it (its
// scheme's table, or its own [admin] address).
func (f *fileConfig) runningDaemons() map[string]bool {
	return map[string]bool{
		"voter": len(f.Voter) > 0 || f.Admin.Voter != "", "ddns": len(f.Ddns) > 0 || f.Admin.Ddns != "",
		"gateway": f.Gateway != nil || f.Admin.Gateway != "", "schedsync": f.Schedsync != nil || f.Admin.Schedsync != "",
	}
}

// daemonName is the name a daemon gives in its status report.
// adminNeighbours are the daemons the file runs other than self (as
// daemonName names them), with their admin addresses: the index of self's
// admin listener lists them, so that a daemon configured on the same
// address (which cannot listen there) is not simply missing.
func (f *fileConfig) adminNeighbours(self string) []adminapi.Neighbour {
	runs := f.runningDaemons()
	var out []adminapi.Neighbour
	for _, k := range []string{"voter", "ddns", "gateway", "schedsync"} {
		if runs[k] && daemonName(k) != self {
			out = append(out, adminapi.Neighbour{Daemon: daemonName(k), Key: k, Addr: f.Admin.For(k)})
		}
	}
	return out
}

func daemonName(scheme string) string {
	if scheme == "voter" {
		return "voter serve"
	}
	return scheme + " run"
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

// loadConfigNoSecrets is loadConfig for a command that uses no secret:
// a secret whose K_env variable is unset or whose K_file cannot be read is
// not a problem for it (every other problem still is).
func loadConfigNoSecrets(path string) (*fileConfig, error) {
	f := &fileConfig{}
	err := config.Check(path, f)
	var errs config.Errors
	if errors.As(err, &errs) {
		err = errs.WithoutUnresolvedSecrets().Err()
	}
	if err != nil {
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
// --admin flag) if given, else the config's admin socket for daemon when
// [admin] socket_dir is set (never TCP then: see adminapi.Config.Endpoint),
// else its [admin] address; with the config's [admin] token and the users
// whose admin sockets it trusts. Given addr, the config file may be absent.
// Target.Daemon is left to the caller.
func adminTarget(g *globalOptions, addr, daemon string) (adminapi.Target, error) {
	if addr == adminapi.Off { // the run command's value, given to a client of it: the config's socket
		addr = ""
	}
	cfg, err := loadConfigOrNone(g.ConfigPath, addr != "")
	if err != nil || cfg == nil {
		return adminapi.Target{Endpoint: addr}, err
	}
	trust, err := cfg.Admin.SocketTrust()
	if err != nil {
		return adminapi.Target{}, usageErr("%v", err)
	}
	ep := addr
	if ep == "" {
		ep = cfg.Admin.Endpoint(daemon)
	}
	return adminapi.Target{Endpoint: ep, Token: cfg.Admin.Token, Trust: trust}, nil
}

// adminAddr is flag (an --admin flag) if given, else the [admin] address
// of daemon.
func (f *fileConfig) adminAddr(flag, daemon string) string {
	if flag != "" {
		return flag
	}
	return f.Admin.For(daemon)
}
