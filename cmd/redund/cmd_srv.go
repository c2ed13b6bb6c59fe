package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/redund/redund/internal/text"
	"github.com/redund/redund/srv"
)

type srvGenOptions struct {
	Format string
	Out    string
	Check  bool
}

type srvOrderOptions struct {
	Samples  int
	Seed     uint64
	Resolver string
	JSON     bool
}

type srvCheckOptions struct {
	Resolver   string
	Timeout    time.Duration
	NoProbe    bool
	AllowCache bool
	JSON       bool
}

type srvPushOptions struct {
	DryRun bool
}

func newSrvCommand(g *globalOptions) *cli.Command {
	return &cli.Command{
		Name:  "srv",
		Usage: "SRV + NAPTR failover records for SIP phones",
		Description: "Each zone of phones gets its own SRV names (_sip._udp.east.<domain>) listing\n" +
			"the media servers in that zone's order. The [srv] table is the source of truth:\n" +
			"gen writes the records, order explains them, check compares live DNS, push\n" +
			"applies the difference with RFC 2136. See docs/srv.md.\n\n" + exitStatusHelp,
		Subcommands: []*cli.Command{newSrvGenCommand(g), newSrvOrderCommand(g), newSrvCheckCommand(g), newSrvPushCommand(g)},
	}
}

func newSrvGenCommand(g *globalOptions) *cli.Command {
	o := &srvGenOptions{}
	return &cli.Command{
		Name:  "gen",
		Usage: "generate the records as a zone fragment, an nsupdate script or JSON",
		Description: "Writes every SRV (and NAPTR, and \".\") record of the [srv] table to stdout or\n" +
			"--out FILE. The output is byte-identical for the same config, so it can live in\n" +
			"Git. With --check, nothing is written: FILE is compared with what the config\n" +
			"generates and a unified diff is printed when they differ (a CI drift check).\n\n" +
			"EXAMPLES\n   redund srv gen --format zone --out zones/sip.inc\n" +
			"   redund srv gen --format zone --out zones/sip.inc --check\n\n" + exitStatusHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "zone", Usage: "zone, nsupdate or json", Destination: &o.Format},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "write to FILE (atomically) instead of stdout", Destination: &o.Out},
			&cli.BoolFlag{Name: "check", Usage: "compare --out FILE with the config instead of writing; exit 1 on drift", Destination: &o.Check},
		},
		Action: withArgs(0, 0, func(c *cli.Context) error { return runSrvGen(c, g, o) }),
	}
}

// loadSrv reads the config's [srv] table; with allowMissing, a config file
// that does not exist gives nil.
func loadSrv(g *globalOptions, allowMissing, needSecrets bool) (*srv.Config, error) {
	f, err := loadConfigOrNone(g.ConfigPath, allowMissing)
	if err != nil && !needSecrets {
		// gen, order and check use no secret: a CI drift check needs no TSIG key
		if f2, err2 := loadConfigNoSecrets(g.ConfigPath); err2 == nil {
			f, err = f2, nil
		}
	}
	if err != nil || f == nil {
		return nil, err
	}
	if f.Srv == nil {
		return nil, usageErr("%s has no [srv] table (see docs/srv.md)", g.ConfigPath)
	}
	return f.Srv, nil
}

func runSrvGen(c *cli.Context, g *globalOptions, o *srvGenOptions) error {
	if o.Check && o.Out == "" {
		return usageErr("srv gen: --check needs --out FILE to compare with")
	}
	cfg, err := loadSrv(g, false, false)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := srv.Write(&buf, o.Format, cfg, srv.Generate(cfg)); err != nil {
		return usageErr("%v", err)
	}
	switch {
	case o.Check:
		diff, err := srv.Drift(o.Out, buf.Bytes())
		if err != nil {
			return err
		}
		if _, err := os.Stat(o.Out); errors.Is(err, fs.ErrNotExist) {
			printf(c, "%s", diff)
			return failed(fmt.Errorf("srv gen: %s does not exist (run without --check to write it)", o.Out))
		}
		if diff != "" {
			printf(c, "%s", diff)
			return failed(fmt.Errorf("srv gen: %s differs from the config (run without --check to rewrite it)", o.Out))
		}
		printf(c, "ok: %s matches the config\n", o.Out)
		return nil
	case o.Out != "":
		return writeFileAtomic(o.Out, buf.Bytes())
	}
	_, err = c.App.Writer.Write(buf.Bytes())
	return err
}

