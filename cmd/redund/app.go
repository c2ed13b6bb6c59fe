package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/xrash/smetrics"

	"github.com/redund/redund/internal/logging"
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

// groupExitHelp is the EXIT STATUS section of a command group, whose
// commands mean different things by 1 (a daemon that failed, a daemon that
// refused, a check that found drift).
const groupExitHelp = "EXIT STATUS\n   0 and 1 mean what each command's --help says; 2 is always bad usage or\n" +
	"   bad configuration"

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
		Before:         func(*cli.Context) error { return checkLogFlags(g) },
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

// checkLogFlags refuses a bad --log-level or --log-format for every
// command alike (`status` accepted what the daemons refused).
func checkLogFlags(g *globalOptions) error {
	if _, err := logging.New(io.Discard, g.LogLevel, g.LogFormat, nil); err != nil {
		return usageErr("%v", err)
	}
	return nil
}

// usageError makes a flag error exit 2, with the nearest flag when one is
// close ("flag provided but not defined: -jsn; did you mean --json?").
func usageError(c *cli.Context, err error, _ bool) error {
	const undefined = "flag provided but not defined: -"
	if name, ok := strings.CutPrefix(err.Error(), undefined); ok && c != nil {
		name = strings.TrimLeft(name, "-")
		if c.Command != nil && c.Command.Name != "" && slices.ContainsFunc(c.App.Flags, func(f cli.Flag) bool {
			return slices.Contains(f.Names(), name)
		}) {
			// urfave/cli takes redund's own options only before the command
			return usageErr("%v: %s is an option of redund itself: give it before the command (redund %s ... %s)",
				err, dashes(name), dashes(name), strings.TrimPrefix(c.Command.HelpName, c.App.Name+" "))
		}
		var names []string
		flags := c.App.Flags
		if c.Command != nil && c.Command.Name != "" {
			flags = append(c.Command.Flags, flags...)
		}
		for _, f := range flags {
			names = append(names, f.Names()...)
		}
		if s := suggest(name, names); s != "" {
			return usageErr("%v; did you mean %s?", err, dashes(s))
		}
	}
	return usageErr("%v", err)
}

func dashes(flag string) string {
	if len(flag) == 1 {
		return "-" + flag
	}
	return "--" + flag
}

// suggest returns the candidate nearest to what the user typed, or "" when
// none is near enough to be what they meant (Jaro-Winkler, as urfave/cli's
// own suggestions, with a floor so that nonsense gets no guess).
func suggest(typed string, candidates []string) string {
	best, score := "", 0.85
	for _, c := range candidates {
		if s := smetrics.JaroWinkler(typed, c, 0.7, 4); s >= score {
			best, score = c, s
		}
	}
	return best
}

// unknownCommand is the Action of the app and of every command group: it
// shows the help, or with an argument (not one of the group's commands)
// exits 2 saying so.
func unknownCommand(c *cli.Context) error {
	p := commandPath(c)
	var hint string
	if c.NArg() > 0 {
		cmds := c.App.Commands
		if c.Command != nil && c.Command.Name != "" {
			cmds = c.Command.Subcommands
		}
		var names []string
		for _, cmd := range cmds {
			names = append(names, cmd.Names()...)
		}
		if s := suggest(c.Args().First(), names); s != "" {
			hint = fmt.Sprintf("; did you mean %q?", s)
		}
	}
	switch {
	case c.NArg() > 0 && p != "":
		return usageErr("%s: unknown command %q%s (see redund %s --help)", p, c.Args().First(), hint, p)
	case c.NArg() > 0:
		return usageErr("unknown command %q%s (see redund --help)", c.Args().First(), hint)
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
