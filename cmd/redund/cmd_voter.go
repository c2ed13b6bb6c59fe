package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/redund/redund/voter"
)

func newVoterCommand(g *globalOptions) *cli.Command {
	return &cli.Command{
		Name:  "voter",
		Usage: "VOTER server with redundant proxy mode",
		Description: "A VOTER protocol server that RTCM/VOTER boards talk to unchanged. It votes\n" +
			"their receive audio by RSSI, sends the voted audio as PCMU RTP, and pairs two\n" +
			"servers in chan_voter's primary/secondary proxy mode. See docs/voter.md.",
		Subcommands: []*cli.Command{newVoterServeCommand(g), newVoterClientCommand(), newVoterImportCommand(),
			newVoterPingCommand(g)},
	}
}

type voterServeOptions struct {
	Admin     string
	Record    string
	Instances cli.StringSlice
}

func newVoterServeCommand(g *globalOptions) *cli.Command {
	o := &voterServeOptions{}
	return &cli.Command{
		Name:  "serve",
		Usage: "run the [voter.<instance>] servers of the config file",
		Description: "Binds every instance's VOTER port (instances with the same listen address\n" +
			"share one socket and one master timing source, as in chan_voter), votes,\n" +
			"sends voted audio to rtp_out and transmit audio from rtp_in to the clients.\n" +
			"An instance with isprimary = true accepts clients proxied by a secondary; one\n" +
			"with primary = \"IP:port,password\" forwards its clients to that primary while\n" +
			"the link is up and serves them itself when it is not. Status and metrics are\n" +
			"on the admin address ([admin] voter, or --admin).\n\n" +
			"EXAMPLES\n" +
			"   redund voter serve\n" +
			"   redund -c /etc/redund/redund.toml voter serve --record /tmp/voted.wav\n\n" +
			daemonExitHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "admin", Destination: &o.Admin, Usage: "admin (status/metrics) address, overrides [admin]; off: no TCP listener, its [admin] socket_dir socket only"},
			&cli.StringFlag{Name: "record", Destination: &o.Record, Usage: "write the voted audio to this WAV file"},
			&cli.StringSliceFlag{Name: "instance", Destination: &o.Instances, Usage: "serve only this instance (repeatable)"},
		},
		Action: withArgs(0, 0, func(c *cli.Context) error { return runVoterServe(c.Context, g, o) }),
	}
}

func runVoterServe(ctx context.Context, g *globalOptions, o *voterServeOptions) error {
	f, err := loadConfig(g.ConfigPath)
	if err != nil {
		return err
	}
	cfgs := f.Voter
	if names := o.Instances.Value(); len(names) > 0 {
		cfgs = map[string]*voter.Config{}
		for _, n := range names {
			if f.Voter[n] == nil {
				return usageErr("no [voter.%s] in %s", n, g.ConfigPath)
			}
			cfgs[n] = f.Voter[n]
		}
	}
	if len(cfgs) == 0 {
		return usageErr("no [voter.<instance>] table in %s", g.ConfigPath)
	}
	d, err := newDaemon(g, "voter serve")
	if err != nil {
		return err
	}
	s, err := voter.New(cfgs, voter.Options{Log: d.Log, Record: o.Record})
	if err != nil {
		return usageErr("%v", err)
	}
	if len(o.Instances.Value()) > 0 { // a reload looks at the served instances and [admin] only
		d.Tables = append(instanceTables(cfgs), schemeTables("voter")[1:]...)
	}
	return serve(ctx, d, s, f, f.adminAddr(o.Admin, "voter"), func(f *fileConfig) map[string]*voter.Config { return f.Voter })
}

// instanceTables are the served instances' tables, sorted: voter.<name>.
func instanceTables(cfgs map[string]*voter.Config) []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(cfgs)) {
		out = append(out, "voter."+n)
	}
	return out
}

type voterClientOptions struct {
	voter.SimOptions
	Duration time.Duration
	JSON     bool
	// files holding the passwords (kept out of ps and shell history)
	PasswordFile, HostPasswordFile, MasterPasswordFile string
}