// writeFileAtomic writes data to a temp file beside path and renames it
// over path, so a reader never sees half a file. It does not fsync: the
// file is derived from the config and `srv gen` rewrites it (an fsync of
// a large zone costs more than generating it).
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newSrvOrderCommand(g *globalOptions) *cli.Command {
	o := &srvOrderOptions{}
	return &cli.Command{
		Name:      "order",
		Usage:     "show the RFC 2782 order phones use for an SRV name or a zone",
		ArgsUsage: "NAME",
		Description: "NAME is an SRV name (_sip._udp.east.sip.example.com) or a zone of the config\n" +
			"(east: every transport). For each priority group (tried lowest first) it prints\n" +
			"each target's exact probability of being tried first within the group under\n" +
			"RFC 2782's weighted selection, and with --samples N the fraction seen in N\n" +
			"seeded random selections. Records come from the config, or from live DNS with\n" +
			"--resolver (then a full SRV name needs no config). Flags go before NAME.\n\n" +
			"EXAMPLES\n   redund srv order --samples 100000 east\n" +
			"   redund srv order --resolver 192.0.2.53:53 _sip._udp.west.sip.example.com\n\n" + exitStatusHelp,
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "samples", Aliases: []string{"n"}, Usage: "also run N random selections", Destination: &o.Samples},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the sampled run", Destination: &o.Seed},
			&cli.StringFlag{Name: "resolver", Usage: "read the records from DNS at ADDR (host:port) instead of the config", Destination: &o.Resolver},
			&cli.BoolFlag{Name: "json", Usage: "print JSON", Destination: &o.JSON},
		},
		Action: withArgs(1, 1, func(c *cli.Context) error { return runSrvOrder(c, g, o, c.Args().First()) }),
	}
}

func runSrvOrder(c *cli.Context, g *globalOptions, o *srvOrderOptions, name string) error {
	if o.Samples < 0 || o.Samples > 100_000_000 {
		return usageErr("srv order: --samples must be between 0 and 100000000")
	}
	// live records of a full SRV name need no config
	cfg, err := loadSrv(g, o.Resolver != "" && strings.HasPrefix(name, "_"), false)
	if err != nil {
		return err
	}
	opts := srv.OrderOptions{Resolver: o.Resolver, Samples: o.Samples, Seed: o.Seed, Timeout: srv.DefaultTimeout}
	if cfg != nil {
		opts.Timeout = cfg.Timeout.D()
	}
	sets, err := srv.Explain(c.Context, cfg, srv.OrderNames(cfg, name), opts)
	if err != nil {
		return failed(err)
	}
	if o.JSON {
		return printJSON(c, sets)
	}
	srv.WriteOrder(c.App.Writer, sets)
	return nil
}

func newSrvCheckCommand(g *globalOptions) *cli.Command {
	o := &srvCheckOptions{}
	return &cli.Command{
		Name:  "check",
		Usage: "compare published DNS with the config and probe the targets",
		Description: "Queries every SRV and NAPTR name of the config (concurrently) and reports every\n" +
			"difference: missing and extra records, wrong priority, weight or port. Each\n" +
			"target host must resolve (A/AAAA) and must not be a CNAME, and each published\n" +
			"port must answer: a TCP connect for tcp and tls, a SIP OPTIONS request for udp\n" +
			"(--no-probe skips the ports). The resolver is --resolver, else [srv] resolver,\n" +
			"else the [srv.push] server, else /etc/resolv.conf. A resolver that does not\n" +
			"answer within the timeout is an error (exit 1), not a hang. Answers without the\n" +
			"AA flag come from a cache, up to a TTL behind the zone: they do not verify what\n" +
			"is published, so the check exits 1 for them unless --allow-cache is given.\n\n" +
			"EXAMPLES\n   redund srv check --resolver ns1.example.com:53\n   redund srv check --no-probe --json\n\n" + exitStatusHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "resolver", Usage: "DNS server to ask (host:port)", Destination: &o.Resolver},
			&cli.DurationFlag{Name: "timeout", Usage: "per query and per probe", DefaultText: "[srv] timeout or 2s", Destination: &o.Timeout},
			&cli.BoolFlag{Name: "no-probe", Usage: "do not connect to the targets' ports", Destination: &o.NoProbe},
			&cli.BoolFlag{Name: "allow-cache", Usage: "pass on answers from a cache (not authoritative) that match the config", Destination: &o.AllowCache},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON", Destination: &o.JSON},
		},
		Action: withArgs(0, 0, func(c *cli.Context) error { return runSrvCheck(c, g, o) }),
	}
}

