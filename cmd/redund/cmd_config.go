package main

import (
	"errors"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/redund/redund/internal/config"
)

const configCheckExitHelp = "EXIT STATUS\n   0  the file is valid (ok is printed)\n" +
	"   2  it is not, or cannot be read (every problem is printed)"

func newConfigCommand(g *globalOptions) *cli.Command {
	return &cli.Command{
		Name:  "config",
		Usage: "work with the configuration file",
		Description: "One TOML file configures every scheme: [voter.NAME], [schedsync], [srv],\n" +
			"[ddns.NAME], [gateway], [admin] (default /etc/redund/redund.toml; --config or\n" +
			"REDUND_CONFIG to change it). Secrets may be given as KEY_file or KEY_env.\n" +
			"See docs/configuration.md.\n\n" + groupExitHelp,
		Subcommands: []*cli.Command{{
			Name:      "check",
			Usage:     "validate the whole config file and print ok or every problem",
			ArgsUsage: "[FILE]",
			Description: "Reads FILE (default: --config) strictly: unknown keys, wrong types, bad\n" +
				"values and missing secret files are all reported, each with file, line\n" +
				"and key path. A secret every user may read (the file holding it inline,\n" +
				"or its KEY_file, open to others) is a warning: ok still follows. So is a\n" +
				"note naming an HTTP check that does not set redirects, or a TCP check\n" +
				"whose expect is part of its send (docs/check.md).\n\n" + configCheckExitHelp,
			Action: withArgs(0, 1, func(c *cli.Context) error {
				path := g.ConfigPath
				if c.NArg() == 1 {
					path = c.Args().First()
				}
				return runConfigCheck(c, path)
			}),
		}},
	}
}

func runConfigCheck(c *cli.Context, path string) error {
	cfg, err := loadConfig(path)
	var errs config.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			printf(c, "%s\n", e)
		}
		return &exitError{code: exitUsage}
	}
	if err != nil {
		return err
	}
	for _, w := range config.Exposed(path, &fileConfig{}) {
		printf(c, "warning: %s\n", w)
	}
	for _, n := range checkNotes(path, cfg) {
		printf(c, "note: %s\n", n)
	}
	printf(c, "ok\n")
	return nil
}

// maxNotesPerKind is how many checks one kind of note names one by one;
// beyond it, one note names the first and counts the rest, so a config
// with thousands of servers does not bury its errors and warnings.
const maxNotesPerKind = 3

// checkNotes are the notes on health checks that are valid but may not do
// what their author thinks (only ddns has checks):
//   - an HTTP check that does not set redirects: since that key came, it
//     no longer follows a redirect to another host (docs/check.md,
//     "Upgrading");
//   - a TCP check whose expect is part of what it sends: anything that
//     echoes (a proxy, a half-open service, an echo port) passes it.
func checkNotes(path string, f *fileConfig) config.Errors {
	type kindOf struct {
		text  string
		paths []string
	}
	redirects := kindOf{text: "redirects not set: a redirect to another host than the url's is no longer followed " +
		"(redirects = \"same-host\", the default now); set redirects = \"follow\" to follow it as before, " +
		"or \"same-host\" to say so"}
	echo := kindOf{text: "expect is part of send: anything that echoes what it gets (a proxy, an echo service) " +
		"passes this check; expect a part of the service's own answer (e.g. send \"PING\\r\\n\", expect \"+PONG\")"}
	for _, name := range slices.Sorted(maps.Keys(f.Ddns)) {
		for i, s := range f.Ddns[name].Servers {
			c := s.Check
			if c == nil {
				continue
			}
			at := config.Index("ddns."+name+".servers", i) + ".check"
			switch {
			case c.Kind == "http" && c.Redirects == "":
				redirects.paths = append(redirects.paths, at)
			case c.Kind == "tcp" && c.Expect != "" && strings.Contains(c.Send, c.Expect):
				echo.paths = append(echo.paths, at)
			}
		}
	}
	var notes config.Errors
	for _, k := range []kindOf{redirects, echo} {
		for n, at := range k.paths {
			switch {
			case n < maxNotesPerKind || len(k.paths) == maxNotesPerKind+1:
				notes.Add(at, "%s", k.text)
			case n == maxNotesPerKind:
				notes.Add(at, "and %d more checks after it: the same note", len(k.paths)-n)
			}
		}
	}
	src, err := os.ReadFile(path)
	if len(notes) == 0 || err != nil {
		return notes
	}
	var out config.Errors
	out.Merge("", config.Annotate(path, string(src), notes))
	return out
}
