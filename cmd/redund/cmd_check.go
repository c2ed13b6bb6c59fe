package main

import "github.com/urfave/cli/v2"

// newCheckCommand is a placeholder until internal/health lands.
func newCheckCommand(_ *globalOptions) *cli.Command {
	return &cli.Command{Name: "check", Usage: "run one health probe (http, tcp, dns, exec) and print the result"}
}
