package main

import (
	"errors"

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
				"or its KEY_file, open to others) is a warning: ok still follows.\n\n" + configCheckExitHelp,
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
	_, err := loadConfig(path)
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
	printf(c, "ok\n")
	return nil
}