func newVoterClientCommand() *cli.Command {
	o := &voterClientOptions{}
	return &cli.Command{
		Name:  "client",
		Usage: "simulate one or many VOTER clients (test peer and load generator)",
		Description: "Authenticates like a VOTER board, sends 20 ms µ-law frames (a tone, a WAV\n" +
			"file or silence) with an RSSI pattern, optionally adds a master timing source,\n" +
			"and prints once a second what it sent and received.\n\n" +
			"EXAMPLES\n" +
			"   redund voter client --server 127.0.0.1:1667 --password alice --host-password pw \\\n" +
			"       --master-password gps --tone 1000 --rssi 200,180,0\n" +
			"   redund voter client --server 127.0.0.1:1667 --count 400 --password 'c%d' \\\n" +
			"       --host-password pw --duration 30s --json\n\n" +
			exitStatusHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "server", Value: "127.0.0.1:1667", Destination: &o.Server, Usage: "VOTER server host:port"},
			&cli.StringFlag{Name: "password", Destination: &o.Password, EnvVars: []string{"REDUND_VOTER_PASSWORD"},
				Usage: "client password (with --count > 1 a format with %d); required (or --password-file)"},
			&cli.StringFlag{Name: "password-file", Destination: &o.PasswordFile, Usage: "read --password from this file (first line)"},
			&cli.StringFlag{Name: "host-password", Destination: &o.HostPassword, EnvVars: []string{"REDUND_VOTER_HOST_PASSWORD"},
				Usage: "the server's [general] password; required (or --host-password-file)"},
			&cli.StringFlag{Name: "host-password-file", Destination: &o.HostPasswordFile, Usage: "read --host-password from this file (first line)"},
			&cli.IntFlag{Name: "count", Value: 1, Destination: &o.Count, Usage: "number of clients"},
			&cli.BoolFlag{Name: "mix", Destination: &o.Mix, Usage: "mix (general-purpose) mode instead of GPS timing"},
			&cli.StringFlag{Name: "master-password", Destination: &o.MasterPassword, EnvVars: []string{"REDUND_VOTER_MASTER_PASSWORD"},
				Usage: "also run a master timing source with this password"},
			&cli.StringFlag{Name: "master-password-file", Destination: &o.MasterPasswordFile, Usage: "read --master-password from this file (first line)"},
			&cli.StringFlag{Name: "rssi", Value: "200", Destination: &o.RSSI, Usage: "RSSI per frame, comma-separated, cycled"},
			&cli.Float64Flag{Name: "tone", Destination: &o.Tone, Usage: "send a sine tone of this frequency (Hz)"},
			&cli.StringFlag{Name: "wav", Destination: &o.WAV, Usage: "send this 8 kHz 16-bit mono WAV file (looped)"},
			&cli.BoolFlag{Name: "stamp", Destination: &o.Stamp, Usage: "put the send time in the first 8 audio bytes (benchmarks)"},
			&cli.DurationFlag{Name: "interval", Value: 20 * time.Millisecond, Destination: &o.Every, Usage: "frame interval per client (less than 20ms makes load)"},
			&cli.StringFlag{Name: "local", Value: "127.0.0.1", Destination: &o.Local, Usage: "local IP to send from"},
			&cli.StringFlag{Name: "server-challenge", Destination: &o.ServerChallenge,
				Usage: "send audio at once with digests for this server challenge (load through relays)"},
			&cli.BoolFlag{Name: "shared-socket", Destination: &o.SharedSocket, Usage: "send every client's packets from one UDP socket"},
			&cli.DurationFlag{Name: "duration", Destination: &o.Duration, Usage: "stop after this long (0: until interrupted)"},
			&cli.BoolFlag{Name: "json", Destination: &o.JSON, Usage: "print one JSON summary at the end instead of lines"},
		},
		Action: withArgs(0, 0, func(c *cli.Context) error { return runVoterClient(c.Context, o, c.App.Writer) }),
	}
}

func runVoterClient(ctx context.Context, o *voterClientOptions, w io.Writer) error {
	if err := o.readPasswordFiles(); err != nil {
		return err
	}
	if o.Password == "" || o.HostPassword == "" {
		return usageErr("voter client: --password and --host-password are required (see --help)")
	}
	if o.Count < 1 || o.Every <= 0 {
		return usageErr("voter client: --count must be at least 1 and --interval more than 0")
	}
	s, err := voter.NewSimFromOptions(o.SimOptions)
	if err != nil {
		return usageErr("%v", err)
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return failed(err)
			}
			return clientResult(s, o.JSON, w)
		case <-tick.C:
			if !o.JSON {
				fmt.Fprintln(w, s.Summary())
			}
		}
	}
}

// readPasswordFiles fills each password from its file, when one is given;
// a password given both ways is a usage error.
func (o *voterClientOptions) readPasswordFiles() error {
	for _, f := range []struct {
		flag, path string
		dst        *string
	}{
		{"password", o.PasswordFile, &o.Password},
		{"host-password", o.HostPasswordFile, &o.HostPassword},
		{"master-password", o.MasterPasswordFile, &o.MasterPassword},
	} {
		if f.path == "" {
			continue
		}
		if *f.dst != "" {
			return usageErr("voter client: --%s and --%s-file both given", f.flag, f.flag)
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return usageErr("voter client: --%s-file: %v", f.flag, err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if *f.dst = strings.TrimSuffix(line, "\r"); *f.dst == "" {
			return usageErr("voter client: --%s-file %s: empty first line", f.flag, f.path)
		}
	}
	return nil
}

// clientResult prints the final summary and fails (exit 1) when a client
// did not authenticate: a wrong password, a wrong host password, no server.
func clientResult(s *voter.Sim, asJSON bool, w io.Writer) error {
	if asJSON {
		if err := json.NewEncoder(w).Encode(s.Status()); err != nil {
			return failed(err)
		}
	} else {
		fmt.Fprintln(w, s.Summary())
	}
	if bad, all := s.NotConnected(); bad > 0 {
		return failed(fmt.Errorf("voter client: %d of %d clients did not authenticate", bad, all))
	}
	return nil
}

func newVoterImportCommand() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "convert a chan_voter voter.conf to [voter.<instance>] TOML",
		ArgsUsage: "voter.conf",
		Description: "Reads voter.conf ([general] plus one section per instance) and prints the\n" +
			"equivalent redund TOML on stdout. Keys redund does not use are listed as\n" +
			"comments so nothing is lost silently.\n\n" +
			"EXAMPLES\n" +
			"   redund voter import /etc/asterisk/voter.conf >> /etc/redund/redund.toml\n\n" +
			exitStatusHelp,
		Action: withArgs(1, 1, func(c *cli.Context) error {
			src, err := os.ReadFile(c.Args().First())
			if err != nil {
				return usageErr("%v", err)
			}
			out, err := voter.ImportConf(c.Args().First(), string(src))
			if err != nil {
				return usageErr("%v", err)
			}
			printf(c, "%s", out)
			return nil
		}),
	}
}