func runSrvCheck(c *cli.Context, g *globalOptions, o *srvCheckOptions) error {
	cfg, err := loadSrv(g, false, false)
	if err != nil {
		return err
	}
	rep, err := srv.Check(c.Context, cfg, srv.CheckOptions{Resolver: o.Resolver, Timeout: o.Timeout, Probe: !o.NoProbe, AllowCache: o.AllowCache})
	if err != nil {
		return failed(err)
	}
	if o.JSON {
		if err := printJSON(c, rep); err != nil {
			return err
		}
	} else {
		srv.WriteCheck(c.App.Writer, rep)
	}
	switch {
	case !rep.Matches():
		return failed(fmt.Errorf("srv check: %s from the config", text.Plural(len(rep.Findings), "difference")))
	case !rep.Verified():
		return failed(fmt.Errorf("srv check: not verified: %d of %s answered from a cache by %s (--allow-cache accepts them)",
			rep.NotAuthoritative, text.Plural(rep.RRSets, "RRset"), rep.Resolver))
	}
	return nil
}

func newSrvPushCommand(g *globalOptions) *cli.Command {
	o := &srvPushOptions{}
	return &cli.Command{
		Name:  "push",
		Usage: "apply the records to the primary with RFC 2136 + TSIG",
		Description: "Reads every generated RRset from the [srv.push] server, prints the plan (the\n" +
			"RRsets that differ, with records removed and added), then replaces only those\n" +
			"RRsets with TSIG-signed UPDATE messages (each applied atomically). Names that\n" +
			"are no longer in the config are not deleted. It then reads every replaced RRset\n" +
			"back from the primary and exits 1 if one is not as configured (a NOERROR is\n" +
			"not the records). --dry-run stops after the plan;\n" +
			"its queries are signed too, so it also proves the key.\n\n" +
			"EXAMPLES\n   redund srv push --dry-run\n   redund srv push\n\n" + exitStatusHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan only", Destination: &o.DryRun},
		},
		Action: withArgs(0, 0, func(c *cli.Context) error { return runSrvPush(c, g, o) }),
	}
}

func runSrvPush(c *cli.Context, g *globalOptions, o *srvPushOptions) error {
	cfg, err := loadSrv(g, false, true)
	if err != nil {
		return err
	}
	if cfg.Push == nil {
		return usageErr("srv push: no [srv.push] table in %s (server, zone, [srv.push.tsig])", g.ConfigPath)
	}
	cl := cfg.Push.Client(cfg.Domain)
	changes, total, err := srv.Plan(c.Context, cfg, cl, 0)
	if err != nil {
		return failed(err)
	}
	srv.WritePlan(c.App.Writer, cl, changes, total)
	if o.DryRun || len(changes) == 0 {
		return nil
	}
	if err := srv.Apply(c.Context, cl, changes); err != nil {
		return failed(err)
	}
	printf(c, "applied: %d RRsets replaced (the primary answered NOERROR)\n", len(changes))
	// NOERROR is the server taking the message, not holding the records
	rb, err := srv.ReadBack(c.Context, cl, changes, 0)
	if err != nil {
		return failed(fmt.Errorf("srv push: applied, but reading back from %s failed: %w", cl.Server, err))
	}
	srv.WriteReadBack(c.App.Writer, rb)
	if !rb.OK() {
		return failed(fmt.Errorf("srv push: %d of %s did not take at %s", len(rb.Findings), text.Plural(rb.Checked, "RRset"), cl.Server))
	}
	return nil
}
