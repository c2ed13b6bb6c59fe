package main

import (
	"errors"
	"maps"
	"os"
	"slices"

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
				"note naming an HTTP check that does not set redirects (docs/check.md).\n\n" + configCheckExitHelp,
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
	for _, n := range redirectNotes(path, cfg) {
		printf(c, "note: %s\n", n)
	}
	printf(c, "ok\n")
	return nil
}

// redirectNotes names every HTTP check that does not set redirects: since
// that key came, such a check no longer follows a redirect to another host
// (docs/check.md, "Upgrading"). Only ddns has checks.
func redirectNotes(path string, f *fileConfig) config.Errors {
	var notes config.Errors
	for _, name := range slices.Sorted(maps.Keys(f.Ddns)) {
		for i, s := range f.Ddns[name].Servers {
			if s.Check != nil && s.Check.Kind == "http" && s.Check.Redirects == "" {
				notes.Add(config.Index("ddns."+name+".servers", i)+".check",
					"redirects not set: a redirect to another host than the url's is no longer followed "+
						"(redirects = \"same-host\", the default now); set redirects = \"follow\" to follow it as before, "+
						"or \"same-host\" to say so")
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
