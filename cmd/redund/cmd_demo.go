package main

import (
	"os"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/urfave/cli/v2"

	"github.com/redund/redund/internal/demo"
)

type demoOptions struct {
	Duration time.Duration
	Plain    bool
	Once     bool
	Keep     bool
}

func newDemoCommand() *cli.Command {
	o := &demoOptions{}
	return &cli.Command{
		Name:  "demo",
		Usage: "run every scheme on loopback and fail them on purpose",
		Description: "Needs nothing but this binary and no configuration. Starts, on 127.0.0.1:\n" +
			"a VOTER primary and secondary with simulated clients, a ddns scheme with\n" +
			"three web servers (okerr's cat pattern) against an embedded authoritative\n" +
			"DNS server that takes RFC 2136 updates, a schedsync pair over temporary\n" +
			"directories, a gateway pair, and prints SRV records for a sample SIP\n" +
			"platform. Then it injects failures on a schedule and shows the status view\n" +
			"with a line per event: what failed over and how long it took.\n" +
			"Ctrl-C stops everything and removes what it created.\n\n" +
			"EXAMPLES\n   redund demo\n   redund demo --plain --once   # for logs and CI: exit 1 if a promise broke\n\n" +
			exitHelp("the schedule played (or Ctrl-C) and every promise was kept",
				"a scheme could not start or a failover did not happen within its limit"),
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "duration", Usage: "stop after this long (0: until Ctrl-C)", Destination: &o.Duration},
			&cli.BoolFlag{Name: "plain", Usage: "print events as lines instead of redrawing the view", Destination: &o.Plain},
			&cli.BoolFlag{Name: "once", Usage: "exit when the failure schedule has played (exit 1 if a promise was broken)", Destination: &o.Once},
			&cli.BoolFlag{Name: "keep", Usage: "keep the scratch directory (configs, logs, data) for inspection", Destination: &o.Keep},
		},
		Action: func(c *cli.Context) error { return runDemo(c, o) },
	}
}

func runDemo(c *cli.Context, o *demoOptions) error {
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "redund-demo-")
	if err != nil {
		return err
	}
	if o.Keep {
		printf(c, "scratch directory: %s\n", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	// NO_COLOR means no colour, not no live view
	plain := o.Plain || !term.IsTerminal(os.Stdout.Fd())
	width, _, _ := term.GetSize(os.Stdout.Fd())
	err = demo.Run(c.Context, demo.Options{Bin: bin, Dir: dir, Out: c.App.Writer, Plain: plain,
		NoColor:  os.Getenv("NO_COLOR") != "",
		Duration: o.Duration, Once: o.Once, Width: width})
	if err != nil {
		return failed(err)
	}
	return nil
}
