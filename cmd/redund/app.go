package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// globalOptions are the flags every command shares.
type globalOptions struct {
	ConfigPath string
	LogLevel   string
	LogFormat  string
}

const exitStatusHelp = `EXIT STATUS
   0  success
   1  a check failed or drift was found
   2  bad usage or bad configuration`

// exitHelp is the EXIT STATUS section of a command whose 0 and 1 mean
// something more precise than exitStatusHelp says.
func exitHelp(ok, failed string) string {
	return "EXIT STATUS\n   0  " + ok + "\n   1  " + failed + "\n   2  bad usage or bad configuration"
}

func newApp() *cli.App {
	g := &globalOptions{}
	app := &cli.App{
		Name:  "redund",
		Usage: "redundancy schemes for repeaters, SIP, schedulers, web services and gateways",
		Description: "One binary, one config file, one status view. Each command group runs one\n" +
			"scheme; `redund status` shows every running instance.\n\n" + exitStatusHelp,
		Version:              version,
		EnableBashCompletion: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config", Aliases: []string{"c"}, Value: "/etc/redund/redund.toml",
				EnvVars: []string{"REDUND_CONFIG"}, Usage: "config file", Destination: &g.ConfigPath},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error",
				EnvVars: []string{"REDUND_LOG_LEVEL"}, Destination: &g.LogLevel},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "text or json",
				EnvVars: []string{"REDUND_LOG_FORMAT"}, Destination: &g.LogFormat},
		},
		Commands: []*cli.Command{
			newVersionCommand(),
			newConfigCommand(g),
			newCheckCommand(),
			newStatusCommand(g),
			newVoterCommand(g),
			newSchedsyncCommand(g),
			newSrvCommand(g),
			newDdnsCommand(g),
			newGatewayCommand(g),
			newDemoCommand(),
			newManCommand(),
			newCompletionCommand(),
		},
		OnUsageError:   usageError,
		Action:         unknownCommand,
		ExitErrHandler: func(*cli.Context, error) {}, // main maps exit codes
		Writer:         os.Stdout,
		ErrWriter:      os.Stderr,
	}
	setUsageErrors(app.Commands)
	return app
}

// setUsageErrors makes flag errors of every subcommand, and an unknown
// subcommand of every group, exit 2.
func setUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		if c.OnUsageError == nil {
			c.OnUsageError = usageError
		}
		if c.Action == nil && len(c.Subcommands) > 0 {
			c.Action = unknownCommand
		}
		setUsageErrors(c.Subcommands)
	}
}

func usageError(_ *cli.Context, err error, _ bool) error { return usageErr("%v", err) }

// unknownCommand is the Action of the app and of every command group: it
// shows the help, or with an argument (not one of the group's commands)
// exits 2 saying so.
func unknownCommand(c *cli.Context) error {
	p := commandPath(c)
	switch {
	case c.NArg() > 0 && p != "":
		return usageErr("%s: unknown command %q (see redund %s --help)", p, c.Args().First(), p)
	case c.NArg() > 0:
		return usageErr("unknown command %q (see redund --help)", c.Args().First())
	case p != "":
		return cli.ShowSubcommandHelp(c)
	}
	return cli.ShowAppHelp(c)
}

// withArgs is the Action of a command that takes min to max positional
// arguments (max < 0: no limit): any other number is a usage error (exit 2)
// before fn runs.
func withArgs(min, max int, fn cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if n := c.NArg(); n < min || (max >= 0 && n > max) {
			return usageErr("%s: wrong number of arguments (see --help)", commandPath(c))
		}
		return fn(c)
	}
}

// commandPath names the running command with its groups ("gateway config
// set"); urfave/cli's FullName gives only the last word here.
func commandPath(c *cli.Context) string {
	var names []string
	for _, x := range c.Lineage() { // this command, its groups, the app
		if x.Command != nil && x.Command.Name != "" {
			names = append([]string{x.Command.Name}, names...)
		}
	}
	if len(names) > 0 && names[0] == c.App.Name {
		names = names[1:]
	}
	return strings.Join(names, " ")
}

// printJSON writes v to stdout as indented JSON (the --json output of
// every command).
func printJSON(c *cli.Context, v any) error {
	enc := json.NewEncoder(c.App.Writer)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printf(c *cli.Context, format string, args ...any) {
	fmt.Fprintf(c.App.Writer, format, args...)
}
