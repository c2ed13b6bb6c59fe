package main

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/redund/redund/ddns"
	"github.com/redund/redund/internal/witness"
)

type ddnsOptions struct {
	JSON         bool
	SkipProvider bool
	Admin        string
	Resolvers    cli.StringSlice
	NSPort       string
}

func newDdnsCommand(g *globalOptions) *cli.Command {
	o := &ddnsOptions{}
	return &cli.Command{
		Name:  "ddns",
		Usage: "health-checked DNS failover (okerr's scheme)",
		Description: "Each [ddns.<scheme>] table names one DNS name and its servers with priority,\n" +
			"address and health check. The name points at the highest-priority server that\n" +
			"is OK and not in maintenance; the provider (rfc2136, cloudflare, he) is updated\n" +
			"only when that differs from what it has. See docs/ddns.md.\n\n" + groupExitHelp,
		Subcommands: []*cli.Command{
			ddnsRunCommand(g, o), ddnsPlanCommand(g, o), ddnsMaintenanceCommand(g, o), ddnsPropagationCommand(g, o),
		},
	}
}

func ddnsRunCommand(g *globalOptions, o *ddnsOptions) *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "run every ddns scheme: check servers, update DNS, serve status",
		Description: "Probes every server, logs every decision with its reason, pushes changes to\n" +
			"the provider with retries, and serves status, /metrics and\n" +
			"POST /v1/ddns/maintenance on the [admin] ddns address. Stops on SIGINT/SIGTERM.\n\n" +
			"EXAMPLE\n   redund --config /etc/redund/redund.toml ddns run\n\n" + daemonExitHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "admin", Destination: &o.Admin, Usage: "admin (status/metrics/maintenance) address, overrides [admin] ddns; off: no TCP listener, its [admin] socket_dir socket only"},
		},
		Action: withArgs(0, 0, func(c *cli.Context) error { return runDdns(c.Context, g, o.Admin) }),
	}
}

func runDdns(ctx context.Context, g *globalOptions, admin string) error {
	cfg, err := loadConfig(g.ConfigPath)
	if err != nil {
		return err
	}
	if len(cfg.Ddns) == 0 {
		return usageErr("ddns run: the config has no [ddns.<scheme>] table")
	}
	d, err := newDaemon(g, "ddns run")
	if err != nil {
		return err
	}
	w, err := cfg.ddnsWitness(d.Log)
	if err != nil {
		return usageErr("%v", err)
	}
	dd, err := ddns.New(cfg.Ddns, ddns.Options{Log: d.Log, Witness: w})
	if err != nil {
		return usageErr("%v", err)
	}
	return serve(ctx, d, dd, cfg, cfg.adminAddr(admin, "ddns"), func(f *fileConfig) map[string]*ddns.Config { return f.Ddns })
}

func ddnsPlanCommand(g *globalOptions, o *ddnsOptions) *cli.Command {
	return &cli.Command{
		Name:      "plan",
		Usage:     "one evaluation pass without pushing: where each scheme would point and why",
		ArgsUsage: "[SCHEME...]",
		Description: "Runs every check once (one result decides, no rise/fall), applies maintenance\n" +
			"from the config and the state files, reads the provider's current value and\n" +
			"prints the decision, its reason and whether a push would happen.\n\n" +
			"EXAMPLES\n   redund ddns plan\n   redund ddns plan --json cat | jq '.[0].decision'\n\n" +
			exitHelp("the plan was made (whatever it says)", "a check or provider could not be set up"),
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Destination: &o.JSON, Usage: "print the plan as JSON"},
			&cli.BoolFlag{Name: "no-provider", Destination: &o.SkipProvider, Usage: "do not read the provider's value"},
		},
		Action: func(c *cli.Context) error { return runDdnsPlan(c, g, o) },
	}
}

func runDdnsPlan(c *cli.Context, g *globalOptions, o *ddnsOptions) error {
	schemes, err := ddnsSchemes(g, c.Args().Slice())
	if err != nil {
		return err
	}
	po := ddns.PlanOptions{SkipProvider: o.SkipProvider}
	if ddns.UsesWitness(schemes) {
		stop, err := planWitness(c.Context, g, &po)
		if err != nil {
			return failed(err)
		}
		defer stop()
	}
	res, err := ddns.Plan(c.Context, schemes, po)
	if err != nil {
		return failed(err)
	}
	if o.JSON {
		return printJSON(c, res)
	}
	ddns.WritePlan(c.App.Writer, res)
	return nil
}

// planWitness runs a short-lived witness (a lease, no lock, nothing
// published) for plan to read the deciders' views; stop ends it and waits.
func planWitness(ctx context.Context, g *globalOptions, po *ddns.PlanOptions) (stop func(), err error) {
	cfg, err := loadConfig(g.ConfigPath)
	if err != nil || cfg.Witness == nil {
		return func() {}, err
	}
	w, err := witness.New(*cfg.Witness, nil)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(ctx) }()
	po.Witness = w
	return func() { w.Close(); <-done }, nil
}

// ddnsSchemes loads the config and keeps the named schemes (all when none).
func ddnsSchemes(g *globalOptions, names []string) (map[string]*ddns.Config, error) {
	cfg, err := loadConfig(g.ConfigPath)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		if len(cfg.Ddns) == 0 {
			return nil, usageErr("ddns: the config has no [ddns.<scheme>] table")
		}
		return cfg.Ddns, nil
	}
	out := map[string]*ddns.Config{}
	for _, n := range names {
		c, ok := cfg.Ddns[n]
		if !ok {
			return nil, usageErr("ddns: no scheme %q in %s (have %v)", n, g.ConfigPath, slices.Sorted(maps.Keys(cfg.Ddns)))
		}
		out[n] = c
	}
	return out, nil
}

func ddnsMaintenanceCommand(g *globalOptions, o *ddnsOptions) *cli.Command {
	return &cli.Command{
		Name:      "maintenance",
		Usage:     "put a server in or out of maintenance in the running daemon",
		ArgsUsage: "SCHEME SERVER on|off",
		Description: "Asks the running `redund ddns run` (its [admin] ddns address, or --admin) to\n" +
			"change maintenance; the daemon re-evaluates at once and keeps the setting in\n" +
			"its state_dir so that it survives a restart. A server in maintenance is never\n" +
			"chosen.\n\n" +
			"EXAMPLE\n   redund ddns maintenance cat main on\n\n" + clientExitHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "admin", Destination: &o.Admin, Usage: "admin address of the daemon, host:port or unix:/path of its socket (default: [admin] socket_dir, then [admin] ddns); the config file is then optional"},
		},
		Action: withArgs(3, 3, func(c *cli.Context) error { return runDdnsMaintenance(c, g, o) }),
	}
}

func runDdnsMaintenance(c *cli.Context, g *globalOptions, o *ddnsOptions) error {
	a := c.Args()
	var on bool
	switch a.Get(2) {
	case "on":
		on = true
	case "off":
	default:
		return usageErr("ddns maintenance: third argument must be on or off, not %q", a.Get(2))
	}
	t, err := adminTarget(g, o.Admin, "ddns")
	if err != nil {
		return err
	}
	req := ddns.MaintenanceRequest{Scheme: a.Get(0), Server: a.Get(1), On: on}
	t.Daemon = "ddns run"
	err = t.Call(c.Context, http.MethodPost, ddns.MaintenancePath, req, nil)
	if err != nil {
		return failed(fmt.Errorf("ddns: %w", err))
	}
	printf(c, "%s/%s maintenance %s\n", req.Scheme, req.Server, a.Get(2))
	return nil
}

func ddnsPropagationCommand(g *globalOptions, o *ddnsOptions) *cli.Command {
	return &cli.Command{
		Name:      "propagation",
		Usage:     "compare the provider's value with each authoritative NS and resolver",
		ArgsUsage: "SCHEME",
		Description: "Reads the value the provider has, finds the zone's authoritative servers (NS\n" +
			"lookup through the first resolver) and asks each of them and every configured\n" +
			"resolver for the name, then says whether each agrees.\n\n" +
			"EXAMPLE\n   redund ddns propagation cat --resolver 9.9.9.9 --resolver 1.1.1.1\n\n" +
			exitHelp("every server agrees", "some server disagrees or failed"),
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Destination: &o.JSON, Usage: "print the report as JSON"},
			&cli.StringSliceFlag{Name: "resolver", Destination: &o.Resolvers, Usage: "resolver to ask (host[:port]); repeatable; default: the scheme's resolvers"},
			&cli.StringFlag{Name: "ns-port", Value: "53", Destination: &o.NSPort, Usage: "port of the authoritative servers"},
		},
		Action: withArgs(1, 1, func(c *cli.Context) error { return runDdnsPropagation(c, g, o) }),
	}
}

func runDdnsPropagation(c *cli.Context, g *globalOptions, o *ddnsOptions) error {
	schemes, err := ddnsSchemes(g, c.Args().Slice())
	if err != nil {
		return err
	}
	name := c.Args().First()
	rep, err := ddns.Propagation(c.Context, name, schemes[name],
		ddns.PropagationOptions{Resolvers: o.Resolvers.Value(), NSPort: o.NSPort})
	if err != nil {
		return failed(err)
	}
	if o.JSON {
		err = printJSON(c, rep)
	} else {
		ddns.WritePropagation(c.App.Writer, rep)
	}
	if err == nil && !rep.AllAgree {
		return failed(nil)
	}
	return err
}
